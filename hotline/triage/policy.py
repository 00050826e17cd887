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
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache, partial
from pathlib import Path

import ahocorasick

# pypinyin's phrase dictionary (~45 MB in memory) is not needed: every heteronym of every character is
# generated, and the per-character table alone costs ~13 MB and 0.04 s, once per process.
os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
from pypinyin import Style, pinyin

from hotline import toml_checks

LEVELS = ("P0", "P1", "P2")
SETTINGS = {"gap", "min_pinyin_letters", "hypothetical_window", "topic_window", "resolved_window"}
CUES = {
    "negation",
    "negation_fillers",
    "hypothetical",
    "past",
    "experienced",
    "experienced_not_before",
    "recent",
    "worry",
    "present",
    "present_not_before",
    "ordinary",
    "topic",
    "framing",
    "statement_before",
    "topic_joiners",
    "resolved",
    "calm",
    "asking",
    "question",
    "safe",
    "enquiry",
}
#: Cues whose presence anywhere in a text is looked up in the pass of :attr:`TriagePolicy.automaton`, in
#: the order of their bits: a text without one skips the checks that need it. The [[topic]] entries follow
#: them, topic n at bit ``len(PRESENCE_CUES) + n``.
PRESENCE_CUES = (
    "hypothetical",
    "resolved",
    "topic",
    "framing",
    "past",
    "recent",
    "calm",
    "safe",
    "asking",
    "question",
    "enquiry",
    "negation",
    "worry",
    "experienced",
)
#: The cues of :data:`PRESENCE_CUES` whose patterns hold every pinyin spelling of their words, however short
#: (``negation``, ``worry`` and ``experienced``: an alternation, not a :meth:`_Compiler.cue`); their presence
#: is looked up with the same forms.
EVERY_SPELLING = frozenset({"negation", "worry", "experienced"})
RULE_KEYS = {"kind", "priority", "category", "phrases", "gap", "lasting", "possessive_breaks", "generic"}
TOPIC_KEYS = {"category", "phrases"}
VARIANT_KEYS = {"within", "final", "separable", "infix", "written_only"}
#: Characters that end a sentence: a gap (``~``) and the look-around windows do not cross them.
SENTENCE_END = "。！？!?；;\n"
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}|~")
#: At most this many pinyin spellings per word (polyphonic characters multiply them).
MAX_SPELLINGS = 32
#: At most this many written forms per word from [variants] (each part with variants multiplies them).
MAX_VARIANTS = 48


class TriagePolicyError(ValueError):
    """``triage.toml`` is malformed; raised when it is loaded, naming the file and the key."""


_table = partial(toml_checks.table, error=TriagePolicyError)
_only_keys = partial(toml_checks.only_keys, error=TriagePolicyError)


@dataclass(frozen=True)
class Rule:
    """One group of phrases: a match suggests ``priority`` and ``category``."""

    kind: str
    priority: str
    category: str
    #: The danger lasts past the day it began (a missing child): a recent-time cue does not lower it.
    lasting: bool = False
    #: A phrase whose first piece is followed by 的 is about a thing of that person ("孩子的证件丢了").
    possessive_breaks: bool = False
    #: Says nothing of what happened ("救命"): names the category only when no other rule of its level matched.
    generic: bool = False

    #: The priority as a number: 0 for P0, 1 for P1, 2 for P2.
    level: int = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "level", LEVELS.index(self.priority))


@dataclass(frozen=True)
class Phrase:
    """One phrase of a rule: pieces (ids of word lists) in order, each within ``gaps`` of the one before."""

    rule: int
    pieces: tuple[int, ...]
    #: Most characters allowed between piece n and piece n + 1 (0: right after it).
    gaps: tuple[int, ...]
    #: Every piece: a text must hold them all for the phrase to be tried.
    needed: frozenset[int]
    #: Whether each piece is shown as a reason: not a one-character link such as the 在 of "{child}在~丢了".
    shown: tuple[bool, ...]
    #: (piece, gap before it) of each piece after the first: what a match looks for after its first piece.
    links: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "links", tuple(zip(self.pieces[1:], self.gaps, strict=True)))


