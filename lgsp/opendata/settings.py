"""Where the pipeline finds its specs, the gateway and CKAN -- from ``LGSP_*`` environment variables.

Datasets come from the registry (``datasets`` table, managed with ``lgsp apply``) in the store at
``LGSP_DATABASE_URL``; that store also receives one audit entry per run.
``LGSP_OPENDATA_SPECS``   optional directory of YAML dataset specs, added to the registry's datasets
                          (a slug defined in both is an error); e.g. lgsp/opendata/datasets
``LGSP_GATEWAY_URL``      base URL of the gateway the sources are read through
``LGSP_OPENDATA_CLIENT_ID`` + ``LGSP_OPENDATA_CLIENT_SECRET``  lgsp's publisher client at the gateway
                          (a token is fetched from ``/oauth/token`` per run), or else
``LGSP_OPENDATA_SOURCE_TOKEN``  a ready bearer token
``LGSP_CKAN_URL`` + ``LGSP_CKAN_TOKEN``  the portal and the publisher's API token, or else
``LGSP_CKAN_TOKENS``      the tokens file written by scripts/ckan/ensure.sh (default var/ckan/tokens.json)
``LGSP_OPENDATA_HASH_KEY`` key of the keyed hash used for ``personal: hash`` fields

A value that cannot be used raises :class:`SettingsError` (an :class:`lgsp.settings.SettingsError`) naming
it, so ``lgsp opendata …`` answers with one ``error:`` line and exit 2, like every ``lgsp`` command, and
the worker's schedule says why it is idle; before, a broken tokens file was a traceback and a
``LGSP_OPENDATA_SPECS`` naming no directory was silently "no datasets".
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from lgsp import settings as lgsp_settings
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from registry.dataset_spec import DatasetSpec, SpecError, load_specs

from .ckan import CkanTarget
from .pipeline import PipelineConfig

BUNDLED_SPECS = Path(__file__).parent / "datasets"
DEFAULT_TOKENS = Path("var/ckan/tokens.json")


class SettingsError(lgsp_settings.SettingsError):
    """An ``LGSP_OPENDATA_*``/``LGSP_CKAN_*`` setting that cannot be used, or none where one is needed."""


def specs_dir() -> Path | None:
    """The YAML specs directory, when ``LGSP_OPENDATA_SPECS`` names one."""
    value = os.environ.get("LGSP_OPENDATA_SPECS")
    if not value:
        return None
    if not Path(value).is_dir():
        raise SettingsError(f"LGSP_OPENDATA_SPECS: {value!r} is not a directory")
    return Path(value)


def store_engine() -> Engine:
    """The lgsp store (registry + audit log) of ``LGSP_DATABASE_URL``, migrated to head."""
    engine = make_engine(Settings.load().database_url)
    upgrade(engine)
    return engine


def all_specs(engine: Engine) -> dict[str, DatasetSpec]:
    """The registry's datasets plus the YAML specs of ``LGSP_OPENDATA_SPECS``, by slug."""
    from registry.datasets import load_specs as registry_specs

    specs = registry_specs(engine)
    directory = specs_dir()
    if directory is not None:
        for slug, spec in load_specs(directory).items():
            if slug in specs:
                raise SpecError(f"dataset {slug!r} is both in the registry and in {directory}")
            specs[slug] = spec
    return specs


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
    try:
        target = CkanTarget.from_tokens_file(tokens)
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise SettingsError(f"LGSP_CKAN_TOKENS file {tokens}: cannot be read as JSON ({exc})") from None
    except (KeyError, TypeError) as exc:  # not an object, or "url"/"publisher" missing
        raise SettingsError(f"LGSP_CKAN_TOKENS file {tokens}: needs a JSON object with \"url\" and "
                            f"\"publisher\" ({type(exc).__name__}: {exc})") from None
    if not all(isinstance(value, str) and value for value in (target.url, target.token)):
        raise SettingsError(f"LGSP_CKAN_TOKENS file {tokens}: \"url\" and \"publisher\" must be non-empty strings")
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
