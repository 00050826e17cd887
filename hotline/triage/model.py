"""A second opinion on the texts the rules find routine: naive Bayes over the characters of labelled examples.

The rules (``hotline.triage.engine``, ``triage.toml``) know the words they were written for; residents
find other words ("屋头冷得遭不住 娃儿一直咳"). So a text the rules leave routine is scored by a
classifier trained on labelled texts (``config/policy/triage_examples.tsv``): the log-odds that it is
urgent (P0/P1) rather than routine, from the character 1- to 3-grams it contains, each weighed by how
much more often it occurs in urgent examples than in routine ones (add-one smoothing). Above the
policy's bound (``triage_model.toml``) the text is raised to the policy's level, with the n-grams that
weighed most as its reasons, so the operator sees why. It never lowers what the rules found, and never
raises to P0: danger to life stays the rules' call. A text that is itself a routine example (one the
operators corrected and the county added) is never raised.

The model is trained when the application starts (a few thousand short texts: milliseconds) from files
a county can extend; nothing is read or learnt at run time.
"""

import math
import tomllib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from operator import add
from pathlib import Path

from hotline.toml_checks import only_keys
from hotline.triage.labelled import read_labelled
from hotline.triage.loading import current, load_at_start
from hotline.triage.policy import nfkc
from models.ticket import URGENT_PRIORITIES


class TriageModelError(ValueError):
    """``triage_model.toml`` or its example file cannot be used: the message names what and where."""


@dataclass(frozen=True)
class TriageModel:
    """The trained model and how it is used."""

    weights: dict[str, float]
    prior: float
    ngrams: tuple[int, ...]
    raise_above: float
    level: str
    category: str
    reasons: int
    max_chars: int
    examples: int
    #: The routine examples, as the model folds them: never raised, whatever their words weigh.
    routine: frozenset[str]

    def grams(self, text: str) -> set[str]:
        """The distinct character n-grams of ``text`` as the model sees it."""
        return _grams(_fold(text, self.max_chars), self.ngrams)

    def judge(self, text: str) -> tuple[str, ...] | None:
        """The reasons to raise ``text`` (the n-grams that weighed most for urgent), or None to leave it.

        A text that is a routine example itself (one the operators corrected) is left as it is."""
        folded = _fold(text, self.max_chars)
        if folded in self.routine:
            return None
        grams = _grams(folded, self.ngrams)
        weights = self.weights
        if self.prior + sum(map(weights.get, grams, repeat(0.0))) <= self.raise_above:
            return None
        # Pieces of two characters or more first (a lone character tells the operator little), heaviest first.
        heaviest = sorted((g for g in grams if weights.get(g, 0.0) > 0), key=lambda g: (len(g) < 2, -weights[g], g))
        reasons: list[str] = []
        for gram in heaviest:  # a piece inside one already shown adds nothing
            if not any(gram in shown for shown in reasons):
                reasons.append(gram)
            if len(reasons) == self.reasons:
                break
        return tuple(reasons)


def _fold(text: str, max_chars: int) -> str:
    """The first ``max_chars`` characters of ``text`` as the model reads them: NFKC, lower case, no spaces."""
    return "".join(nfkc(text[:max_chars]).lower().split())


def _grams(folded: str, ngrams: tuple[int, ...]) -> set[str]:
    """The distinct n-grams of a folded text, for each length of ``ngrams`` in turn, each length from the start.

    The n-grams of one length are the (n - 1)-grams each with the character after it: built so in C, not
    sliced one by one (the set is the same, filled in the same order)."""
    by_length = [folded]  # the n-grams of length n at [n - 1]; a str is the sequence of its characters
    for n in range(2, max(ngrams) + 1):
        by_length.append(list(map(add, by_length[-1], folded[n - 1 :])))
    grams: set[str] = set()
    for n in ngrams:
        grams.update(by_length[n - 1])
    return grams


