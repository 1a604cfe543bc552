"""Client authentication: OAuth2 client credentials, ES256 JWT access tokens, key rotation."""
