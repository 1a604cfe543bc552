"""The gateway: one exchange's journey from client to provider (see `pipeline.py`)."""
