"""Helpers shared by tests, simulators and the demo (real servers on 127.0.0.1, never mocks)."""
