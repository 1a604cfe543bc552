"""Service registry: agencies, systems, services, grants (deny by default), limits, open datasets.

Like ``signing``, it depends on nothing of ours but the two bottom modules every layer may use
(``lgsp.safexml``, ``lgsp.agency_ids``): it owns its tables and their declarative base (:mod:`registry.base`),
the dataset spec (:mod:`registry.dataset_spec`) and the declared traffic policy (:mod:`registry.traffic_policy`),
and what it needs from its caller (how a transaction takes the write lock, where WSDL files live) is passed in.
tests/core/test_registry_shape.py keeps it that way.
"""
