"""Run the Solr TEST DOUBLE: ``python -m solr_standin --port 8984 [--pidfile F]`` (PYTHONPATH=tests)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from .server import make_server


def main() -> None:
    parser = argparse.ArgumentParser(description="In-memory Solr stand-in (TEST DOUBLE, not Solr)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8984)
    parser.add_argument("--pidfile", type=Path)
    args = parser.parse_args()
    server = make_server(args.host, args.port)
    if args.pidfile:
        args.pidfile.write_text(str(os.getpid()))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"solr stand-in (TEST DOUBLE) on http://{args.host}:{server.server_address[1]}/solr/", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
