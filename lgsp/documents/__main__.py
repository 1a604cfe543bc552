"""``python -m lgsp.documents``: only the receiving poller (+ directory sync), in the foreground.

The same loop ``lgsp worker`` runs in a thread; standalone it is what the crash test SIGKILLs.
SIGTERM/SIGINT at any moment — start-up included — stop it after the message in hand, exit status 0
(the handler is installed before anything heavy is imported, see :mod:`lgsp.shutdown`).
"""

from __future__ import annotations

import sys

from lgsp import shutdown


async def main() -> int:
    from lgsp import logs
    from lgsp.documents.jobs import run_receiving
    from lgsp.documents.settings import VdxpSettings
    from lgsp.settings import Settings
    from lgsp.store.db import make_engine
    from lgsp.store.migrate import upgrade

    settings = Settings.load()
    logs.configure(settings.log_level)
    vdxp = VdxpSettings.from_env()
    if vdxp is None:
        print("LGSP_VDXP_URL is not set: nothing to receive from", file=sys.stderr)
        return 2
    stop, unsubscribe = shutdown.async_event()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)  # a SIGTERM meanwhile only sets `stop`
        if not stop.is_set():
            await run_receiving(engine, vdxp, stop)
    finally:
        unsubscribe()
        engine.dispose()
    return 0


def run() -> int:
    shutdown.install()
    import asyncio

    return asyncio.run(main())


if __name__ == "__main__":
    sys.exit(run())
