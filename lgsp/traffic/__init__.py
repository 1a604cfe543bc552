"""Traffic policy: rate limits (GCRA), calendar quotas and concurrency limits per client system and service.

`policy` holds the declared limits and the window arithmetic, `decision` the one admission rule shared by
the in-memory and store backends, `backends` where counters live (memory, SQLite/PostgreSQL, Redis) and
`limiter` the gateway stage that turns a verdict into headers or a 429/503.
"""
