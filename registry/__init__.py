"""Service registry: agencies, systems, services, grants (deny by default)."""
