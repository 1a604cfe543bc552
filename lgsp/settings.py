"""Settings from `LGSP_*` environment variables, optionally seeded from a config file.

Precedence: explicit keyword arguments > environment > config file (`LGSP_CONFIG`, TOML or YAML) > defaults.
Defaults are safe for a single-machine demo: SQLite next to the working directory, short token lifetime,
bodies limited to 10 MiB.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_SQLITE_PATH = "var/lgsp.db"


def _default_database_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of one lgsp process."""

    database_url: str = field(default_factory=_default_database_url)
    #: Public base URL of the gateway (used as the JWT issuer and in OAuth2 metadata).
    public_url: str = "http://127.0.0.1:8080"
    token_lifetime_seconds: int = 300
    #: Largest request body the gateway accepts (413 above it).
    max_body_bytes: int = 10 * 1024 * 1024
    #: Responses up to this size are buffered (so the audit row is durable before any byte is sent);
    #: larger ones stream and the final chunk waits for the audit row.
    buffer_response_bytes: int = 1024 * 1024
    #: Upstream connection pool size per gateway process.
    upstream_pool_size: int = 512
    #: How many of those one provider may hold at once, so that a slow provider cannot starve the others'
    #: calls (a bulkhead); 0 (the default) means a quarter of ``upstream_pool_size``.
    upstream_pool_per_provider: int = 0
    breaker_failure_threshold: int = 5
    breaker_cooldown_seconds: float = 30.0
    #: How often a process re-checks the store for registry changes made by other processes.
    registry_refresh_seconds: float = 1.0
    audit_max_batch: int = 512
    #: How long an audit write may wait for the store (a lock another transaction holds, a stalled disk)
    #: before the call is refused 503 ``audit-unavailable``; 0 = as long as the store takes.
    audit_write_timeout_seconds: float = 10.0
    #: How long any other statement of a serving process (gateway, workers) may wait for a lock someone else
    #: holds on the store (``LOCK TABLE``, a long migration, another SQLite writer) before it fails and its
    #: caller is told 503 ``store-unavailable`` (workers retry later); 0 = as long as the lock is held.
    store_lock_timeout_seconds: float = 10.0
    #: X-Road identifiers lgsp puts in SOAP headers: instance and member class of this province's members
    #: (the national values are not published; see PROTOCOLS.md §2.4), the agency code is the member code.
    xroad_instance: str = "VN"
    xroad_member_class: str = "GOV"
    #: Folder WSDL paths of SOAP services are resolved against (never fetched from the network).
    schemas_dir: str = str(Path(__file__).resolve().parent.parent / "schemas")
    #: Trust anchors for signature verification: folders or PEM bundles, separated by commas. Empty means
    #: no verifier: services with `signature_policy: require` then refuse every request (fail closed).
    trust_paths: str = ""
    #: A signature validation policy file (YAML/JSON, see docs/signatures.md); empty = the built-in default.
    signature_policy_file: str = ""
    log_level: str = "INFO"
    #: Log one JSON line per exchange (structlog); the demo and benchmarks may turn it off.
    access_log: bool = True
    #: Ed25519 private key (PEM) that signs audit tree heads; created 0600 on first start if absent.
    audit_log_key_file: str = "var/audit-log-key.pem"
    #: Sign a new audit tree head once this many entries are unsigned ...
    audit_head_every_entries: int = 1000
    #: ... or once the newest unsigned entry is this old (whichever comes first).
    audit_head_every_seconds: float = 60.0
    #: Gateway processes sign heads in a background task (off the request path); off = only on demand.
    audit_heads_enabled: bool = True
    #: RFC 3161 time-stamping authority to countersign each head (empty: no TSA tokens).
    audit_tsa_url: str = ""
    #: Drop kept request/response bodies older than this many days (0: keep); entries and heads stay.
    audit_body_retention_days: int = 0
    # --- console: the operator and auditor web console at /console (lgsp/console, docs/console.md) ---
    #: Serve the console from `lgsp serve`.
    console_enabled: bool = True
    #: Sign a person out after this many seconds without a page view.
    console_idle_seconds: int = 1800
    #: Sign a person out this many seconds after signing in, however busy (a stolen cookie kept in use
    #: does not last for ever).
    console_session_max_seconds: int = 43200
    #: Failed console sign-ins per remote address in 15 minutes before that address must wait (0: no limit);
    #: the per-account lockout does not stop one password tried on every account.
    console_login_failure_limit: int = 20
    #: Secure cookies: auto (when the request came over HTTPS, directly or per X-Forwarded-Proto), true, false.
    console_cookie_secure: str = "auto"
    #: OpenID Connect issuer for single sign-on (empty: local accounts only).
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    #: The ID-token claim that lists the person's console roles (operator, security_officer, auditor, observer).
    oidc_roles_claim: str = "roles"
    # --- traffic: rate limits, quotas and concurrency limits (lgsp/traffic, docs/traffic.md) ---
    #: Where counters live: auto (Redis if LGSP_REDIS_URL is set, else the store), memory, store or redis.
    traffic_backend: str = "auto"
    #: Redis for traffic counters, e.g. redis://127.0.0.1:6379/0 (empty: not used).
    redis_url: str = ""
    #: When the counters cannot be reached: admit calls on rate/concurrency-limited routes (fail open) ...
    traffic_fail_open_rates: bool = True
    #: ... but refuse calls on quota-limited routes (a national quota overrun costs more than a short refusal).
    traffic_fail_open_quotas: bool = False
    # --- ops: where private keys live (lgsp/keys, issue 17.2) ---
    #: ``encrypted`` (keys wrapped with a key-encryption key, the default) or ``pkcs11`` (an HSM).
    key_backend: str = "encrypted"
    #: The key-encryption key (32 random bytes, created 0600 on first use); ``LGSP_KEY_KEK`` (base64) wins.
    key_kek_file: str = "var/lgsp-kek.key"
    key_kek: str = field(default="", repr=False)
    #: PKCS#11: the vendor's module (e.g. /usr/lib/softhsm/libsofthsm2.so), token label and user PIN
    #: (``LGSP_PKCS11_PIN``, or a file named by ``pkcs11_pin_file``).
    pkcs11_module: str = ""
    pkcs11_token_label: str = "lgsp"
    pkcs11_pin: str = field(default="", repr=False)
    pkcs11_pin_file: str = ""

    # --- secgw: security controls of issue 19 (docs/security.md) ---
    #: Incoming access tokens whose `exp - iat` or `exp - now` exceeds this are refused (forged or
    #: mis-issued long-lived tokens); must be at least `token_lifetime_seconds`.
    token_max_lifetime_seconds: int = 3600
    #: `/oauth/token` failed authentications allowed per client id and per remote address in the window
    #: before further attempts get 429 (in-process counters, per gateway process).
    token_failure_limit: int = 10
    token_failure_window_seconds: float = 300.0
    #: Serve `/metrics` without a token (only behind a network boundary); off = a token with the
    #: `metrics`, `admin` or `auditor` scope is required.
    metrics_public: bool = False
    #: Forward upstream XML replies that carry a DOCTYPE (DTD, entity declarations); off = 502.
    upstream_xml_allow_dtd: bool = False

    # --- docsec: document signature policy, XML parse bounds, /signatures/verify access ---
    #: What POST /documents and the receiving poller let through once a signature hook is configured:
    #: off | report | require (docs/documents.md §6). Without a hook signatures are not checked.
    documents_signature_policy: str = "require"
    #: Bounds for each XML entry point, as "elements=N,depth=N,text=N,bytes=N" (any subset) over the
    #: built-in ones of lgsp.safexml: documents = POST /documents and the poller (50 000 elements, depth 64),
    #: signatures = POST /signatures/verify (50 000, 64), soap = SOAP requests (100 000, 100), upstream =
    #: providers' SOAP replies (200 000, 128); text = characters in one text node (default 10 000 000).
    xml_limits_documents: str = ""
    xml_limits_signatures: str = ""
    xml_limits_soap: str = ""
    xml_limits_upstream: str = ""
    #: POST /signatures/verify needs a token with the gateway scope; above 0, callers without a token may
    #: verify documents up to this many bytes (a much smaller limit than the token holders').
    signatures_anonymous_max_bytes: int = 0

    # --- audit: checkpoints and witnesses (issue 16) ---
    #: Origin line of the C2SP checkpoints (``GET /audit/checkpoint``) and the log key's note name.
    audit_checkpoint_origin: str = "lgsp.local/audit"
    #: Witnesses each new head is sent to: ``URL VKEY`` pairs separated by commas, VKEY = the witness's
    #: C2SP verifier key (``lgsp witness key``). Empty: heads are not witnessed.
    audit_witnesses: str = ""
    #: Seconds to wait for one witness's answer (a slow witness never blocks signing for longer).
    audit_witness_timeout_seconds: float = 5.0

    # --- edxml: real edXML packets and documents (issue 11) ---
    #: Accepted agency identifier forms: regular expressions separated by ";" (empty = the defaults of
    #: lgsp.agency_ids: NNN.NN.NN.XNN, two-letter groups …TT2, vxp.saas.NN, older short codes NN.NN.XNN).
    agency_id_patterns: str = ""
    #: Largest edXML packet accepted (POST /documents, the receiving poller); a 413 problem beyond it.
    max_document_bytes: int = 100 * 1024 * 1024

    # --- lb: client certificates (mTLS binding of systems, issue 17.7; docs/operators-delivery.md) ---
    #: Header a TLS-terminating load balancer puts the verified client certificate in (e.g.
    #: ``X-SSL-Client-Cert``): base64 DER (HAProxy ``%[ssl_c_der,base64]``) or URL-encoded PEM (nginx
    #: ``$ssl_client_escaped_cert``). Empty = no header is read; only certificates uvicorn saw count.
    client_cert_header: str = ""
    #: Addresses or networks (comma-separated, e.g. ``127.0.0.1,10.0.0.0/24``) whose client-certificate
    #: header is believed: the load balancers. From any other peer the header is ignored.
    trusted_proxies: str = ""

    # --- serve: connections (lgsp.gateway.deadlines) ---
    #: Seconds a connection has to send a whole request head (from its start, or from the first byte of a
    #: later request) before it is answered 408 and closed: slowloris connections are not held for ever.
    #: 0 turns the deadline off (e.g. behind a load balancer that has its own, like HAProxy's
    #: ``timeout http-request``).
    header_timeout_seconds: float = 10.0
    #: A request body must keep coming: in every window of this many seconds in which lgsp waits for it,
    #: ``body_min_rate`` bytes a second on average must arrive (or the body end), else 408 and the
    #: connection is closed (slow-POST attacks; Apache ``mod_reqtimeout``'s ``body=20,MinRate=500``). Time
    #: lgsp itself is not reading (a slow provider taking a streamed body) does not count. 0 turns it off.
    body_timeout_seconds: float = 20.0
    body_min_rate: int = 500

    # --- perf: hot-path measurement (issue 14, bench/gateway.py) ---
    #: When set, a loop-lag monitor (lgsp.looplag) runs in each gateway process and writes, at shutdown, the
    #: longest event-loop stall of each second to this file (JSON lines; ``{pid}`` is replaced). Off by default.
    loop_lag_file: str = ""

    # --- hgw: garbage-collector tuning of `lgsp serve` processes (issue 14.2, lgsp/gctune.py) ---
    #: After start-up, collect once and ``gc.freeze()`` what survived, so full collections no longer walk
    #: start-up's ~170,000 objects (each walk stopped the event loop for 230-390 ms on the 2-core bench
    #: machine). Only ``lgsp serve`` (``lgsp.app:app_from_env``) applies it; embedded and test apps do not.
    gc_freeze_after_start: bool = True
    #: Generation-0 threshold of the collector in `lgsp serve` processes (CPython's default: 700; 0 keeps it).
    #: At 700 it ran ~35 times a second under load, ~0.5 ms of CPU each; at 20,000 the objects of calls in
    #: flight die by reference count first and, measured under wrk, no collection ran during a load.
    gc_gen0_threshold: int = 20_000

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build settings from the config file, the environment and explicit overrides.

        A value an operator wrote (a config file entry, an ``LGSP_*`` variable) that is not of the setting's
        kind raises :class:`SettingsError` naming the setting and where it came from, so every command can
        answer it with one line (lgsp.cli.lazy) instead of a traceback from deep inside the code that used it.
        Keyword overrides come from code and are taken as they are.
        """
        values: dict[str, Any] = {}
        config_path = os.environ.get("LGSP_CONFIG")
        if config_path:
            for name, value in _read_config_file(Path(config_path)).items():
                values[name] = _checked(name, value, f"{name} in LGSP_CONFIG file {config_path}")
        for f in fields(cls):
            env_value = os.environ.get(f"LGSP_{f.name.upper()}")
            if env_value is not None and env_value != "":
                values[f.name] = _checked(f.name, env_value, f"LGSP_{f.name.upper()}")
        values.update({k: _coerce(cls, k, v) for k, v in overrides.items() if v is not None})
        return cls(**values)


class SettingsError(ValueError):
    """A setting an operator gave cannot be used; the message names it (the CLI prints it, exit 2)."""


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _kinds() -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(Settings)}


def _checked(name: str, value: Any, where: str) -> Any:
    """``value`` as the setting's kind, or SettingsError naming ``where`` (an env variable or a file entry).

    Strings (environment variables, and config entries written as strings) are parsed; other config values
    must already be of the kind: a YAML list for a number, or ``true`` for a number, is an operator's mistake,
    not a value. Numbers must be finite (a NaN timeout or a 1e400 body limit would never compare sensibly).
    """
    kind = _kinds()[name]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise SettingsError(f"{where}: expected a yes/no value (true, false, 1, 0, yes, no, on, off), got "
                            f"{_shown(value)}")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return whole_number(value, where)
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        return finite_number(value, where)
    if not isinstance(value, str):
        raise SettingsError(f"{where}: expected a string, got {_shown(value)}")
    if "\x00" in value:
        raise SettingsError(f"{where}: contains a NUL character")
    return value


def whole_number(value: Any, where: str) -> int:
    """``value`` (an operator's text) as an int, or SettingsError naming ``where``.

    Public for settings read apart from :class:`Settings` (``LGSP_DELIVERY_*``, ``LGSP_OPENDATA_*``), so
    every bad number is the same one ``error:`` line."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise SettingsError(f"{where}: expected a whole number, got {_shown(value)}")


def finite_number(value: Any, where: str) -> float:
    """``value`` (an operator's text) as a finite float, or SettingsError naming ``where`` (see
    :func:`whole_number`)."""
    number: float | None = None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise SettingsError(f"{where}: expected a number, got {_shown(value)}")
    if not math.isfinite(number):
        raise SettingsError(f"{where}: expected a finite number, got {_shown(value)}")
    return number


def positive_setting(name: str, default: float, *, maximum: float | None = None) -> float:
    """The environment variable ``name`` as a finite number above 0 (and at most ``maximum``), ``default``
    when unset or empty; SettingsError naming it otherwise. For the few settings jobs read on their own."""
    raw = os.environ.get(name) or ""
    if not raw:
        return default
    number = finite_number(raw, name)
    if number <= 0 or (maximum is not None and number > maximum):
        bound = f"more than 0 and at most {maximum:g}" if maximum is not None else "more than 0"
        raise SettingsError(f"{name}: must be {bound}, got {_shown(raw)}")
    return number


def _shown(value: Any) -> str:
    """A short, printable rendering of an operator's value for an error line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_config_file(path: Path) -> dict[str, Any]:
    import tomllib

    import yaml  # only when a config file is given: every command imports the settings

    where = f"LGSP_CONFIG file {path}"
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise SettingsError(f"{where}: is a directory, not a file") from None
    except FileNotFoundError:
        raise SettingsError(f"{where}: no such file") from None
    except OSError as exc:
        raise SettingsError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{where}: is not UTF-8 text") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{where}: not valid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        said = " ".join(str(exc).split())
        raise SettingsError(f"{where}: not valid YAML: {said}") from None
    if data is None:  # an empty (or all-comments) file sets nothing
        data = {}
    if not isinstance(data, dict):
        raise SettingsError(f"{where}: must hold a mapping of setting names to values")
    known = {f.name for f in fields(Settings)}
    unknown = {str(k) for k in data if k not in known}
    if unknown:
        raise SettingsError(f"{where}: unknown settings: {', '.join(sorted(unknown))}")
    return data


def _coerce(cls: type[Settings], name: str, value: Any) -> Any:
    by_name = {f.name: f for f in fields(cls)}
    if name not in by_name:
        raise ValueError(f"unknown setting {name!r}")
    kind = by_name[name].type
    if not isinstance(value, str):
        return value
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return value.strip().lower() in _TRUE
    return value
