"""`python -m lgsp.cli` runs the `lgsp` command (signal handling first, see lgsp.cli.entry)."""

from lgsp.cli.entry import run

run()
