"""Where traffic counters live.

- ``memory``: a dict in the gateway process. Exact for one process; with N processes or nodes each keeps its
  own counters, so up to N times a limit is admitted. For a single `lgsp serve` and for the benchmark.
- ``store``: the registry's database (SQLite for the embedded default, PostgreSQL). Exact across processes
  and nodes: each admission is one transaction that locks the keys it reads (SQLite's write lock; PostgreSQL
  transaction-level advisory locks), reads, decides and writes.
- ``redis``: one Lua script per call (a single round trip), atomic in Redis, so exact across nodes too.

All three apply the same rule (`decision.decide`). Clocks: the calling process's `time.time()` is the clock
(nodes must be NTP-synchronised; a skew of d seconds lets at most d*rate extra calls through at a boundary).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any, Protocol

from sqlalchemy import Engine, Table, delete, func, select, text

from lgsp.store.db import dialect_insert, writer
from lgsp.traffic.decision import Check, LimitState, QuotaCheck, RateCheck, SlotCheck, Verdict, decide, describe
from lgsp.traffic.models import TrafficCounter, TrafficSlot

_COUNTERS: Table = TrafficCounter.__table__  # type: ignore[assignment]
_SLOTS: Table = TrafficSlot.__table__  # type: ignore[assignment]


class BackendUnavailable(RuntimeError):
    """The counters cannot be reached (Redis down, database error): the limiter applies its fail policy."""


class TrafficBackend(Protocol):
    name: str
    exact_across_processes: bool

    async def admit(self, checks: list[Check], now: float) -> Verdict: ...

    async def release(self, held: list[tuple[str, str]]) -> None: ...

    async def peek(self, checks: list[Check], now: float) -> list[LimitState]: ...

    async def close(self) -> None: ...


def _take_slots(verdict: Verdict) -> None:
    verdict.held = [(slot.key, uuid.uuid4().hex) for slot in verdict.slots]


class MemoryBackend:
    """Counters in this process (exact per process only)."""

    name = "memory"
    exact_across_processes = False

    def __init__(self) -> None:
        self._counters: dict[str, tuple[float, float]] = {}  # key -> (value, expires_at)
        self._slots: dict[str, dict[str, float]] = {}  # key -> {token: expires_at}
        self._calls = 0

    def _live(self, checks: list[Check], now: float) -> tuple[dict[str, float], dict[str, int]]:
        counters: dict[str, float] = {}
        slots: dict[str, int] = {}
        for check in checks:
            if isinstance(check, SlotCheck):
                tokens = self._slots.get(check.key, {})
                slots[check.key] = sum(1 for expires in tokens.values() if expires > now)
            else:
                stored = self._counters.get(check.key)
                if stored is not None and stored[1] > now:
                    counters[check.key] = stored[0]
        return counters, slots

    async def admit(self, checks: list[Check], now: float) -> Verdict:
        return self.admit_now(checks, now)

    def admit_now(self, checks: list[Check], now: float) -> Verdict:
        """Synchronous admission (no await between read and write: atomic within the event loop)."""
        counters, slots = self._live(checks, now)
        verdict = decide(checks, counters, slots, now)
        if verdict.admitted:
            self._counters.update(verdict.updates)
            _take_slots(verdict)
            for (key, token), slot in zip(verdict.held, verdict.slots, strict=True):
                held = self._slots.setdefault(key, {})
                for stale in [t for t, expires in held.items() if expires <= now]:
                    del held[stale]
                held[token] = now + slot.ttl
            self._calls += 1
            if self._calls % 10_000 == 0:
                self._sweep(now)
        return verdict

    def _sweep(self, now: float) -> None:
        for key in [k for k, (_, expires) in self._counters.items() if expires <= now]:
            del self._counters[key]

    async def release(self, held: list[tuple[str, str]]) -> None:
        for key, token in held:
            self._slots.get(key, {}).pop(token, None)

    async def peek(self, checks: list[Check], now: float) -> list[LimitState]:
        counters, slots = self._live(checks, now)
        return describe(checks, counters, slots, now)

    async def close(self) -> None:
        return None


class StoreBackend:
    """Counters in the SQL store: exact across processes and nodes sharing the database."""

    name = "store"
    exact_across_processes = True

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._insert: Any = dialect_insert(engine)

    async def admit(self, checks: list[Check], now: float) -> Verdict:
        return await asyncio.get_running_loop().run_in_executor(None, self.admit_sync, checks, now)

    def admit_sync(self, checks: list[Check], now: float) -> Verdict:
        try:
            with writer(self._engine).begin() as conn:
                if self._postgres:  # serialise admissions per key, in a fixed order (no deadlocks)
                    for key in sorted({c.key for c in checks}):
                        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})
                counters, slots = self._read(conn, checks, now)
                verdict = decide(checks, counters, slots, now)
                if not verdict.admitted:
                    return verdict
                for key, (value, expires_at) in verdict.updates.items():
                    statement = self._insert(_COUNTERS).values(key=key, value=value, expires_at=expires_at)
                    conn.execute(statement.on_conflict_do_update(
                        index_elements=["key"], set_={"value": value, "expires_at": expires_at}))
                _take_slots(verdict)
                for (key, token), slot in zip(verdict.held, verdict.slots, strict=True):
                    conn.execute(_SLOTS.insert().values(token=token, key=key, expires_at=now + slot.ttl))
                return verdict
        except Exception as exc:
            raise BackendUnavailable(f"traffic counters in the store failed: {type(exc).__name__}: {exc}") from exc

    def _read(self, conn: Any, checks: list[Check], now: float) -> tuple[dict[str, float], dict[str, int]]:
        counter_keys = [c.key for c in checks if isinstance(c, RateCheck | QuotaCheck)]
        slot_keys = [c.key for c in checks if isinstance(c, SlotCheck)]
        counters: dict[str, float] = {}
        slots: dict[str, int] = {}
        if counter_keys:
            rows = conn.execute(select(_COUNTERS.c.key, _COUNTERS.c.value)
                                .where(_COUNTERS.c.key.in_(counter_keys), _COUNTERS.c.expires_at > now))
            counters = {key: value for key, value in rows}
        if slot_keys:
            rows = conn.execute(select(_SLOTS.c.key, func.count()).where(_SLOTS.c.key.in_(slot_keys),
                                                                         _SLOTS.c.expires_at > now)
                                .group_by(_SLOTS.c.key))
            slots = {key: count for key, count in rows}
        return counters, slots

    async def release(self, held: list[tuple[str, str]]) -> None:
        if held:
            await asyncio.get_running_loop().run_in_executor(None, self.release_sync, held)

    def release_sync(self, held: list[tuple[str, str]]) -> None:
        try:
            with writer(self._engine).begin() as conn:
                conn.execute(delete(_SLOTS).where(_SLOTS.c.token.in_([token for _, token in held])))
        except Exception as exc:  # the slot frees itself at its expiry; the caller's answer is not at stake
            raise BackendUnavailable(f"traffic slots in the store failed: {type(exc).__name__}: {exc}") from exc

    async def peek(self, checks: list[Check], now: float) -> list[LimitState]:
        def read() -> list[LimitState]:
            try:
                with self._engine.connect() as conn:
                    counters, slots = self._read(conn, checks, now)
            except Exception as exc:
                raise BackendUnavailable(f"traffic counters in the store failed: {type(exc).__name__}: {exc}") \
                    from exc
            return describe(checks, counters, slots, now)
        return await asyncio.get_running_loop().run_in_executor(None, read)

    def sweep(self, now: float) -> int:
        """Delete expired counters and abandoned slots; returns how many rows went."""
        with writer(self._engine).begin() as conn:
            gone = conn.execute(delete(_COUNTERS).where(_COUNTERS.c.expires_at <= now - 60)).rowcount
            gone += conn.execute(delete(_SLOTS).where(_SLOTS.c.expires_at <= now)).rowcount
        return int(gone or 0)

    async def close(self) -> None:
        return None


#: The admission rule of `decision.decide`, run atomically inside Redis. KEYS[i] is check i; ARGV[1] is now and
#: each check has four more: kind (r|q|s), a, b, token. Rate: a = interval, b = capacity. Quota: a = limit,
#: b = resets_at. Slot: a = limit, b = ttl. Returns {admitted, refused index, pre-state values...}.
_ADMIT_LUA = """
local now = tonumber(ARGV[1])
local pre = {}
for i = 1, #KEYS do
  local base = 1 + (i - 1) * 4
  local kind = ARGV[base + 1]
  local a = tonumber(ARGV[base + 2])
  local b = tonumber(ARGV[base + 3])
  if kind == 'r' then
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    pre[i] = tostring(tat)
    if tat < now then tat = now end
    if tat + a - now > b + 1e-9 then return {0, i, unpack(pre)} end
  elseif kind == 'q' then
    local used = tonumber(redis.call('GET', KEYS[i]) or '0')
    pre[i] = tostring(used)
    if used >= a then return {0, i, unpack(pre)} end
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    local used = redis.call('ZCARD', KEYS[i])
    pre[i] = tostring(used)
    if used >= a then return {0, i, unpack(pre)} end
  end
