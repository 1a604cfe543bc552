"""``python -m lgsp.documents``: only the receiving poller (+ directory sync), in the foreground.

The same loop ``lgsp worker`` runs in a thread; standalone it is what the crash test SIGKILLs.
SIGTERM/SIGINT stop it after the message in hand.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from lgsp import logs
from lgsp.documents.jobs import run_receiving
from lgsp.documents.settings import VdxpSettings
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade


async def main() -> int:
    settings = Settings.load()
    logs.configure(settings.log_level)
    vdxp = VdxpSettings.from_env()
    if vdxp is None:
        print("LGSP_VDXP_URL is not set: nothing to receive from", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    upgrade(engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_receiving(engine, vdxp, stop)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
