"""The portal every test module of ckan_ext runs against: lgsp's plugins, schema and publisher, a clean
database and search index per test. One list, so the modules cannot drift apart in how CKAN is set up."""

from __future__ import annotations

import pytest

PLUGINS = "lgsp scheming_datasets dcat"

PORTAL = [
    pytest.mark.ckan_config("ckan.plugins", PLUGINS),
    pytest.mark.ckan_config("scheming.dataset_schemas", "ckanext.lgsp:schemas/dataset.yaml"),
    pytest.mark.ckan_config("scheming.presets",
                            "ckanext.scheming:presets.json ckanext.lgsp:schemas/presets.yaml"),
    pytest.mark.ckan_config("ckanext.lgsp.publisher_user", "lgsp_publisher"),
    pytest.mark.usefixtures("with_plugins", "clean_db", "clean_index"),
]
