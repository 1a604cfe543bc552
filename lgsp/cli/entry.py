"""The ``lgsp`` console script: long-running commands handle SIGTERM before anything heavy is imported.

``lgsp serve``, ``lgsp worker``, ``lgsp simulate`` and ``lgsp deliveries run`` must exit 0 on
SIGTERM at any moment, start-up included (see :mod:`lgsp.shutdown`), so the handler goes in before typer,
SQLAlchemy or the app are imported. Short commands keep the Unix default: a signal ends them at once.
"""

from __future__ import annotations

import sys

from lgsp import shutdown

LONG_RUNNING = frozenset({("serve",), ("worker",), ("simulate",), ("deliveries", "run")})


def long_running(argv: list[str]) -> bool:
    words = [a for a in argv if not a.startswith("-")]
    return tuple(words[:1]) in LONG_RUNNING or tuple(words[:2]) in LONG_RUNNING


def run() -> None:
    if long_running(sys.argv[1:]):
        shutdown.install()
    from lgsp.cli.main import run as main

    main()
