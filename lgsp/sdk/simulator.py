"""Running an adapter's simulator as a real HTTP server (uvicorn) that exits 0 on SIGTERM."""

from __future__ import annotations

from lgsp import shutdown
from lgsp.serving import run_uvicorn

__all__ = ["run_uvicorn", "shutdown"]
