"""Triage of one text: which priority and category its words suggest, and which words they were.

The text is normalised (NFKC, lower case, tone marks and tone digits off, spaces removed, lone surrogates
dropped), every rule's precompiled pattern runs over it, and each match is checked against the cues around it
(negation, hypothetical, resolved, enquiry framing, topic). Nothing here reads a file or the clock: the policy
comes compiled, its dialect and particle variants included.
"""

import logging
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cached_property, reduce
from itertools import pairwise
from operator import itemgetter, or_

from hotline.triage.loading import current, load_at_start
from hotline.triage.policy import PRESENCE_CUES, SENTENCE_END, Phrase, TriagePolicy, load_triage_policy, nfkc
from models.ticket import URGENT_PRIORITIES

log = logging.getLogger(__name__)

LEVEL_ORDER = ("P0", "P1", "P2", "P3")
_SURROGATES = re.compile("[\ud800-\udfff]")
#: Latin letters with tone marks or diaeresis to the bare letter ("wǒ bù xiǎng" -> "wo bu xiang"), one for one.
_TONES = {
    code: unicodedata.normalize("NFD", chr(code))[0]
    for code in range(0xC0, 0x250)
    if len(unicodedata.normalize("NFD", chr(code))) > 1 and unicodedata.normalize("NFD", chr(code))[0].isascii()
}
_TONED = re.compile("[" + "".join(chr(code) for code in _TONES) + "]")
_SPACE = re.compile(r"\s")
#: A tone digit right after the last letter of a pinyin syllable ("wo3 bu4 xiang3 huo2 le"): read as a space.
_TONE_DIGIT = re.compile(r"(?<=[aeiouvngr])[1-5](?![0-9])")
_LATIN = re.compile("[a-z]")
_SENTENCE = re.compile(f"[{re.escape(SENTENCE_END)}]")
_HYPOTHETICAL, _RESOLVED, _TOPIC, _FRAMING, _PAST, _RECENT, _CALM, _SAFE, _ASKING, _QUESTION = (
    1 << PRESENCE_CUES.index(name)
    for name in ("hypothetical", "resolved", "topic", "framing", "past", "recent", "calm", "safe", "asking", "question")
)
_ENQUIRY, _NEGATION, _WORRY, _EXPERIENCED = (
    1 << PRESENCE_CUES.index(name) for name in ("enquiry", "negation", "worry", "experienced")
)
_ASKING_QUESTION = _ASKING | _QUESTION
_PAST_RECENT = _PAST | _RECENT
#: The cues :func:`_discounted` looks for: a text with none of them has no match discounted.
_DISCOUNTING = _NEGATION | _HYPOTHETICAL | _RESOLVED | _FRAMING | _TOPIC
#: The bit of the first [[topic]] in :attr:`TriagePolicy.automaton`'s values; the next topic's is the next bit.
_FIRST_TOPIC = len(PRESENCE_CUES)
_VALUE, _BITS = itemgetter(1), itemgetter(3)
#: How far before a match a negation cue with its filler may start.
NEGATION_REACH = 8
#: A space between two runs of at least two non-latin characters: the writer's clause boundary. A negation does
#: not reach across it to the first piece of a phrase of several, the subject of a new clause ("家里没人
#: 孩子走丢了": nobody is home, and the child is lost); it still does to a single word ("没有 人受伤了"). Spaces
#: between single characters ("我 不 想 活 了") and inside pinyin are spelling, not boundaries.
_BREAK = re.compile(r"(?<=[^\sa-z0-9]{2})\s+(?=[^\sa-z0-9]{2})")
#: How far before a match a first-person or intent marker counts.
STATEMENT_REACH = 2


@dataclass(frozen=True)
class Triage:
    """The suggestion for one text."""

    priority: str
    category: str
    #: The words that matched, as written in the text, for "命中：走丢".
    reasons: tuple[str, ...]
    #: The matched rule group (``missing_child``, ``suicide``...); None for a routine text.
    kind: str | None

    @property
    def urgent(self) -> bool:
        """P0 or P1: an alert for the operators on duty."""
        return self.priority in URGENT_PRIORITIES

    def as_dict(self) -> dict:
        return {"priority": self.priority, "category": self.category, "kind": self.kind, "reasons": list(self.reasons)}


