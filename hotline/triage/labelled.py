"""Labelled texts: ``label<TAB>text`` files, read by the scorer (``hotline.triage.score``) and as the
triage model's examples (``hotline.triage.model``). ``#`` lines and blank lines are skipped."""

from pathlib import Path

#: A text's label: the priority it deserves, P2 and P3 counted as routine.
LABELS = ("P0", "P1", "routine")


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """The (label, text) pairs of ``path``; a line with another label is an error naming the line."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in LABELS:
            raise ValueError(f"{path}:{number}: expected label<TAB>text with a label in {LABELS}")
        pairs.append((label, text))
    return pairs
