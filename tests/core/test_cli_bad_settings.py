"""Operator typos in settings and numbers: every `lgsp` command answers with one `error:` line, never a traceback.

Each case here printed a Python traceback before (settings were parsed, and the store opened, deep inside
each command); now lgsp.cli.lazy.LazyGroup answers them all in one place, exit 2 for a setting that cannot be
used and exit 1 for a store that does not answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lgsp.cli.main import app as cli_app
from tests.core.providers import closed_port_url

LGSP = [sys.executable, "-m", "lgsp.cli"]

# Commands that read settings (and most of them the store) before doing anything else.
COMMANDS = [["serve"], ["worker"], ["db", "upgrade"], ["registry", "export"], ["clients", "list"], ["keys", "list"],
            ["audit", "tail"], ["deliveries", "list"], ["users", "list"], ["usage"], ["deliveries", "purge"]]


def run(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(cli_app, args, env=env, catch_exceptions=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LGSP_")}
    return {**base, "LGSP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}


def one_error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(lines[0])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_bad_environment_setting_is_one_line_naming_it(env: dict[str, str], command: list[str]) -> None:
    result = run(command, {**env, "LGSP_HEADER_TIMEOUT_SECONDS": "abc"})
    assert result.exit_code == 2
    assert one_error_line(result) == "error: LGSP_HEADER_TIMEOUT_SECONDS: expected a number, got 'abc'"


@pytest.mark.parametrize(("name", "value", "said"), [
    ("LGSP_TOKEN_LIFETIME_SECONDS", "5m", "expected a whole number, got '5m'"),
    ("LGSP_MAX_BODY_BYTES", "1.5", "expected a whole number"),
    ("LGSP_AUDIT_HEAD_EVERY_SECONDS", "nan", "expected a finite number"),
    ("LGSP_BREAKER_COOLDOWN_SECONDS", "1e400", "expected a finite number"),
    ("LGSP_METRICS_PUBLIC", "ture", "expected a yes/no value"),  # was silently False
])
def test_environment_values_of_the_wrong_kind(env: dict[str, str], name: str, value: str, said: str) -> None:
    result = run(["clients", "list"], {**env, name: value})
    assert result.exit_code == 2 and one_error_line(result).startswith(f"error: {name}: {said}")


@pytest.mark.parametrize(("name", "content", "said"), [
    ("missing.toml", None, "no such file"),
    ("bad.toml", b"a = [", "not valid TOML"),
    ("bad.yaml", b"database_url: [", "not valid YAML"),
    ("binary.yaml", b"\x7fELF\x02\x01\x01\x00\xff\xfe", "is not UTF-8 text"),
    ("list.yaml", b"- 1\n- 2\n", "must hold a mapping"),
    ("unknown.yaml", b"port: 1\n", "unknown settings: port"),
    ("types.yaml", b"token_lifetime_seconds: [1]\n", "token_lifetime_seconds in LGSP_CONFIG file"),
    ("bool.toml", b"max_body_bytes = true\n", "max_body_bytes in LGSP_CONFIG file"),
    ("str.yaml", b"public_url: 8080\n", "public_url in LGSP_CONFIG file"),
])
def test_a_bad_config_file_is_one_line_naming_it(env: dict[str, str], tmp_path: Path, name: str,
                                                  content: bytes | None, said: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run(["audit", "tail"], {**env, "LGSP_CONFIG": str(path)})
    assert result.exit_code == 2 and said in one_error_line(result)


def test_a_config_path_that_is_a_folder(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["keys", "list"], {**env, "LGSP_CONFIG": str(tmp_path)})
    assert result.exit_code == 2 and "is a directory" in one_error_line(result)


def test_an_empty_config_file_sets_nothing(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_bytes(b"# nothing yet\n")
    assert run(["clients", "list"], {**env, "LGSP_CONFIG": str(tmp_path / "empty.yaml")}).exit_code == 0


@pytest.mark.parametrize(("url", "said", "code"), [
    ("nonsense://x", "LGSP_DATABASE_URL: not a usable database URL", 2),
    ("::::", "LGSP_DATABASE_URL: not a usable database URL", 2),
    ("mysql://u@127.0.0.1/x", "LGSP_DATABASE_URL: no driver for this kind of database", 2),
    ("sqlite:////etc/hostname/lgsp.db", "the SQLite file's folder cannot be made", 2),
])
def test_a_bad_database_url(env: dict[str, str], url: str, said: str, code: int) -> None:
    result = run(["audit", "tail"], {**env, "LGSP_DATABASE_URL": url})
    assert result.exit_code == code and said in one_error_line(result)


def test_a_store_that_does_not_answer(env: dict[str, str], tmp_path: Path) -> None:
    port = closed_port_url().rsplit(":", 1)[1].strip("/")
    for url in (f"postgresql://postgres@127.0.0.1:{port}/lgsp", f"sqlite:///{tmp_path}"):  # a folder, not a file
        result = run(["clients", "list"], {**env, "LGSP_DATABASE_URL": url})
        assert result.exit_code == 1 and "the store (LGSP_DATABASE_URL) cannot be used" in one_error_line(result)


def test_as_a_real_process_no_traceback(env: dict[str, str]) -> None:
    """The console script itself (not typer's runner): the line an operator sees, and exit 2."""
    result = subprocess.run([*LGSP, "serve"], env={**env, "LGSP_HEADER_TIMEOUT_SECONDS": "abc"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: LGSP_HEADER_TIMEOUT_SECONDS: expected a number, got 'abc'"


def test_an_operator_value_is_not_read_as_markup(env: dict[str, str]) -> None:
    result = run(["clients", "list"], {**env, "LGSP_MAX_BODY_BYTES": "[red]x[/red]"})
    assert "got '[red]x[/red]'" in one_error_line(result)


@pytest.mark.parametrize("value", ["1e9", "-1", "nan", "inf", "1e308"])
def test_day_counts_are_bounded_and_finite(env: dict[str, str], value: str) -> None:
    """1e9 days overflowed timedelta (traceback), NaN too; -1 put the cut-off tomorrow: every finished
    message would have been purged."""
    for args in (["deliveries", "purge", "--older-than-days", value], ["audit", "retention", "--older-than", value]):
        result = run(args, env)
        assert result.exit_code == 2 and "Invalid value for" in result.stderr, (args, result.stderr)


def test_conformance_time_limit_refuses_nan(env: dict[str, str]) -> None:
    result = run(["conformance", "dvcqg", "--target", "http://127.0.0.1:9", "--time-limit", "nan"], env)
    assert result.exit_code == 2 and "not a finite number" in result.stderr


def _float_parameters(command: Any, context: Any, path: str = "lgsp") -> list[tuple[str, Any]]:
    found = []
    if hasattr(command, "list_commands"):
        context = type(context)(command)
        for name in command.list_commands(context):
            found += _float_parameters(command.get_command(context, name), context, f"{path} {name}")
    for parameter in getattr(command, "params", []):
        if any(base.__name__ == "FloatParamType" for base in type(parameter.type).__mro__):
            found.append((f"{path} {parameter.name}", parameter))
    return found


def test_every_float_option_of_the_cli_is_bounded_and_finite() -> None:
    import typer

    from lgsp.cli.common import finite
    from lgsp.cli.lazy import _load, lazy_commands

    root = typer.main.get_command(cli_app)
    context_class = type(root.make_context("lgsp", [], resilient_parsing=True))
    parameters = _float_parameters(root, context_class(root))
    for name, (reference, _) in lazy_commands().items():
        command = _load(name, reference)
        parameters += _float_parameters(command, context_class(command), f"lgsp {name}")
    assert len(parameters) >= 4, parameters
    loose = [name for name, p in parameters
             if getattr(p.type, "min", None) is None or getattr(p.type, "max", None) is None
             or (getattr(p.callback, "__wrapped__", p.callback) is not finite and "finite" not in repr(p.callback))]
    assert not loose, loose


# ---- settings read outside lgsp.settings.Settings, and entry points outside the `lgsp` command group ----

@pytest.mark.parametrize(("name", "value", "said"), [
    ("LGSP_DELIVERY_MAX_ATTEMPTS", "abc", "error: LGSP_DELIVERY_MAX_ATTEMPTS: expected a whole number, got 'abc'"),
    ("LGSP_DELIVERY_BATCH_SIZE", "1.5", "error: LGSP_DELIVERY_BATCH_SIZE: expected a whole number, got '1.5'"),
    # NaN passed every `<=` check: the worker ran with leases that never compared
    ("LGSP_DELIVERY_LEASE_SECONDS", "nan", "error: LGSP_DELIVERY_LEASE_SECONDS: expected a finite number, got 'nan'"),
    ("LGSP_DELIVERY_MAX_ATTEMPTS", "0", "error: LGSP_DELIVERY_MAX_ATTEMPTS must be at least 1"),
    ("LGSP_OPENDATA_LEASE_SECONDS", "abc", "error: LGSP_OPENDATA_LEASE_SECONDS: expected a number, got 'abc'"),
    ("LGSP_OPENDATA_LEASE_SECONDS", "-5",
     "error: LGSP_OPENDATA_LEASE_SECONDS: must be more than 0 and at most 604800, got '-5'"),
    ("LGSP_OPENDATA_TICK_SECONDS", "0",  # a busy loop
     "error: LGSP_OPENDATA_TICK_SECONDS: must be more than 0 and at most 86400, got '0'"),
    ("LGSP_KEY_ROTATION_DAYS", "1e9",  # timedelta overflow
     "error: LGSP_KEY_ROTATION_DAYS: must be more than 0 and at most 3650, got '1e9'"),
    ("LGSP_KEY_ROTATION_DAYS", "thirty", "error: LGSP_KEY_ROTATION_DAYS: expected a number, got 'thirty'"),
])
def test_the_workers_own_settings_are_one_line_too(env: dict[str, str], name: str, value: str, said: str) -> None:
    """LGSP_DELIVERY_*, LGSP_OPENDATA_{LEASE,TICK}_SECONDS and LGSP_KEY_ROTATION_DAYS were read with
    int()/float(): a ValueError traceback (or none at all: NaN, 0, 1e9 days)."""
    result = run(["worker"], {**env, name: value})
    assert result.exit_code == 2 and one_error_line(result) == said


@pytest.mark.parametrize(("module", "name", "value", "said"), [
    ("lgsp.delivery", "LGSP_HEADER_TIMEOUT_SECONDS", "abc",
     "error: LGSP_HEADER_TIMEOUT_SECONDS: expected a number, got 'abc'"),
    ("lgsp.delivery", "LGSP_DELIVERY_MAX_ATTEMPTS", "abc",
     "error: LGSP_DELIVERY_MAX_ATTEMPTS: expected a whole number, got 'abc'"),
    ("lgsp.delivery", "LGSP_DATABASE_URL", "nonsense://x",
     "error: LGSP_DATABASE_URL: not a usable database URL (Can't load plugin: sqlalchemy.dialects:nonsense)"),
    ("lgsp.documents", "LGSP_CONFIG", "/nonexistent/lgsp.toml",
     "error: LGSP_CONFIG file /nonexistent/lgsp.toml: no such file"),
])
def test_python_m_entry_points_answer_like_the_lgsp_command(env: dict[str, str], module: str, name: str, value: str,
                                                            said: str) -> None:
    """``python -m lgsp.delivery`` / ``lgsp.documents`` run outside the `lgsp` command group: a traceback, exit 1."""
    result = subprocess.run([sys.executable, "-m", module], env={**env, name: value}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == said


@pytest.mark.parametrize(("content", "said"), [
    (b'{"url": ', "cannot be read as JSON"),
    (b"\xff\xfe\x00", "cannot be read as JSON"),
    (b'{"url": "http://127.0.0.1:9"}', 'needs a JSON object with "url" and "publisher"'),
    (b"[1]", 'needs a JSON object with "url" and "publisher"'),
    (b'{"url": 5, "publisher": ""}', '"url" and "publisher" must be non-empty strings'),
    (None, "no CKAN configured"),  # was a usage box, not the one line
])
def test_a_bad_ckan_tokens_file_is_one_line(env: dict[str, str], tmp_path: Path, content: bytes | None,
                                            said: str) -> None:
    """A broken var/ckan/tokens.json was a JSONDecodeError/KeyError/TypeError traceback of `lgsp opendata`."""
    tokens = tmp_path / "tokens.json"
    if content is not None:
        tokens.write_bytes(content)
    specs = Path(__file__).parents[2] / "lgsp" / "opendata" / "datasets"
    for args in (["opendata", "publish", "--all"], ["opendata", "status"]):
        result = run(args, {**env, "LGSP_CKAN_TOKENS": str(tokens), "LGSP_OPENDATA_SPECS": str(specs)})
        line = one_error_line(result)
        assert result.exit_code == 2 and said in line and str(tokens) in line, (args, line)


def test_a_specs_directory_that_is_not_there_is_said(env: dict[str, str], tmp_path: Path) -> None:
    """It was read as an empty directory: "no datasets", the operator's typo unnamed."""
    result = run(["opendata", "publish", "--all"], {**env, "LGSP_OPENDATA_SPECS": str(tmp_path / "nope")})
    assert result.exit_code == 2
    assert one_error_line(result) == f"error: LGSP_OPENDATA_SPECS: {str(tmp_path / 'nope')!r} is not a directory"


def test_delivery_settings_refuse_non_finite_numbers() -> None:
    from lgsp.delivery.settings import DeliverySettings
    from lgsp.settings import SettingsError

    for name in ("lease_seconds", "poll_seconds", "backoff_max_seconds", "timeout_seconds"):
        with pytest.raises(SettingsError, match="finite"):
            DeliverySettings(**{name: float("inf")})
    with pytest.raises(SettingsError, match="LGSP_DELIVERY_POLL_SECONDS"):
        DeliverySettings.from_env({"LGSP_DELIVERY_POLL_SECONDS": "1e400"})