#: The triage of a routine text that holds an enquiry cue, and of one that holds none (nor a topic word).
_ENQUIRY_TRIAGE = Triage("P3", "policy_enquiry", (), None)
_OTHER_TRIAGE = Triage("P3", "other", (), None)


def triage_text(text: str, policy: TriagePolicy | None = None) -> Triage:
    """Triage ``text`` (any string: empty, very long, odd unicode) against ``policy`` (default: the app's)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return _triage(text, policy or current_policy())


def current_policy() -> TriagePolicy:
    """The policy loaded at application start; outside an application, the configured one (loaded once)."""
    return current("triage", load_triage_policy, "triage.toml")


def init_triage(app) -> None:
    """Load ``triage.toml`` once at start-up, checking its categories against the app's catalogue."""
    load_at_start(app, "triage", load_triage_policy, "triage.toml")


def normalise(text: str) -> tuple[str, list[int] | None]:
    """The text as rules see it, and for each of its characters the index in ``text`` (None: the same)."""
    text = _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text
    folded = _fold(text)
    if len(folded) == len(text) and not _SPACE.search(folded):
        return folded, None
    return _SPACE.sub("", folded), _index(text, folded)


def _fold(text: str) -> str:
    """NFKC, lower case, tone marks and tone digits off; spaces still in."""
    folded = nfkc(text).lower()
    if len(folded) != len(text):
        folded = "".join(unicodedata.normalize("NFKC", char).lower() for char in text)
    elif _LATIN.search(folded) and _TONE_DIGIT.search(folded):
        folded = _TONE_DIGIT.sub(" ", folded)  # one for one: the index of the text stays as it is
    return folded.translate(_TONES) if _TONED.search(folded) else folded


def _index(text: str, folded: str) -> list[int]:
    """For each character of the normalised text, the index of the character of ``text`` it comes from."""
    if len(folded) == len(text):  # one for one: only the spaces go
        return [n for n, char in enumerate(folded) if not char.isspace()]
    index = []
    for n, char in enumerate(text):
        for out in unicodedata.normalize("NFKC", char).lower():
            if not out.isspace():
                index.append(n)
    return index