@dataclass(frozen=True)
class Topic:
    """Words that suggest a category for a routine (P3) text."""

    category: str
    pattern: re.Pattern


@dataclass(frozen=True)
class TriagePolicy:
    """The compiled ``triage.toml``."""

    rules: tuple[Rule, ...]
    #: Every form (word as written and in pinyin) of every piece, of every cue of :data:`PRESENCE_CUES` and of
    #: every topic -> (its length, the piece ids it stands for (none for a form only of cues), whether the
    #: ordinary words' piece is one of them, the bits (1 << place in PRESENCE_CUES, a topic's after them) of
    #: the cues and topics it is a form of): one pass finds the pieces and which cues the text has.
    automaton: ahocorasick.Automaton
    #: piece id -> the phrases that start with that piece.
    phrases_by_first: dict[int, tuple[Phrase, ...]]
    #: The piece id of the ordinary words, which only hide the rule words they overlap.
    ordinary_piece: int
    #: The length of the longest ordinary word.
    ordinary_longest: int
    #: Every toneless pinyin syllable: a pinyin word counts only from and to a syllable boundary of the text
    #: ("zisha" is not in "fangzishaomeile", fang|zi|shao|mei|le).
    syllables: frozenset[str]
    topics: tuple[Topic, ...]
    #: A negation cue (and optional filler) ending right where a match starts.
    negation: re.Pattern
    #: A hypothetical cue anywhere in the window before a match.
    hypothetical: re.Pattern
    hypothetical_window: int
    #: A past-time cue in the same window: the match is one level lower (not happening now)...
    past: re.Pattern
    #: ...unless a present-time cue is there too ("打了我好几年 今天逃出来了").
    present: re.Pattern
    #: Right after a match (被家暴过): in the past, as a past cue without a present one.
    experienced: re.Pattern
    #: A recent-time cue there lowers a P0 match of a rule that is not lasting to P1 ("昨晚着火了").
    recent: re.Pattern
    #: A worry (and optional filler) right before a match lowers it one level ("担心房子倒塌").
    worry: re.Pattern
    #: A topic word in the window after a match (a question about a topic, not a statement).
    topic: re.Pattern
    topic_window: int
    #: A strong enquiry framing in that window ("怎么预防", "能报销多少"): a question about the event, whether
    #: the match is one word or several and even followed by 了.
    framing: re.Pattern
    #: After a phrase of several pieces, a topic word counts only right behind one of these.
    topic_joiner: re.Pattern
    #: A first-person or intent marker right before a match: a statement even when a topic word follows.
    statement_before: re.Pattern
    resolved: re.Pattern
    resolved_window: int
    calm: re.Pattern
    #: The writer is only asking ("只是问问", "帮朋友问的"): calm, but only in a text that asks something
    #: (a ``question`` cue), not one that only tells what is happening.
    asking: re.Pattern
    #: A question word ("怎么", "吗"): an asking cue counts only in a text with one; clauses that hold one may
    #: hold the topic word of the clause before them.
    question: re.Pattern
    safe: re.Pattern


def load_triage_policy(path: Path, categories: set[str] | None = None) -> TriagePolicy:
    """Read, check and compile ``triage.toml``; ``categories`` are the catalogue's codes it may name.

    Compiling takes about a second of CPU (the pinyin of every word): a process that builds several
    applications from the same unchanged file (tests, the CLI beside the scheduler) compiles it once.
    """
    try:
        stat = path.stat()
    except OSError as exc:
        raise TriagePolicyError(f"{path}: cannot be read: {exc}") from exc
    codes = frozenset(categories) if categories is not None else None
    return _compiled_policy(str(path), stat.st_mtime_ns, stat.st_size, codes)


