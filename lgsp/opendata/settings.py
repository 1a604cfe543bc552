"""Where the pipeline finds its specs, the gateway and CKAN -- from ``LGSP_*`` environment variables.

``LGSP_OPENDATA_SPECS``   directory of dataset specs (default: the bundled demo datasets)
``LGSP_GATEWAY_URL``      base URL of the gateway the sources are read through
``LGSP_OPENDATA_CLIENT_ID`` + ``LGSP_OPENDATA_CLIENT_SECRET``  lgsp's publisher client at the gateway
                          (a token is fetched from ``/oauth/token`` per run), or else
``LGSP_OPENDATA_SOURCE_TOKEN``  a ready bearer token
``LGSP_CKAN_URL`` + ``LGSP_CKAN_TOKEN``  the portal and the publisher's API token, or else
``LGSP_CKAN_TOKENS``      the tokens file written by scripts/ckan/ensure.sh (default var/ckan/tokens.json)
``LGSP_OPENDATA_HASH_KEY`` key of the keyed hash used for ``personal: hash`` fields
"""

from __future__ import annotations

import os
from pathlib import Path

from .ckan import CkanTarget
from .pipeline import PipelineConfig

BUNDLED_SPECS = Path(__file__).parent / "datasets"
DEFAULT_TOKENS = Path("var/ckan/tokens.json")


class SettingsError(RuntimeError):
    pass


def specs_dir() -> Path:
    return Path(os.environ.get("LGSP_OPENDATA_SPECS", BUNDLED_SPECS))


def ckan_target() -> CkanTarget:
    url, token = os.environ.get("LGSP_CKAN_URL"), os.environ.get("LGSP_CKAN_TOKEN")
    if url and token:
        return CkanTarget(url, token)
    tokens = Path(os.environ.get("LGSP_CKAN_TOKENS", DEFAULT_TOKENS))
    if not tokens.is_file():
        raise SettingsError(
            f"no CKAN configured: set LGSP_CKAN_URL and LGSP_CKAN_TOKEN, or run scripts/ckan/ensure.sh "
            f"to create {tokens}"
        )
    target = CkanTarget.from_tokens_file(tokens)
    return CkanTarget(url or target.url, target.token)


def _client() -> tuple[str, str] | None:
    client_id, secret = os.environ.get("LGSP_OPENDATA_CLIENT_ID"), os.environ.get("LGSP_OPENDATA_CLIENT_SECRET")
    return (client_id, secret) if client_id and secret else None


def pipeline_config() -> PipelineConfig:
    return PipelineConfig(
        gateway_url=os.environ.get("LGSP_GATEWAY_URL", "http://127.0.0.1:8000"),
        ckan=ckan_target(),
        source_token=os.environ.get("LGSP_OPENDATA_SOURCE_TOKEN"),
        source_client=_client(),
        hash_key=os.environ.get("LGSP_OPENDATA_HASH_KEY", "lgsp-opendata").encode(),
    )
