"""The published OpenAPI document: ``schemas/openapi/lgsp.json``, as the application serves it.

``python -m lgsp.api.contract`` rewrites the file, ``--check`` compares it (tests/interface does too). It
builds the whole application, so it sits above :mod:`lgsp.app`; what the routers use to describe their
contract is in :mod:`lgsp.api.openapi`, below them.
"""

from __future__ import annotations

from pathlib import Path

PUBLISHED = Path(__file__).resolve().parents[2] / "schemas" / "openapi" / "lgsp.json"


def published_text() -> str:
    """The OpenAPI document as committed in ``schemas/openapi/lgsp.json`` (stable key order, UTF-8)."""
    import json

    from lgsp.app import create_app
    from lgsp.settings import Settings

    app = create_app(Settings.load(database_url="sqlite://", access_log=False))
    return json.dumps(app.api.openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m lgsp.api.contract [--check]``: write (or check) the published OpenAPI file."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    text = published_text()
    if "--check" in args:
        same = PUBLISHED.is_file() and PUBLISHED.read_text(encoding="utf-8") == text
        print(f"{PUBLISHED}: {'up to date' if same else 'differs from the served spec'}")
        return 0 if same else 1
    PUBLISHED.parent.mkdir(parents=True, exist_ok=True)
    PUBLISHED.write_text(text, encoding="utf-8")
    print(f"wrote {PUBLISHED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
