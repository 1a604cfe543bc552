"""Adapters to external systems; each subpackage has a client and a simulator."""
