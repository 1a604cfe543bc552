"""WSGI entry point for gunicorn: the ckan wheel ships none. CKAN_INI names the config file."""

import os

from ckan.config.middleware import make_app
from ckan.cli import CKANConfigLoader

config = CKANConfigLoader(os.environ["CKAN_INI"]).get_config()
application = make_app(config)
