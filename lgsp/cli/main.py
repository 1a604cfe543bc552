"""Entry point of the `lgsp` command."""

import typer

app = typer.Typer(help="lgsp: integration bus and open-data gateway.", no_args_is_help=True)


def run() -> None:
    app()