def _triage(text: str, policy: TriagePolicy) -> Triage:
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    folded = _fold(text)
    mapped = len(folded) != len(text) or _SPACE.search(folded) is not None
    norm = _SPACE.sub("", folded) if mapped else folded
    bounds = _syllable_bounds(folded, policy.syllables) if _LATIN.search(norm) else None
    hits = list(policy.automaton.iter(norm))
    # The bits of the PRESENCE_CUES (and topics) that occur in the text.
    present = reduce(or_, map(_BITS, map(_VALUE, hits)), 0)
    matches = _matches(policy, norm, hits, bounds)
    if not matches:
        return _routine(text, folded, mapped, norm, policy, present)
    negation = bool(present & _NEGATION)
    calm = bool(present & _CALM) and _affirmed(policy, policy.calm, norm, negation)
    # "只是问问" calms a text that asks something, not one that tells: "就问问低保 还有我老公又打我了 我跑出来了".
    calm = calm or (present & _ASKING_QUESTION == _ASKING_QUESTION and _affirmed(policy, policy.asking, norm, negation))
    safe = bool(present & _SAFE) and _affirmed(policy, policy.safe, norm, negation)
    cues = _Cues(present, folded if mapped else None)
    past_or_recent = present & _PAST_RECENT
    worry = present & _WORRY
    experienced = present & _EXPERIENCED
    rules = policy.rules
    # (rule number, level, phrase, spans) of each match that counts
    found: list[tuple[int, int, Phrase, list[tuple[int, int]]]] = []
    best = len(LEVEL_ORDER)
    for phrase, spans in matches:
        rule = rules[phrase.rule]
        level = rule.level
        if level > best:
            continue  # cues only lower a level: this match cannot reach the best one found
        if present & _DISCOUNTING and _discounted(policy, norm, spans, cues):
            continue
        if rule.possessive_breaks and len(spans) > 1 and norm.startswith("的", spans[0][1]):
            continue
        lower = calm or (safe and level == 0)
        # "担心房子倒塌": a worry right before the match is one level lower.
        if worry and policy.worry.search(norm, max(0, spans[0][0] - NEGATION_REACH), spans[0][0]):
            lower += 1
        if experienced and policy.experienced.match(norm, spans[-1][1]):
            lower = 2
        elif past_or_recent:
            # A past-time cue around the match or between its pieces, and none of now: "我爸去年去世了",
            # "以前走丢过", "走了三年了"; a recent one only ends a danger that does not last: "昨晚着火了".
            start, end = spans[0][0], spans[-1][1]
            around = _SENTENCE.split(norm[max(0, start - policy.hypothetical_window) : end])[-1]
            around += _SENTENCE.split(norm[end : end + policy.resolved_window])[0]
            if policy.present.search(around) is None:
                if policy.past.search(around):
                    lower = 2  # long ago: no longer urgent
                elif level == 0 and not rule.lasting and policy.recent.search(around):
                    lower += 1
        if level < 2:
            level += lower
            if level > 2:
                level = 2
        if level < best:
            best = level
        found.append((phrase.rule, level, phrase, spans))
    if not found:
        return _routine(text, folded, mapped, norm, policy, present)
    # The rule with the most matched characters names the category (file order breaks a tie), a rule that
    # says what happened before a generic one. Only the matches of the best level are spelt out.
    index = _index(text, folded) if mapped else None
    weight: dict[int, int] = {}
    shown: list[tuple[int, list[str]]] = []
    for rule_number, level, phrase, spans in found:
        if level == best:
            if index is None:
                match = [text[start:end] for (start, end), show in zip(spans, phrase.shown, strict=True) if show]
            else:
                match = [
                    text[index[start] : index[end - 1] + 1]
                    for (start, end), show in zip(spans, phrase.shown, strict=True)
                    if show
                ]
            shown.append((rule_number, match))
            weight[rule_number] = weight.get(rule_number, 0) + sum(map(len, match))
    if len(weight) == 1:  # one rule: it is chosen, and its matches stay in their order
        top = shown
    else:
        chosen = min(weight, key=lambda r: (rules[r].generic, -weight[r], r))
        top = sorted(shown, key=lambda f: (f[0] != chosen, f[0]))
    words = list(dict.fromkeys(top[0][1] if len(top) == 1 else [w for _rule, match in top for w in match]))
    rule = rules[top[0][0]]
    return Triage(LEVEL_ORDER[best], rule.category, _outermost(words), rule.kind)


def _outermost(words: list[str]) -> tuple[str, ...]:
    """Each of ``words`` (distinct) that is not part of a longer one of them ("娃丢了", not also "娃")."""
    if len(words) < 2:
        return tuple(words)
    joined = "\0".join(words)
    if joined.count("\0") == len(words) - 1:
        # No word holds the separator: a word occurs in the joined words more than once (its own place being
        # one) exactly when it is part of another word.
        return tuple([w for w in words if joined.count(w) == 1])
    return tuple(w for w in words if not any(w in x and w != x for x in words))


def _routine(text: str, folded: str, mapped: bool, norm: str, policy: TriagePolicy, present: int) -> Triage:
    """The triage of a text no rule counted: the first [[topic]] it holds a word of (that word its reason), or an
    enquiry, or other."""
    if present >> _FIRST_TOPIC:
        for n, topic in enumerate(policy.topics, start=_FIRST_TOPIC):
            if present >> n & 1:
                start, end = topic.pattern.search(norm).span()
                if mapped:
                    index = _index(text, folded)
                    return Triage("P3", topic.category, (text[index[start] : index[end - 1] + 1],), None)
                return Triage("P3", topic.category, (text[start:end],), None)
    return _ENQUIRY_TRIAGE if present & _ENQUIRY else _OTHER_TRIAGE


def _affirmed(policy: TriagePolicy, cue: re.Pattern, norm: str, negation: bool) -> bool:
    """Whether ``cue`` occurs in ``norm`` without a negation right before it: "不是没有危险" is not safe."""
    for found in cue.finditer(norm):
        start = found.start()
        if not negation or not policy.negation.search(norm, max(0, start - NEGATION_REACH), start):
            return True
    return False


