"""What the triage engine's shortcuts rest on: the cheaper NFKC gives NFKC's result, and the presence bits read
from the automaton's one pass agree with the patterns of the cues and topics they stand for."""

import unicodedata
from pathlib import Path

import pytest

from config.settings import ROOT
from hotline.policy import load_catalogue
from hotline.triage import load_triage_policy
from hotline.triage.engine import _SPACE, _fold
from hotline.triage.labelled import read_labelled
from hotline.triage.policy import _WIDE, PRESENCE_CUES, nfkc

DATA = Path(__file__).parent / "data"
POLICY_DIR = ROOT / "config" / "policy"
CATEGORIES = {c.code for c in load_catalogue(POLICY_DIR / "catalogue.toml").categories}


def _texts() -> list[str]:
    texts = [text for _label, text in read_labelled(DATA / "triage_labelled.tsv")]
    texts += [text for _label, text in read_labelled(POLICY_DIR / "triage_examples.tsv")]
    # Spaced and full-width forms, so the cues are also met across spaces and after NFKC.
    texts += [" ".join(text) for text in texts[::7]]
    texts += ["".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text) for text in texts[::11]]
    return texts


def test_nfkc_is_unicode_nfkc_beside_any_character():
    neighbours = [chr(code) for code in range(0x300, 0x370)] + ["\u3099", "\u309a", "ｶ", "ﾞ", "ﬁ", "…", "Ａ", "孩", "a"]
    neighbours += [wide for wide, _narrow in _WIDE]
    for wide, narrow in _WIDE:
        assert unicodedata.normalize("NFKD", wide) == narrow
        for other in neighbours:
            for text in (wide + other, other + wide, other + wide + other + wide):
                assert nfkc(text) == unicodedata.normalize("NFKC", text), repr(text)
    for text in _texts():
        assert nfkc(text) == unicodedata.normalize("NFKC", text)


@pytest.fixture(scope="module")
def policy():
    return load_triage_policy(POLICY_DIR / "triage.toml", CATEGORIES)


def test_the_presence_bits_agree_with_the_patterns_of_their_cues_and_topics(policy):
    plain = ("hypothetical", "resolved", "topic", "framing", "past", "recent", "calm", "safe", "asking", "question")
    seen = dict.fromkeys([*PRESENCE_CUES, *(f"topic {n}" for n in range(len(policy.topics)))], 0)
    for text in _texts():
        norm = _SPACE.sub("", _fold(text))
        present = 0
        for _end, (_length, _pieces, _ordinary, bits) in policy.automaton.iter(norm):
            present |= bits
        for name in plain:
            found = getattr(policy, name).search(norm) is not None
            assert bool(present & 1 << PRESENCE_CUES.index(name)) == found, (name, text)
            seen[name] += found
        for n, topic in enumerate(policy.topics):
            found = topic.pattern.search(norm) is not None
            assert bool(present >> (len(PRESENCE_CUES) + n) & 1) == found, (topic.category, text)
            seen[f"topic {n}"] += found
        # These patterns need more than a cue word (a filler, what does not follow): a match needs the bit.
        for name in ("negation", "worry"):
            pattern = getattr(policy, name)
            if any(pattern.search(norm, 0, end) for end in range(len(norm) + 1)):
                assert present & 1 << PRESENCE_CUES.index(name), (name, text)
                seen[name] += 1
        if policy.experienced.search(norm):
            assert present & 1 << PRESENCE_CUES.index("experienced"), text
            seen["experienced"] += 1
    # Every cue and topic was met at least once (but enquiry: the policy keeps no pattern of it, only its bit).
    assert [name for name, count in seen.items() if not count and name != "enquiry"] == []
