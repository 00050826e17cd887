"""The three triage figures on a labelled file: ``python -m hotline.triage.score FILE [--misses] [--timing]``.

A labelled file has one text per line: ``label<TAB>text``, the label ``P0`` (danger to life now),
``P1`` (救急难) or ``routine``. The figures, with the issue's targets:

- urgent kept urgent: of P0 and P1 texts, the share triaged P0 or P1 (at least 90 %);
- danger found: of P0 texts, the share triaged P0 (at least 80 %);
- routine raised: of routine texts, the share triaged P0 or P1 (at most 15 %).
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hotline.triage import Triage, triage_text
from hotline.triage.labelled import read_labelled
from models.ticket import URGENT_PRIORITIES

TARGETS = {"urgent_kept": 0.90, "danger_found": 0.80, "routine_raised": 0.15}


@dataclass(frozen=True)
class Scored:
    label: str
    text: str
    result: Triage

    @property
    def missed(self) -> bool:
        """Whether this text came out on the wrong side of its label."""
        if self.label == "P0":
            return self.result.priority != "P0"
        if self.label == "P1":
            return not self.result.urgent
        return self.result.urgent


def score(pairs: list[tuple[str, str]]) -> tuple[dict, list[Scored]]:
    """The three figures (shares from 0 to 1, with counts) and every text's result."""
    scored = [Scored(label, text, triage_text(text)) for label, text in pairs]
    urgent = [s for s in scored if s.label in URGENT_PRIORITIES]
    danger = [s for s in scored if s.label == "P0"]
    routine = [s for s in scored if s.label == "routine"]

    def share(part: list[Scored], whole: list[Scored]) -> dict:
        return {"share": len(part) / len(whole) if whole else 0.0, "count": len(part), "of": len(whole)}

    figures = {
        "urgent_kept": share([s for s in urgent if s.result.urgent], urgent),
        "danger_found": share([s for s in danger if s.result.priority == "P0"], danger),
        "routine_raised": share([s for s in routine if s.result.urgent], routine),
    }
    return figures, scored


def meets_targets(figures: dict) -> bool:
    return (
        figures["urgent_kept"]["share"] >= TARGETS["urgent_kept"]
        and figures["danger_found"]["share"] >= TARGETS["danger_found"]
        and figures["routine_raised"]["share"] <= TARGETS["routine_raised"]
    )


def time_per_text(texts: list[str], rounds: int = 20) -> float:
    """Mean CPU seconds of this process per ``triage_text`` call over ``rounds`` passes of ``texts``.

    CPU time rather than wall time: on a shared machine other processes would otherwise count.
    """
    triage_text(texts[0])  # the policy is loaded before the clock starts
    start = time.process_time()
    for _ in range(rounds):
        for text in texts:
            triage_text(text)
    return (time.process_time() - start) / (rounds * len(texts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--misses", action="store_true", help="also list every text on the wrong side")
    parser.add_argument("--timing", action="store_true", help="also measure the mean time per text")
    args = parser.parse_args(argv)
    ok = True
    for path in args.files:
        pairs = read_labelled(path)
        figures, scored = score(pairs)
        ok = ok and meets_targets(figures)
        print(f"{path}: {len(pairs)} texts")
        names = {
            "urgent_kept": "urgent (P0/P1) triaged P0 or P1",
            "danger_found": "danger to life (P0) triaged P0",
            "routine_raised": "routine triaged P0 or P1",
        }
        for key, name in names.items():
            f = figures[key]
            bound = ">=" if key != "routine_raised" else "<="
            print(f"  {name}: {f['share']:.1%} ({f['count']}/{f['of']}; target {bound} {TARGETS[key]:.0%})")
        if args.timing:
            seconds = time_per_text([text for _label, text in pairs])
            print(f"  CPU time per text: {seconds * 1e6:.1f} µs (mean length {_mean_length(pairs):.0f} characters)")
        if args.misses:
            for s in scored:
                if s.missed:
                    print(f"  MISS {s.label}\t{s.text}\t{json.dumps(s.result.as_dict(), ensure_ascii=False)}")
    return 0 if ok else 1


def _mean_length(pairs: list[tuple[str, str]]) -> float:
    return sum(len(text) for _label, text in pairs) / len(pairs)


if __name__ == "__main__":
    sys.exit(main())
