"""``python -m lgsp.delivery``: only the delivery loop, in the foreground (used by the crash test).

Same as the ``deliveries`` job of ``lgsp worker``, without the other jobs; SIGTERM/SIGINT stop it
after the batch in hand, SIGKILL at any point is safe (leases expire, messages are re-delivered).
"""

from __future__ import annotations

import asyncio
import signal

from lgsp import logs
from lgsp.delivery.handlers import load_handlers
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade


async def main() -> None:
    settings = Settings.load()
    logs.configure(settings.log_level)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    handlers = load_handlers(engine)
    try:
        await DeliveryWorker(engine, handlers, DeliverySettings.from_env()).run_forever(stop)
    finally:
        await handlers.aclose()
        engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
