"""The operator and auditor console at `/console`: server-rendered pages over the same functions as the APIs.

Modules: `models` (accounts, sessions), `passwords`, `roles` (who may do what), `accounts` (local users with
lockout), `sessions` (server-side, cookie holds only a random id), `oidc` (single sign-on, code + PKCE),
`web` (rendering, CSRF, audit of every action), `queries` (what the pages show), `pages_*` (routes), `app`.
"""
