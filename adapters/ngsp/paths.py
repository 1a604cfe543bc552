"""Where the NGSP WSDL/XSD live (``schemas/wsdl/ngsp`` at the repository root; loaded by path only)."""

from __future__ import annotations

from pathlib import Path

WSDL_DIR = Path(__file__).resolve().parents[2] / "schemas" / "wsdl" / "ngsp"
WSDL_PATH = WSDL_DIR / "ngsp.wsdl"
NGSP_NS = "urn:lgsp:ngsp:v1"

__all__ = ["NGSP_NS", "WSDL_DIR", "WSDL_PATH"]
