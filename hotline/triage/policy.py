"""``config/policy/triage.toml`` read, checked and compiled into regular expressions once.

Every mistake raises :class:`TriagePolicyError` naming the file and the key, so a county's typo stops
start-up instead of silently turning urgent texts routine. Each phrase and cue is compiled twice over:
as written (Chinese) and as toneless pinyin derived from it here, so the request path only runs
precompiled patterns.
"""

import itertools
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

# pypinyin's phrase dictionary (~45 MB in memory) is not needed: every heteronym of every character is
# generated, and the per-character table alone costs ~13 MB and 0.04 s, once per process.
os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
from pypinyin import Style, pinyin

LEVELS = ("P0", "P1", "P2")
SETTINGS = {"gap", "min_pinyin_letters", "hypothetical_window", "topic_window", "resolved_window"}
CUES = {
    "negation",
    "negation_fillers",
    "hypothetical",
    "topic",
    "statement_before",
    "resolved",
    "calm",
    "enquiry",
}
RULE_KEYS = {"kind", "priority", "category", "phrases"}
TOPIC_KEYS = {"category", "phrases"}
#: Characters that end a sentence: a gap (``~``) and the look-around windows do not cross them.
SENTENCE_END = "。！？!?；;\n"
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}|~")
#: At most this many pinyin spellings per word (polyphonic characters multiply them).
MAX_SPELLINGS = 32


class TriagePolicyError(ValueError):
    """``triage.toml`` is malformed; raised when it is loaded, naming the file and the key."""


@dataclass(frozen=True)
class Rule:
    """One group of phrases: a match suggests ``priority`` and ``category``."""

    kind: str
    priority: str
    category: str
    pattern: re.Pattern


@dataclass(frozen=True)
class Topic:
    """Words that suggest a category for a routine (P3) text."""

    category: str
    pattern: re.Pattern


@dataclass(frozen=True)
class TriagePolicy:
    """The compiled ``triage.toml``."""

    rules: tuple[Rule, ...]
    topics: tuple[Topic, ...]
    #: A negation cue (and optional filler) ending right where a match starts.
    negation: re.Pattern
    #: A hypothetical cue anywhere in the window before a match.
    hypothetical: re.Pattern
    hypothetical_window: int
    #: A topic word in the window after a match (a question about a topic, not a statement).
    topic: re.Pattern
    topic_window: int
    #: A first-person or intent marker right before a match: a statement even when a topic word follows.
    statement_before: re.Pattern
    resolved: re.Pattern
    resolved_window: int
    calm: re.Pattern
    enquiry: re.Pattern


