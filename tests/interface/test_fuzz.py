"""schemathesis against the served OpenAPI of a demo-like stack: every operation, with and without a token.

All checks (no 5xx, only documented statuses and content types, bodies matching their schemas, invalid
data refused, valid data accepted, 405 with `Allow`, secured operations refusing a missing token, ...).
Deterministic (``--generation-deterministic``) and bounded (``-n``) so the three runs fit CI's budget.
Operations that take the caller's own credential away (disabling a client, rotating the token key) run
last, with their own client, so they cannot blind the runs that follow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lgsp.auth.clients import create_client
from tests.support.demo_stack import CLIENT_SYSTEM, DemoStack

HERE = Path(__file__).parent
CONFIG = HERE / "schemathesis.toml"
ST = Path(sys.executable).parent / "st"
SELF_HARM = r"/admin/clients/\{client_id\}/disable$|/admin/keys/rotate$"
MAX_EXAMPLES = 50


def _run(stack: DemoStack, *args: str, token: str | None, cwd: Path) -> str:
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    command = [str(ST), "--no-color", "--config-file", str(CONFIG), "run", f"{stack.url}/openapi.json",
               "--checks", "all", "-n", str(MAX_EXAMPLES), "--generation-deterministic", "-w", "1",
               "--request-timeout", "10", *auth, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False,
                          cwd=cwd)  # schemathesis keeps a cache folder in its working directory
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20_000:]
    print(*[line for line in output.splitlines() if "generated" in line or "Tested:" in line], sep="\n")
    return output


ADMIN = r"^/admin/"
AUDIT = r"^/audit/|^/metrics$"


def _token(stack: DemoStack, description: str, system: str | None, scopes: list[str]) -> str:
    """A fresh client per run (an earlier run may have deleted the demo systems or disabled clients);
    one duty per client, as the registry insists (separation of duties)."""
    stack.restore_registry()
    cred = create_client(stack.app.runtime.engine, system, scopes, description)
    stack.app.runtime.registry_changed()
    return stack.token(cred)


def test_every_operation_with_the_token_of_its_duty(fuzz_stack: DemoStack, tmp_path: Path) -> None:
    """Admin operations with an admin token, audit operations and /metrics with an auditor's, the rest with
    a department system's gateway token."""
    admin = _token(fuzz_stack, "fuzzer: admin", None, ["admin"])
    output = _run(fuzz_stack, "--include-path-regex", ADMIN, "--exclude-path-regex", SELF_HARM, token=admin,
                  cwd=tmp_path)
    assert "Tested: " in output
    auditor = _token(fuzz_stack, "fuzzer: auditor", None, ["auditor"])
    _run(fuzz_stack, "--include-path-regex", AUDIT, token=auditor, cwd=tmp_path)
    gateway = _token(fuzz_stack, "fuzzer: gateway", CLIENT_SYSTEM, ["gateway"])
    _run(fuzz_stack, "--exclude-path-regex", f"{ADMIN}|{AUDIT}", token=gateway, cwd=tmp_path)


def test_every_operation_without_a_token(fuzz_stack: DemoStack, tmp_path: Path) -> None:
    _run(fuzz_stack, token=None, cwd=tmp_path)


def test_operations_that_revoke_the_callers_own_access(fuzz_stack: DemoStack, tmp_path: Path) -> None:
    token = _token(fuzz_stack, "fuzzer: self-harm", None, ["admin"])
    _run(fuzz_stack, "--include-path-regex", SELF_HARM, token=token, cwd=tmp_path)