end
for i = 1, #KEYS do
  local base = 1 + (i - 1) * 4
  local kind = ARGV[base + 1]
  local a = tonumber(ARGV[base + 2])
  local b = tonumber(ARGV[base + 3])
  if kind == 'r' then
    local tat = tonumber(pre[i])
    if tat < now then tat = now end
    redis.call('SET', KEYS[i], string.format('%.6f', tat + a), 'PX', math.ceil((tat + a - now) * 1000) + 1000)
  elseif kind == 'q' then
    local used = redis.call('INCR', KEYS[i])
    if used == 1 then redis.call('PEXPIRE', KEYS[i], math.max(math.ceil((b - now) * 1000), 0) + 60000) end
  else
    redis.call('ZADD', KEYS[i], now + b, ARGV[base + 4])
    redis.call('PEXPIRE', KEYS[i], math.ceil(b * 1000) + 1000)
  end
end
return {1, 0, unpack(pre)}
"""


class RedisBackend:
    """Counters in Redis: one EVALSHA per call, atomic, exact across nodes."""

    name = "redis"
    exact_across_processes = True

    def __init__(self, url: str, timeout_seconds: float = 0.25) -> None:
        import redis.asyncio as aioredis  # only when Redis is configured

        self._redis = aioredis.from_url(url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds)
        self._script = self._redis.register_script(_ADMIT_LUA)

    @staticmethod
    def _args(checks: list[Check], now: float, tokens: list[str]) -> list[str]:
        args = [f"{now:.6f}"]
        for check, token in zip(checks, tokens, strict=True):
            if isinstance(check, RateCheck):
                args += ["r", repr(check.interval), repr(check.capacity), ""]
            elif isinstance(check, QuotaCheck):
                args += ["q", str(check.limit), repr(check.resets_at), ""]
            else:
                args += ["s", str(check.limit), repr(check.ttl), token]
        return args

    async def admit(self, checks: list[Check], now: float) -> Verdict:
        tokens = [uuid.uuid4().hex if isinstance(c, SlotCheck) else "" for c in checks]
        try:
            reply = await self._script(keys=[c.key for c in checks], args=self._args(checks, now, tokens))
        except Exception as exc:
            raise BackendUnavailable(f"Redis failed: {type(exc).__name__}: {exc}") from exc
        admitted, refused_index, values = _admit_reply(reply, len(checks))
        counters, slots = _pre_state(checks, values)
        verdict = decide(checks, counters, slots, now)
        if verdict.admitted and not admitted:  # float rounding at the very edge: Redis's answer is what counted
            verdict = Verdict(admitted=False, refused_by=checks[refused_index - 1], retry_after=1.0)
        if verdict.admitted:
            verdict.held = [(c.key, t) for c, t in zip(checks, tokens, strict=True) if isinstance(c, SlotCheck)]
        return verdict

    async def release(self, held: list[tuple[str, str]]) -> None:
        if not held:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, token in held:
                    pipe.zrem(key, token)
                await pipe.execute()
        except Exception as exc:
            raise BackendUnavailable(f"Redis failed: {type(exc).__name__}: {exc}") from exc

    async def peek(self, checks: list[Check], now: float) -> list[LimitState]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for check in checks:
                    if isinstance(check, SlotCheck):
                        pipe.zcount(check.key, now, "+inf")
                    else:
                        pipe.get(check.key)
                values = await pipe.execute()
        except Exception as exc:
            raise BackendUnavailable(f"Redis failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(values, list) or len(values) != len(checks):
            raise BackendUnavailable(f"Redis answered {len(checks)} reads with {_shown(values)}")
        counters, slots = _pre_state(checks, [None if v is None else _number(v) for v in values])
        return describe(checks, counters, slots, now)

    async def close(self) -> None:
        await self._redis.aclose()


def _shown(value: object) -> str:
    return repr(value)[:80]


def _number(value: object) -> str:
    """One counter value as Redis sent it; anything but a finite number means this is not our Redis (a proxy,
    another server on the port, a corrupted key) and the limiter must apply its fail rule, not guess."""
    text_value = value.decode(errors="replace") if isinstance(value, bytes) else value
    if isinstance(text_value, bool) or not isinstance(text_value, str | int | float):
        raise BackendUnavailable(f"Redis sent {_shown(value)} where a counter was expected")
    try:
        number = float(text_value)
    except ValueError:
        raise BackendUnavailable(f"Redis sent {_shown(value)} where a counter was expected") from None
    if not math.isfinite(number) or number < 0:
        raise BackendUnavailable(f"Redis sent {_shown(value)} where a counter was expected")
    return str(text_value)


def _admit_reply(reply: object, checks: int) -> tuple[bool, int, list[str | None]]:
    """The admission script's reply, checked: {1, 0, one pre-state per check} when admitted, {0, i, the
    pre-states of checks 1..i} when check i refused (the script stops at the first refusal)."""
    if not isinstance(reply, list) or len(reply) < 2:
        raise BackendUnavailable(f"Redis answered the admission script with {_shown(reply)}")
    admitted, refused = reply[0], reply[1]
    if admitted not in (0, 1) or isinstance(refused, bool) or not isinstance(refused, int) or \
            not (refused == 0 if admitted == 1 else 1 <= refused <= checks) or \
            len(reply) != 2 + (checks if admitted == 1 else refused):
        raise BackendUnavailable(f"Redis answered the admission script with {_shown(reply)}")
    return admitted == 1, refused, [_number(v) for v in reply[2:]]


def _pre_state(checks: list[Check], values: list[str | None]) -> tuple[dict[str, float], dict[str, int]]:
    counters: dict[str, float] = {}
    slots: dict[str, int] = {}
    for check, value in zip(checks, values, strict=False):
        if value is None:
            continue
        if isinstance(check, SlotCheck):
            slots[check.key] = int(float(value))
        elif float(value) > 0:
            counters[check.key] = float(value)
    return counters, slots


def build_backend(kind: str, engine: Engine, redis_url: str) -> TrafficBackend:
    """`auto` picks Redis when a URL is set, else the store (both exact across processes)."""
    if kind == "auto":
        kind = "redis" if redis_url else "store"
    if kind == "memory":
        return MemoryBackend()
    if kind == "store":
        return StoreBackend(engine)
    if kind == "redis":
        if not redis_url:
            raise ValueError("LGSP_TRAFFIC_BACKEND=redis needs LGSP_REDIS_URL")
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"LGSP_REDIS_URL must start with redis://, rediss:// or unix://, not {redis_url[:40]!r}")
        return RedisBackend(redis_url)
    raise ValueError(f"LGSP_TRAFFIC_BACKEND must be auto, memory, store or redis, not {kind!r}")
