"""``python tests/metrics/agent_main.py snmp-agent --config X``: the metrics area's CLI on its own typer app,
as the lead will wire it into ``sigcore`` (register(app))."""

import typer

from sigcore.metrics.cli import register

app = typer.Typer()


@app.callback()
def main() -> None:
    """Test entry point (a callback keeps ``snmp-agent`` a sub-command)."""


register(app)

if __name__ == "__main__":
    app()
