"""WSGI entry point for gunicorn: the ckan wheel ships none. CKAN_INI names the config file."""

import os

from ckan.cli import CKANConfigLoader
from ckan.config.middleware import make_app

config = CKANConfigLoader(os.environ["CKAN_INI"]).get_config()
application = make_app(config)