def _breaks(folded: str) -> tuple[int, ...]:
    """The positions in the normalised text (no spaces) where a clause boundary space (:data:`_BREAK`) stood."""
    breaks: list[int] = []
    # ``removed``: the spaces before this one, which the normalised text does not have.
    for removed, space in enumerate(_SPACE.finditer(folded)):
        at = space.start() - removed
        if _BREAK.match(folded, space.start()) and (not breaks or breaks[-1] != at):
            breaks.append(at)
    return tuple(breaks)


def _reach(start: int, breaks: tuple[int, ...]) -> int:
    """Where the look-back for a negation before ``start`` begins: NEGATION_REACH, not across a break."""
    lowest = max(0, start - NEGATION_REACH)
    n = bisect_right(breaks, start) - 1
    return max(lowest, breaks[n]) if n >= 0 else lowest


def _syllable_bounds(folded: str, syllables: frozenset[str]) -> set[int]:
    """Positions in the normalised text where a pinyin syllable starts or ends.

    Each run of latin letters (spaces and other characters end it) is cut into syllables, longest first;
    a letter that starts no syllable stands alone.
    """
    bounds: set[int] = set()
    position = 0  # in the normalised text, which has no spaces
    run_start = None
    for char in folded + " ":
        if "a" <= char <= "z":
            if run_start is None:
                run_start, letters = position, []
            letters.append(char)
        elif run_start is not None:
            run = "".join(letters)
            at = 0
            bounds.add(run_start)
            while at < len(run):
                size = next((n for n in range(min(6, len(run) - at), 0, -1) if run[at : at + n] in syllables), 1)
                at += size
                bounds.add(run_start + at)
            run_start = None
        if not char.isspace():
            position += 1
    return bounds


def _occurrences(
    policy: TriagePolicy, norm: str, hits: list, bounds: set[int] | None = None
) -> dict[int, list[tuple[int, int]]]:
    """piece id -> the spans where one of its forms occurs, from the ``hits`` of one pass of the automaton.

    A word inside a longer word of the same piece is left out ("女儿" counts, not the "儿" in it). An
    ordinary word wins over a rule word it overlaps without being part of it, as a segmenter would cut the
    text: "救命" in "救命钱", "一直打" in "一直打不通" ("打不通"), "打" in "打工".
    """
    # By start, the longer first (-end sorts so); a word then comes after any word of its piece containing it.
    found = sorted(
        [
            (last + 1 - length, -last - 1, pieces, ordinary)
            for last, (length, pieces, ordinary, _bits) in hits
            if pieces  # not a form only of cues
        ]
    )
    if not found:
        return {}
    ordinary = [(start, -negative_end) for start, negative_end, _pieces, is_ordinary in found if is_ordinary]
    starts = [start for start, _end in ordinary] if ordinary else None
    # Each piece's spans; the end of its last one is how far its words reach so far.
    spans: dict[int, list[tuple[int, int]]] = {}
    for start, negative_end, pieces, is_ordinary in found:
        end = -negative_end
        if bounds is not None and "a" <= norm[start] <= "z" and (start not in bounds or end not in bounds):
            continue  # pinyin cut across syllables
        if ordinary and not is_ordinary:
            n = bisect_left(starts, start - policy.ordinary_longest + 1)
            overlapped = False
            while n < len(ordinary) and ordinary[n][0] < end:
                other_start, other_end = ordinary[n]
                if other_end > start and not (start <= other_start and other_end <= end):
                    overlapped = True
                    break
                n += 1
            if overlapped:
                continue
        for piece in pieces:
            known = spans.get(piece)
            if known is None:
                spans[piece] = [(start, end)]
            elif end > known[-1][1]:
                known.append((start, end))
    return spans


def _matches(policy: TriagePolicy, norm: str, hits: list, bounds: set[int] | None = None) -> list[tuple[Phrase, list]]:
    """Each phrase that occurs in ``norm`` (``hits``: of the automaton on it), with the span of each of its pieces."""
    spans = _occurrences(policy, norm, hits, bounds)
    matches: list[tuple[Phrase, list[tuple[int, int]]]] = []
    by_first = policy.phrases_by_first
    for first, first_spans in spans.items():
        for phrase in by_first.get(first, ()):
            links = phrase.links
            if not links:
                matches += [(phrase, [start]) for start in first_spans]
                continue
            if not phrase.needed <= spans.keys():
                continue
            for start in first_spans:
                found = [start]
                after = start[1]
                for piece, gap in links:
                    # The nearest span of the next piece starting within the gap (spans are sorted by start).
                    candidates = spans[piece]
                    n = bisect_left(candidates, (after, -1))
                    if n == len(candidates) or candidates[n][0] > after + gap:
                        break
                    nearest = candidates[n]
                    if nearest[0] > after and _SENTENCE.search(norm, after, nearest[0]):
                        break
                    found.append(nearest)
                    after = nearest[1]
                else:
                    matches.append((phrase, found))
    return matches


