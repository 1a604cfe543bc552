"""`python -m lgsp.cli` runs the `lgsp` command."""

from lgsp.cli.main import run

run()