def load_triage_policy(path: Path, categories: set[str] | None = None) -> TriagePolicy:
    """Read, check and compile ``triage.toml``; ``categories`` are the catalogue's codes it may name."""
    where = str(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise TriagePolicyError(f"{where}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise TriagePolicyError(f"{where}: cannot be read: {exc}") from exc
    _only_keys(data, {"settings", "cues", "words", "rule", "topic"}, where)

    settings = _table(data, "settings", where)
    _only_keys(settings, SETTINGS, f"{where}: [settings]")
    for key in sorted(SETTINGS):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 100:
            raise TriagePolicyError(f"{where}: [settings] {key} must be a whole number from 1 to 100, not {value!r}")
    gap = settings["gap"]
    min_letters = settings["min_pinyin_letters"]

    cues = _table(data, "cues", where)
    _only_keys(cues, CUES, f"{where}: [cues]")
    cue_words = {key: _word_list(cues.get(key), f"{where}: [cues] {key}") for key in sorted(CUES)}

    words_table = _table(data, "words", where)
    words: dict[str, list[str]] = {}
    for name, value in words_table.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise TriagePolicyError(f"{where}: [words] {name!r}: a name is lower-case letters, digits and _")
        words[name] = _word_list(value, f"{where}: [words] {name}")
    compiler = _Compiler(words, gap, min_letters, where)

    rules = []
    entries = data.get("rule")
    if not isinstance(entries, list) or not entries:
        raise TriagePolicyError(f"{where}: [[rule]] entries are missing")
    for n, entry in enumerate(entries, start=1):
        here = f"{where}: [[rule]] number {n}"
        if not isinstance(entry, dict):
            raise TriagePolicyError(f"{here}: must be a table")
        _only_keys(entry, RULE_KEYS, here)
        kind = entry.get("kind")
        if not isinstance(kind, str) or not re.fullmatch(r"[a-z_]+", kind):
            raise TriagePolicyError(f"{here}: kind must be a short lower-case label such as missing_child")
        here = f"{where}: [[rule]] {kind}"
        if entry.get("priority") not in LEVELS:
            raise TriagePolicyError(f"{here}: priority must be one of {list(LEVELS)}, not {entry.get('priority')!r}")
        category = _category(entry.get("category"), categories, here)
        rules.append(
            Rule(kind, entry["priority"], category, compiler.phrases(entry.get("phrases"), f"{here}: phrases"))
        )
    kinds = [r.kind for r in rules]
    for kind in kinds:
        if kinds.count(kind) > 1:
            raise TriagePolicyError(f"{where}: [[rule]] kind {kind!r} appears twice")

    topics = []
    for n, entry in enumerate(data.get("topic", []), start=1):
        here = f"{where}: [[topic]] number {n}"
        if not isinstance(entry, dict):
            raise TriagePolicyError(f"{here}: must be a table")
        _only_keys(entry, TOPIC_KEYS, here)
        category = _category(entry.get("category"), categories, here)
        topics.append(Topic(category, compiler.phrases(entry.get("phrases"), f"{here}: phrases")))

    fillers = compiler.alternation(cue_words["negation_fillers"])
    return TriagePolicy(
        rules=tuple(rules),
        topics=tuple(topics),
        negation=re.compile(f"(?:{compiler.alternation(cue_words['negation'])})(?:{fillers})?$"),
        hypothetical=compiler.cue(cue_words["hypothetical"]),
        hypothetical_window=settings["hypothetical_window"],
        topic=compiler.cue(cue_words["topic"]),
        topic_window=settings["topic_window"],
        statement_before=compiler.cue(cue_words["statement_before"]),
        resolved=compiler.cue(cue_words["resolved"]),
        resolved_window=settings["resolved_window"],
        calm=compiler.cue(cue_words["calm"]),
        enquiry=compiler.cue(cue_words["enquiry"]),
    )


def normalise_word(word: str) -> str:
    """A policy word as the engine sees texts: NFKC, lower case, no spaces."""
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", word).lower().split())


def pinyin_spellings(word: str) -> list[str]:
    """Toneless pinyin spellings of ``word`` without spaces (every heteronym; ü as v and as u)."""
    syllables = pinyin(word, style=Style.NORMAL, heteronym=True, errors=lambda chars: list(chars))
    options = []
    for readings in syllables:
        forms: list[str] = []
        for reading in readings:
            for form in {reading.replace("ü", "v"), reading.replace("ü", "u")}:
                if form not in forms:
                    forms.append(form)
        options.append(forms)
    spellings = []
    for combination in itertools.islice(itertools.product(*options), MAX_SPELLINGS):
        spellings.append("".join(combination))
    return spellings


class _Compiler:
    """Turns phrases with ``{word list}`` and ``~`` into one regular expression per rule."""

    def __init__(self, words: dict[str, list[str]], gap: int, min_letters: int, where: str):
        self.words = words
        self.gap = f"[^{re.escape(SENTENCE_END)}]{{0,{gap}}}?"
        self.min_letters = min_letters
        self.where = where

    def _forms(self, word: str) -> list[str]:
        """``word`` as written, then its pinyin spellings (for words with Chinese characters)."""
        forms = [word]
        if _HAN.search(word):
            forms += pinyin_spellings(word)
        return forms

    def alternation(self, words: list[str], min_letters: int = 0) -> str:
        forms = []
        for word in words:
            for n, form in enumerate(self._forms(word)):
                if n and len(form) < min_letters:
                    continue
                if form not in forms:
                    forms.append(form)
        # Longest first: the regular expression engine takes the first alternative that matches.
        return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))

    def cue(self, words: list[str]) -> re.Pattern:
        return re.compile(self.alternation(words, self.min_letters))

    def phrases(self, value, where: str) -> re.Pattern:
        phrases = _word_list(value, where)
        branches = []
        for phrase in phrases:
            pieces = []
            # Pieces of a phrase are short: their pinyin may be shorter than min_pinyin_letters alone,
            # and still safe next to the other pieces; a lone piece must be long enough by itself.
            lone = not _PLACEHOLDER.search(phrase) or _PLACEHOLDER.fullmatch(phrase)
            minimum = self.min_letters if lone else 3
            position = 0
            for token in _PLACEHOLDER.finditer(phrase):
                literal = phrase[position : token.start()]
                if literal:
                    pieces.append(f"({self.alternation([literal], minimum)})")
                if token.group() == "~":
                    pieces.append(self.gap)
                else:
                    name = token.group(1)
                    if name not in self.words:
                        raise TriagePolicyError(f"{where}: {phrase!r} names {{{name}}}, which is not a list in [words]")
                    pieces.append(f"({self.alternation(self.words[name], minimum)})")
                position = token.end()
            if phrase[position:]:
                pieces.append(f"({self.alternation([phrase[position:]], minimum)})")
            if phrase.startswith("~") or phrase.endswith("~"):
                raise TriagePolicyError(f"{where}: {phrase!r}: ~ stands between two pieces, not at an end")
            branches.append("".join(pieces))
        try:
            return re.compile("|".join(branches))
        except re.error as exc:  # pragma: no cover - every piece is escaped
            raise TriagePolicyError(f"{where}: {exc}") from exc


def _word_list(value, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise TriagePolicyError(f"{where} must be a list of non-empty strings")
    return [normalise_word(v) for v in value]


def _category(value, categories: set[str] | None, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise TriagePolicyError(f"{where}: category must be a category code of catalogue.toml")
    if categories is not None and value not in categories:
        raise TriagePolicyError(
            f"{where}: category {value!r} is not in catalogue.toml ({', '.join(sorted(categories))})"
        )
    return value


def _table(data: dict, key: str, where: str) -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise TriagePolicyError(f"{where}: [{key}] is missing or is not a table")
    return value


def _only_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise TriagePolicyError(f"{where}: unknown keys {sorted(unknown)}; expected some of {sorted(allowed)}")
