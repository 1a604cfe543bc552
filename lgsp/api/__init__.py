"""HTTP APIs other than the gateway path: OAuth2, admin, audit, health, metrics."""