@lru_cache(maxsize=4)
def _compiled_policy(where: str, _mtime_ns: int, _size: int, categories: frozenset[str] | None) -> TriagePolicy:
    """The policy at ``where``, keyed also by the file's modification time and size (an edit is read again)."""
    path = Path(where)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise TriagePolicyError(f"{where}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise TriagePolicyError(f"{where}: cannot be read: {exc}") from exc
    _only_keys(data, {"settings", "cues", "words", "rule", "topic", "variants"}, where)

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
    compiler = _Compiler(words, gap, min_letters, where, _variants(data.get("variants", {}), where))

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
        rule_gap = entry.get("gap", gap)
        if isinstance(rule_gap, bool) or not isinstance(rule_gap, int) or not 0 < rule_gap <= 100:
            raise TriagePolicyError(f"{here}: gap must be a whole number from 1 to 100, not {rule_gap!r}")
        flags = {}
        for flag in ("lasting", "possessive_breaks", "generic"):
            flags[flag] = entry.get(flag, False)
            if not isinstance(flags[flag], bool):
                raise TriagePolicyError(f"{here}: {flag} must be true or false, not {flags[flag]!r}")
        compiler.phrases(entry.get("phrases"), f"{here}: phrases", len(rules), rule_gap)
        rules.append(Rule(kind, entry["priority"], category, **flags))
    kinds = [r.kind for r in rules]
    for kind in kinds:
        if kinds.count(kind) > 1:
            raise TriagePolicyError(f"{where}: [[rule]] kind {kind!r} appears twice")

    topics = []
    topic_words = []
    for n, entry in enumerate(data.get("topic", []), start=1):
        here = f"{where}: [[topic]] number {n}"
        if not isinstance(entry, dict):
            raise TriagePolicyError(f"{here}: must be a table")
        _only_keys(entry, TOPIC_KEYS, here)
        category = _category(entry.get("category"), categories, here)
        topic_words.append(_word_list(entry.get("phrases"), f"{here}: phrases"))
        topics.append(Topic(category, compiler.cue(topic_words[-1])))

    ordinary_piece = compiler.ordinary(cue_words["ordinary"])
    fillers = compiler.alternation(cue_words["negation_fillers"])
    return TriagePolicy(
        rules=tuple(rules),
        automaton=compiler.automaton(
            [(cue_words[name], 0 if name in EVERY_SPELLING else min_letters) for name in PRESENCE_CUES]
            + [(words, min_letters) for words in topic_words]
        ),
        phrases_by_first={first: tuple(phrases) for first, phrases in compiler.by_first.items()},
        ordinary_piece=ordinary_piece,
        ordinary_longest=max(len(form) for form, pieces in compiler.forms.items() if ordinary_piece in pieces),
        syllables=pinyin_syllables(),
        topics=tuple(topics),
        negation=re.compile(f"(?:{compiler.alternation(cue_words['negation'])})(?:{fillers})?$"),
        hypothetical=compiler.cue(cue_words["hypothetical"]),
        past=compiler.cue(cue_words["past"]),
        present=re.compile(
            f"(?:{compiler.alternation(cue_words['present'], min_letters)})"
            f"(?!{compiler.alternation(cue_words['present_not_before'], min_letters)})"
        ),
        recent=compiler.cue(cue_words["recent"]),
        experienced=re.compile(
            f"(?:{compiler.alternation(cue_words['experienced'])})"
            f"(?!{compiler.alternation(cue_words['experienced_not_before'])})"
        ),
        worry=re.compile(f"(?:{compiler.alternation(cue_words['worry'])})(?:{fillers})?$"),
        hypothetical_window=settings["hypothetical_window"],
        topic=compiler.cue(cue_words["topic"]),
        topic_window=settings["topic_window"],
        framing=compiler.cue(cue_words["framing"]),
        topic_joiner=re.compile(compiler.alternation(cue_words["topic_joiners"])),
        statement_before=compiler.cue(cue_words["statement_before"]),
        resolved=compiler.cue(cue_words["resolved"]),
        resolved_window=settings["resolved_window"],
        calm=compiler.cue(cue_words["calm"]),
        asking=compiler.cue(cue_words["asking"]),
        question=compiler.cue(cue_words["question"]),
        safe=compiler.cue(cue_words["safe"]),
    )


#: Full-width punctuation of Chinese texts, each with its NFKC form (one ASCII character), for :func:`nfkc`.
_WIDE = tuple((wide, unicodedata.normalize("NFKC", wide)) for wide in "，？！：；（）\u3000")


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, cheaper for the common Chinese text.

    A text holding a character NFKC changes is composed anew, character by character (about 2 µs for 25
    characters); the only such characters of most texts are full-width punctuation ("，", "？"). They are
    replaced by their NFKC forms first, which NFKC decomposes them to anyway (the result is the same), and
    the normalisation then ends at its quick check.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    for wide, narrow in _WIDE:
        text = text.replace(wide, narrow)
    return unicodedata.normalize("NFKC", text)


def normalise_word(word: str) -> str:
    """A policy word as the engine sees texts: NFKC, lower case, no spaces."""
    return "".join(unicodedata.normalize("NFKC", word).lower().split())


def pinyin_syllables() -> frozenset[str]:
    """Every toneless syllable of pypinyin's character table (ü written both u and v)."""
    from pypinyin.pinyin_dict import pinyin_dict

    syllables = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            for form in {reading.replace("ü", "v"), reading.replace("ü", "u")}:
                bare = "".join(c for c in unicodedata.normalize("NFD", form) if not unicodedata.combining(c))
                syllables.add(bare)
    return frozenset(syllables)


def pinyin_spellings(word: str) -> list[str]:
    """Toneless pinyin spellings of ``word`` without spaces (every heteronym; ü as v and as u)."""
    options = [_readings(char) for char in word]
    return ["".join(combination) for combination in itertools.islice(itertools.product(*options), MAX_SPELLINGS)]


@cache
def _readings(char: str) -> tuple[str, ...]:
    """Every toneless reading of one character; a character that is not Chinese stands for itself."""
    if not _HAN.fullmatch(char):
        return (char,)
    forms: list[str] = []
    for reading in pinyin(char, style=Style.NORMAL, heteronym=True)[0]:
        for form in (reading.replace("ü", "v"), reading.replace("ü", "u")):
            if form not in forms:
                forms.append(form)
    return tuple(forms)


@dataclass(frozen=True)
class Variants:
    """Other ways of writing parts of a word: dialect forms, sentence-final particles, an aspect particle inside.

    ``within``: a part anywhere in a word -> its other forms ("没" -> "冇", "莫得": "没呼吸" is also "莫得呼吸");
    ``final``: the same at the end of a word only ("了" -> "啦", "哒": "着火了" is also "着火啦");
    ``separable``: verbs that, opening a word, may take one of ``infix`` after them ("割腕" is also "割了腕");
    ``written_only``: dialect characters nobody spells in Mandarin pinyin ("冇", "唔"): a form holding one gets
    no pinyin spellings (the pinyin "m" of 唔 would otherwise be a negation cue before any "...m").
    """

    within: dict[str, tuple[str, ...]]
    final: dict[str, tuple[str, ...]]
    separable: frozenset[str]
    infix: tuple[str, ...]
    written_only: frozenset[str] = frozenset()

    def spelt(self, form: str) -> bool:
        """Whether ``form`` gets pinyin spellings: it has a Chinese character and no written-only one."""
        return _HAN.search(form) is not None and not any(char in self.written_only for char in form)

    def of(self, word: str) -> list[str]:
        """``word`` first, then its other forms (at most :data:`MAX_VARIANTS` in all)."""
        options: list[tuple[str, ...]] = []
        keys = sorted(self.within, key=len, reverse=True)
        at = 0
        while at < len(word):
            key = next((k for k in keys if word.startswith(k, at)), None)
            if key is None:
                options.append((word[at],))
                at += 1
            else:
                options.append((key, *self.within[key]))
                at += len(key)
        forms = ["".join(parts) for parts in itertools.islice(itertools.product(*options), MAX_VARIANTS)]
        for key, others in self.final.items():
            forms += [form[: -len(key)] + other for form in forms if form.endswith(key) for other in others]
        if len(word) > 1 and word[0] in self.separable:
            forms += [form[0] + infix + form[1:] for form in forms if form[0] == word[0] for infix in self.infix]
        return list(dict.fromkeys(forms))[:MAX_VARIANTS]


def _variants(value, where: str) -> Variants:
    """The checked ``[variants]`` table (absent: no variants)."""
    here = f"{where}: [variants]"
    if not isinstance(value, dict):
        raise TriagePolicyError(f"{here} must be a table")
    _only_keys(value, VARIANT_KEYS, here)
    tables = {}
    for key in ("within", "final"):
        table = value.get(key, {})
        if not isinstance(table, dict):
            raise TriagePolicyError(f"{here} {key} must be a table of word = [other forms]")
        tables[key] = {}
        for part, others in table.items():
            if not normalise_word(part):
                raise TriagePolicyError(f"{here} {key}: a part must not be empty")
            tables[key][normalise_word(part)] = tuple(_word_list(others, f"{here} {key} {part!r}"))
    separable = _word_list(value["separable"], f"{here} separable") if "separable" in value else []
    infix = _word_list(value["infix"], f"{here} infix") if "infix" in value else []
    written = _word_list(value["written_only"], f"{here} written_only") if "written_only" in value else []
    if any(len(char) != 1 for char in written):
        raise TriagePolicyError(f"{here} written_only must be a list of single characters")
    return Variants(tables["within"], tables["final"], frozenset(separable), tuple(infix), frozenset(written))


class _Compiler:
    """Turns phrases with ``{word list}`` and ``~`` into pieces (word lists) and the automaton of their forms."""

    def __init__(self, words: dict[str, list[str]], gap: int, min_letters: int, where: str, variants: Variants):
        self.words = words
        self.gap = gap
        self.min_letters = min_letters
        self.where = where
        self.variants = variants
        self.piece_ids: dict[tuple[str, int], int] = {}
        self.forms: dict[str, set[int]] = {}
        self.by_first: dict[int, list[Phrase]] = {}
        self.ordinary_piece: int | None = None

    def _forms(self, words: list[str], min_letters: int) -> list[str]:
        """Each word and its [variants] as written, then their pinyin spellings at least ``min_letters`` long."""
        forms: dict[str, None] = {}
        for word in words:
            written = self.variants.of(word)
            forms.update(dict.fromkeys(written))
            for variant in written:
                if _HAN.search(variant) and (variant == word or self.variants.spelt(variant)):
                    # One character of three letters is too often another word's syllable ("gou": 沟 or 狗).
                    least = 4 if 0 < min_letters < 4 and len(variant) == 1 else min_letters
                    forms.update(dict.fromkeys(f for f in pinyin_spellings(variant) if len(f) >= least))
        return list(forms)

    def alternation(self, words: list[str], min_letters: int = 0) -> str:
        return _trie_regex(self._forms(words, min_letters))

    def cue(self, words: list[str]) -> re.Pattern:
        return re.compile(self.alternation(words, self.min_letters))

    def _piece(self, source: str, minimum: int, where: str, phrase: str) -> int:
        """The id of a piece: ``{name}`` (a word list) or a literal, with its pinyin forms."""
        key = (source, minimum)
        if key not in self.piece_ids:
            if source.startswith("{"):
                lists = []
                for name in re.findall(r"\{([^}]*)\}", source):
                    if name not in self.words:
                        raise TriagePolicyError(f"{where}: {phrase!r} names {{{name}}}, which is not a list in [words]")
                    lists.append(self.words[name])
                words = ["".join(parts) for parts in itertools.product(*lists)]
            else:
                words = [source]
            piece = self.piece_ids[key] = len(self.piece_ids)
            for form in self._forms(words, minimum):
                self.forms.setdefault(form, set()).add(piece)
        return self.piece_ids[key]

    def ordinary(self, words: list[str]) -> int:
        """Ordinary words that contain a rule word ("打工", "救命钱"): found, so they hide it, and in no phrase."""
        piece = self.ordinary_piece = len(self.piece_ids)
        self.piece_ids[("ordinary", 0)] = piece
        for form in self._forms(words, self.min_letters):
            self.forms.setdefault(form, set()).add(piece)
        return piece

    def phrases(self, value, where: str, rule: int, gap: int) -> None:
        """Add the phrases of ``value`` (a rule's list) for rule number ``rule``."""
        for phrase in _word_list(value, where):
            if phrase.startswith("~") or phrase.endswith("~") or "~~" in phrase:
                raise TriagePolicyError(f"{where}: {phrase!r}: ~ stands between two pieces, not at an end")
            # A piece of a longer phrase may be short in pinyin and still safe next to the others;
            # a lone piece must be long enough by itself.
            tokens = [t for t in re.split(r"(\{[^}]*\}|~)", phrase) if t]
            # Word lists written next to each other ("{force}{wrecked}") are one piece, their compounds ("泡塌"):
            # a text is searched for the compounds, not for every one-character word of either list.
            for n in range(len(tokens) - 1, 0, -1):
                if tokens[n].startswith("{") and tokens[n - 1].endswith("}"):
                    tokens[n - 1 : n + 1] = [tokens[n - 1] + tokens[n]]
            lone = len(tokens) == 1
            minimum = self.min_letters if lone else 3
            pieces: list[int] = []
            gaps: list[int] = []
            shown: list[bool] = []
            pending_gap = 0
            for piece in tokens:
                if piece == "~":
                    pending_gap = gap
                    continue
                names = re.findall(r"\{[^}]*\}", piece)
                if piece.startswith("{") and not all(_PLACEHOLDER.fullmatch(name) for name in names):
                    raise TriagePolicyError(f"{where}: {phrase!r}: {piece} is not a name of [words]")
                if pieces:
                    gaps.append(pending_gap)
                pieces.append(self._piece(piece, minimum, where, phrase))
                shown.append(lone or piece.startswith("{") or len(piece) > 1)
                pending_gap = 0
            entry = Phrase(rule, tuple(pieces), tuple(gaps), frozenset(pieces), tuple(shown))
            self.by_first.setdefault(pieces[0], []).append(entry)

    def automaton(self, cues: list[tuple[list[str], int]]) -> ahocorasick.Automaton:
        """One automaton of the forms of the pieces and of ``cues`` (words, the fewest pinyin letters of a form;
        as :meth:`cue` and :meth:`alternation` compile them), as :attr:`TriagePolicy.automaton` holds them."""
        bits: dict[str, int] = {}
        for place, (words, min_letters) in enumerate(cues):
            for form in self._forms(words, min_letters):
                bits[form] = bits.get(form, 0) | 1 << place
        automaton = ahocorasick.Automaton()
        for form in self.forms.keys() | bits.keys():
            pieces = self.forms.get(form, set())
            automaton.add_word(
                form, (len(form), tuple(sorted(pieces)), self.ordinary_piece in pieces, bits.get(form, 0))
            )
        automaton.make_automaton()
        return automaton


def _trie_regex(words: list[str]) -> str:
    """One alternation of ``words`` as a prefix tree ("不(?:想活|活了)").

    At each position the regular expression engine then tests one character per branch instead of
    every word (a rule's 400 words and pinyin spellings cost 7 µs per text as a flat list, 0.6 µs so);
    a word that is a prefix of a longer one makes its continuation optional, so the longest matches.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(char) + build(child) for char, child in node.items() if char]
        if not branches:
            return ""
        ends = "" in node
        if len(branches) == 1 and not ends:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" + ("?" if ends else "")

    return build(trie)


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
