"""Run one conformance suite in a child pytest process and summarise its JUnit XML report.

A child process keeps the suite independent of the caller (its own ``sys.path``, its own plugins) and
lets secrets travel in the child's environment instead of on a command line other users can read.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

SUITES = ("vdxp", "dvcqg", "ngsp")
#: pytest exit codes that mean the suite did not run to the end (interrupted or a collection error,
#: internal error, usage error): the report, if any, is no verdict.
_NOT_RUN = {2: "interrupted or a collection error", 3: "internal error", 4: "usage error"}


class SuiteError(Exception):
    """The suite could not be run, or its report not read: no verdict (the message says why)."""


class ReportPathError(SuiteError):
    """``--junit-xml`` names a place where no report can be written (a usage error)."""


def suites_dir() -> Path:
    """``conformance_tests/`` of this checkout (``$LGSP_CONFORMANCE_DIR`` when set)."""
    override = os.environ.get("LGSP_CONFORMANCE_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "conformance_tests"


@dataclass
class Case:
    name: str
    classname: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""
    seconds: float = 0.0

    @property
    def subject(self) -> str:
        """The parametrised subject of the case (a producer file, a packet kind), or ``""``."""
        return self.name[self.name.index("[") + 1 : -1] if "[" in self.name and self.name.endswith("]") else ""

    @property
    def check(self) -> str:
        return self.name.split("[", 1)[0]


@dataclass
class Report:
    suite: str
    returncode: int
    junit_xml: Path
    cases: list[Case] = field(default_factory=list)
    output: str = ""

    @property
    def judged(self) -> bool:
        """At least one check passed or failed (all skipped: nothing was judged)."""
        return any(c.outcome != "skipped" for c in self.cases)

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)

    def warnings(self) -> list[str]:
        """Distinct warning messages of pytest's "warnings summary" (tolerated findings, e.g. a Signature
        outside the XML-DSig namespace), with the test that raised them."""
        notes: list[str] = []
        inside = False
        current = ""
        for line in self.output.splitlines():
            if "warnings summary" in line:
                inside = True
                continue
            if inside and (line.startswith("-- Docs") or line.startswith("=")):
                break
            if inside and line and not line.startswith(" "):
                current = line.split("::")[-1]
            elif inside and line.strip() and "Warning:" in line:
                note = f"{current}: {line.split('Warning:', 1)[1].strip()}"
                if note not in notes:
                    notes.append(note)
        return notes

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.count("failed") and not self.count("error")


def parse_junit(path: Path) -> list[Case]:
    """Cases of a pytest JUnit XML file (xunit2), read as a stream.

    The file is our own child's, but its size follows the partner's input (one case per check and file,
    failure texts quoting the partner's data): it is parsed incrementally without a size or element
    limit, with DTDs, entities and the network off. An unreadable report is a :class:`SuiteError`.
    """
    cases: list[Case] = []
    try:
        for _event, case in etree.iterparse(str(path), events=("end",), tag="testcase", resolve_entities=False,
                                            no_network=True, load_dtd=False, huge_tree=True):
            outcome, message = "passed", ""
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[str(child.tag)]
                    message = (child.get("message") or (child.text or "")).strip()
                    break
            try:
                seconds = float(case.get("time", "0") or 0)
            except ValueError:
                seconds = 0.0
            cases.append(Case(case.get("name", ""), case.get("classname", ""), outcome,
                              message.splitlines()[0][:300] if message else "", seconds))
            case.clear()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SuiteError(f"cannot read the JUnit report {path}: {exc}") from None
    return cases


def _prepare_report(junit: Path) -> None:
    """Make sure the report can be written, and that no earlier report at that path is read back."""
    if junit.is_dir():
        raise ReportPathError(f"--junit-xml {junit} is a directory; give a file path")
    try:
        junit.parent.mkdir(parents=True, exist_ok=True)
        with junit.open("wb"):
            pass
        junit.unlink()
    except OSError as exc:
        raise ReportPathError(f"cannot write the JUnit report {junit}: {exc.strerror or exc}") from None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_suite(suite: str, args: Sequence[str], *, env: Mapping[str, str] | None = None,
              junit_xml: Path | None = None, timeout: float = 1800) -> Report:
    """Run ``conformance_tests/<suite>`` with pytest ``args``; the report is read back from JUnit XML."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; one of {', '.join(SUITES)}")
    directory = suites_dir() / suite
    if not directory.is_dir():
        raise FileNotFoundError(f"conformance suite not found: {directory}")
    junit = junit_xml or Path(tempfile.mkdtemp(prefix="lgsp-conformance-")) / f"{suite}.xml"
    _prepare_report(junit)
    command = [sys.executable, "-m", "pytest", str(directory), "-q", "-p", "no:cacheprovider", "-rN", "-W", "default",
               f"--junitxml={junit}", "-o", "junit_family=xunit2", "-o", f"junit_suite_name=lgsp-{suite}", *args]
    child_env = {**os.environ, **(env or {})}
    try:
        done = subprocess.run(command, cwd=directory.parent.parent, env=child_env, capture_output=True, text=True,
                              errors="replace", timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SuiteError(f"the {suite} suite did not finish within {timeout:g} s (--time-limit); "
                         "an endpoint answering very slowly?") from None
    except OSError as exc:
        raise SuiteError(f"cannot start pytest ({sys.executable}): {exc}") from None
    output = done.stdout + done.stderr
    if done.returncode in _NOT_RUN:
        raise SuiteError(f"the {suite} suite did not run ({_NOT_RUN[done.returncode]}, pytest exit "
                         f"{done.returncode}):\n{_tail(output)}")
    if not junit.exists():
        raise SuiteError(f"the {suite} suite wrote no report (pytest exit {done.returncode}):\n{_tail(output)}")
    return Report(suite, done.returncode, junit, parse_junit(junit), output)
