"""``flask --app app hotline triage [--text TEXT]``: triage one text, or one per line of standard input."""

import json
import sys

import click

from hotline.triage import triage_text


@click.command("triage")
@click.option("--text", help="Triage this one text; without it, read one text per line from standard input.")
def triage_command(text: str | None):
    """Print the triage of each text as one JSON object per line (priority, category, kind, reasons): one per
    line read, a blank line included (routine), so the n-th answer is always the n-th line's."""
    # Undecodable bytes on standard input become U+FFFD: one bad line must not stop the others.
    lines = (raw.decode("utf-8", errors="replace") for raw in sys.stdin.buffer)
    texts = [text] if text is not None else (line.rstrip("\r\n") for line in lines)
    for item in texts:
        click.echo(json.dumps(triage_text(item).as_dict(), ensure_ascii=False))