def train(pairs: list[tuple[str, str]], *, ngrams: tuple[int, ...], max_chars: int) -> tuple[dict[str, float], float]:
    """Per n-gram log ratio of its frequency among urgent and routine examples, and the prior log-odds."""
    counts = {True: Counter(), False: Counter()}
    documents = Counter()
    for label, text in pairs:
        urgent = label in URGENT_PRIORITIES
        documents[urgent] += 1
        counts[urgent].update(_grams(_fold(text, max_chars), ngrams))
    if not documents[True] or not documents[False]:
        raise TriageModelError("the examples need urgent (P0/P1) and routine texts both")
    vocabulary = counts[True].keys() | counts[False].keys()
    size = len(vocabulary)
    urgent_total, routine_total = counts[True].total() + size, counts[False].total() + size
    weights = {
        gram: math.log((counts[True][gram] + 1) / urgent_total) - math.log((counts[False][gram] + 1) / routine_total)
        for gram in vocabulary
    }
    return weights, math.log(documents[True] / documents[False])


def load_triage_model(path: Path, categories: set[str] | None = None) -> TriageModel:
    """Read ``triage_model.toml`` and train the model on the example files it names (beside it)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TriageModelError(f"{path.name}: {exc}") from exc
    allowed = {"examples", "ngrams", "raise_above", "level", "category", "reasons", "max_chars"}
    only_keys(data, allowed, path.name, error=TriageModelError)
    files = data.get("examples")
    if not isinstance(files, list) or not files or not all(isinstance(name, str) for name in files):
        raise TriageModelError(f"{path.name}: examples must be a list of file names")
    ngrams = data.get("ngrams", [1, 2, 3])
    if not isinstance(ngrams, list) or not ngrams or not all(isinstance(n, int) and 1 <= n <= 6 for n in ngrams):
        raise TriageModelError(f"{path.name}: ngrams must be a list of lengths from 1 to 6")
    bound = data.get("raise_above")
    if not isinstance(bound, int | float) or isinstance(bound, bool):
        raise TriageModelError(f"{path.name}: raise_above must be a number (the log-odds above which a text is raised)")
    level = data.get("level", "P1")
    if level not in ("P1", "P2"):
        raise TriageModelError(f"{path.name}: level must be P1 or P2 (P0 stays the rules' call)")
    category = data.get("category")
    if not isinstance(category, str) or (categories is not None and category not in categories):
        raise TriageModelError(f"{path.name}: category must be a code of the catalogue")
    reasons, max_chars = data.get("reasons", 3), data.get("max_chars", 1000)
    for name, value in (("reasons", reasons), ("max_chars", max_chars)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TriageModelError(f"{path.name}: {name} must be a whole number above 0")
    stamps = []
    for name in files:
        try:
            found = (path.parent / name).stat()
        except OSError as exc:
            raise TriageModelError(f"{path.name}: examples file {name}: {exc}") from exc
        stamps.append((str(path.parent / name), found.st_mtime_ns, found.st_size))
    try:
        weights, prior, routine, examples = _trained(tuple(stamps), tuple(ngrams), max_chars)
    except (OSError, ValueError) as exc:
        raise TriageModelError(f"{path.name}: examples file {exc}") from exc
    return TriageModel(
        weights, prior, tuple(ngrams), float(bound), level, category, reasons, max_chars, examples, routine
    )


@lru_cache(maxsize=4)
def _trained(files: tuple[tuple[str, int, int], ...], ngrams: tuple[int, ...], max_chars: int) -> tuple:
    """(weights, prior, routine examples folded, how many examples) trained on ``files`` (path, mtime, size):
    once per content of the files, not on every application start (each test starts one)."""
    pairs = []
    for where, _mtime_ns, _size in files:
        try:
            pairs += read_labelled(Path(where))
        except ValueError as exc:
            raise ValueError(f"{Path(where).name}: {exc}") from exc
    weights, prior = train(pairs, ngrams=ngrams, max_chars=max_chars)
    routine = frozenset(_fold(text, max_chars) for label, text in pairs if label not in URGENT_PRIORITIES)
    return weights, prior, routine, len(pairs)


def current_model() -> TriageModel:
    """The model trained at application start; outside an application, the configured one (trained once)."""
    return current("triage_model", load_triage_model, "triage_model.toml")


def init_triage_model(app) -> None:
    """Train the model once at start-up from ``triage_model.toml`` and its examples."""
    load_at_start(app, "triage_model", load_triage_model, "triage_model.toml")
