"""``python -m lgsp.documents``: only the document axis' receiving (+ directory sync), in the foreground.

The same loop ``lgsp worker`` runs in a thread (the axis adapter's worker job); standalone it is what
the crash test SIGKILLs. The axis is found through its adapter (:mod:`lgsp.documents.axis`).
SIGTERM/SIGINT at any moment — start-up included — stop it after the message in hand, exit status 0
(the handler is installed before anything heavy is imported, see :mod:`lgsp.shutdown`).
"""

from __future__ import annotations

import sys

from lgsp import shutdown


async def main() -> int:
    from lgsp import logs
    from lgsp.documents.axis import NoDocumentAxis, load_axis
    from lgsp.documents.port import AxisNotConfigured
    from lgsp.settings import Settings
    from lgsp.store.db import make_engine
    from lgsp.store.migrate import upgrade

    settings = Settings.load()
    logs.configure(settings.log_level)
    stop, unsubscribe = shutdown.async_event()
    engine = make_engine(settings.database_url, lock_timeout_seconds=settings.store_lock_timeout_seconds)
    try:
        axis = load_axis(engine, settings)
        upgrade(engine)  # a SIGTERM meanwhile only sets `stop`
        if not stop.is_set():
            await axis.run_receiving(stop)
    except (NoDocumentAxis, AxisNotConfigured) as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        unsubscribe()
        engine.dispose()
    return 0


def run() -> int:
    shutdown.install()
    import asyncio

    from lgsp.cli.errors import answered

    return answered(lambda: asyncio.run(main()))  # a bad setting: one ``error:`` line, exit 2, as ``lgsp worker``


if __name__ == "__main__":
    sys.exit(run())
