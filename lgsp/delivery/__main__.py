"""``python -m lgsp.delivery``: only the delivery loop, in the foreground (used by the crash test).

Same as the ``deliveries`` job of ``lgsp worker``, without the other jobs. SIGTERM/SIGINT at any moment —
start-up included — end in exit status 0: deliveries in hand get a grace period to finish, the rest
have their leases released so another worker takes them at once (see :mod:`lgsp.shutdown`). SIGKILL at
any point is safe too (leases expire, messages are re-delivered).
"""

from __future__ import annotations

from lgsp import shutdown


async def main() -> None:
    from lgsp import logs
    from lgsp.delivery.handlers import load_handlers
    from lgsp.delivery.settings import DeliverySettings
    from lgsp.delivery.worker import DeliveryWorker
    from lgsp.settings import Settings
    from lgsp.store.db import make_engine
    from lgsp.store.migrate import upgrade

    settings = Settings.load()
    tuning = DeliverySettings.from_env()  # before the store is opened: a bad value changes nothing
    logs.configure(settings.log_level)
    stop, unsubscribe = shutdown.async_event()
    engine = make_engine(settings.database_url, lock_timeout_seconds=settings.store_lock_timeout_seconds)
    try:
        upgrade(engine)  # a SIGTERM meanwhile only sets `stop`
        if stop.is_set():
            return
        handlers = load_handlers(engine)
        try:
            await DeliveryWorker(engine, handlers, tuning).run_forever(stop)
        finally:
            await handlers.aclose()
    finally:
        unsubscribe()
        engine.dispose()


def run() -> None:
    shutdown.install()
    import asyncio

    from lgsp.cli.errors import answered

    answered(lambda: asyncio.run(main()))  # a bad setting: one ``error:`` line, exit 2, as ``lgsp worker``


if __name__ == "__main__":
    run()