@dataclass
class _Cues:
    """Which kinds of cue occur anywhere in the text: a kind that does not is not looked for around matches."""

    #: The bits of :data:`PRESENCE_CUES` of the cues that occur.
    present: int
    #: The folded text if it had spaces (None: it had none), for :attr:`breaks`.
    spaced: str | None = None

    @cached_property
    def breaks(self) -> tuple[int, ...]:
        """Clause-boundary spaces (positions in the normalised text) that a negation does not reach across, nor
        the look for a topic word after a single word; found only when a match needs them."""
        return _breaks(self.spaced) if self.spaced is not None else ()


def _discounted(policy: TriagePolicy, norm: str, spans: list[tuple[int, int]], cues: _Cues) -> bool:
    """Whether a match (the spans of its pieces) is negated, hypothetical, resolved, framed as an enquiry
    or a topic of a question.

    A negation counts before any piece ("孩子没有走丢"), in the gap before it for a later piece; only a single
    word can be a topic ("自杀干预"): pieces joined by ``~`` describe a situation.
    """
    start, end = spans[0][0], spans[-1][1]
    present = cues.present
    if present & _NEGATION:
        # Before the first piece: up to NEGATION_REACH, and for a phrase of several pieces not across a clause break.
        lowest = _reach(start, cues.breaks) if len(spans) > 1 and cues.spaced is not None else start - NEGATION_REACH
        if policy.negation.search(norm, max(0, lowest), start):
            return True
        # Before a later piece, only the gap before it: a negation inside the piece before it is part of the phrase
        # ("没人能带他": {nobody}~{care}), not a negation of it.
        for (_previous_start, previous_end), (piece_start, _piece_end) in pairwise(spans):
            if policy.negation.search(norm, max(0, piece_start - NEGATION_REACH, previous_end), piece_start):
                return True
    if present & _HYPOTHETICAL:
        before = _SENTENCE.split(norm[max(0, start - policy.hypothetical_window) : start])[-1]
        if policy.hypothetical.search(before):
            return True
    if present & _RESOLVED:
        after = norm[end : end + policy.resolved_window]
        for resolved in policy.resolved.finditer(_SENTENCE.split(after)[0]):
            # "不是开玩笑" is not a resolution.
            cue = end + resolved.start()
            if not policy.negation.search(norm, max(0, cue - NEGATION_REACH), cue):
                return True
    if present & _FRAMING and policy.framing.search(_SENTENCE.split(norm[end : end + policy.topic_window])[0]):
        return True  # "溺水了怎么预防", "农药中毒住院能报销多少": about the event, not reporting one
    if not present & _TOPIC or norm[end - 1 : end + 1].find("了") >= 0:
        return False  # "房子塌了": a statement of what happened, even if a question about help follows
    if len(spans) > 1:
        # Several pieces describe a situation, unless they qualify a topic: "房屋倒塌的补助标准".
        joiner = policy.topic_joiner.match(norm, end)
        return joiner is not None and policy.topic.match(norm, joiner.end()) is not None
    if policy.statement_before.search(norm, max(0, start - STATEMENT_REACH), start):
        return False
    # The topic word must be in the same clause, or in the next ones if they ask ("家暴的案子 怎么申请保护令",
    # "乞讨 是真困难还是假的 想了解一下"): "说我不回消息就去死 现在电话也不接" is no question about a hotline (电话).
    stop = end + policy.topic_window
    n = bisect_left(cues.breaks, end)
    if n < len(cues.breaks) and cues.breaks[n] < stop and not policy.question.search(norm, cues.breaks[n], stop):
        stop = cues.breaks[n]
    after = _SENTENCE.split(norm[end:stop])[0]
    return policy.topic.search(after) is not None
