"""The Simplified Chinese catalogue: complete, consistent with the code, and used by the pages.

Every msgid Babel extracts from the code (the same ``babel.cfg`` and keywords as
``pybabel extract``) must have a non-empty, non-fuzzy zh_CN translation whose
placeholders match. The compiled catalogue is written here when it is missing or
older than the ``.po`` file, so ``pytest`` works without ``make translations``.
"""

import re
from collections import Counter
from functools import cache

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from config.settings import ROOT
from hotline.catalogues import compile_stale
from tests.conftest import post_form

TRANSLATIONS = ROOT / "hotline" / "translations"
PO = TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
#: The keywords of ``pybabel extract -k _l -k lazy_gettext`` (``_``, ``gettext``, ``ngettext``... are defaults).
KEYWORDS = DEFAULT_KEYWORDS | {"_l": None, "lazy_gettext": None}

NAMED = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
CJK = r"[\u3400-\u9fff]"
#: ASCII punctuation touching a Chinese character: Chinese sentences use ，。：；？！（）.
ASCII_PUNCT_BY_CJK = re.compile(rf"{CJK}[,.;:?!()]|[,;:?!()]{CJK}")
#: A Chinese term the English msgid already carries, e.g. "Lead (主办)".
ZH_IN_PARENS = re.compile(rf"\(({CJK}+)\)")


def _read_po() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="zh_CN")


# At collection, before any test reads the compiled catalogue (``create_app`` does the same on every start).
compile_stale(TRANSLATIONS)


@cache
def extracted() -> Catalog:
    """What ``pybabel extract -F babel.cfg -k _l -k lazy_gettext`` would put in the .pot, as a catalogue in memory."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    catalog = Catalog(locale="zh_CN")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


@cache
def translated() -> Catalog:
    return _read_po()


def where(message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:3])


def msgstrs(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def msgids(message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


def test_the_code_has_messages_to_translate():
    ids = {m.id for m in extracted() if m.id}
    assert len(ids) > 300
    assert "Log in" in ids and "Log a call" in ids  # a template and a view


def test_every_extracted_message_has_a_zh_cn_translation():
    po = translated()
    missing, empty, fuzzy = [], [], []
    for message in extracted():
        if not message.id:
            continue
        found = po.get(message.id, context=message.context)
        if found is None:
            missing.append(f"{message.id!r} ({where(message)})")
        elif found.fuzzy:
            fuzzy.append(f"{message.id!r} ({where(message)})")
        elif not all(s.strip() for s in msgstrs(found)):
            empty.append(f"{message.id!r} ({where(message)})")
    assert not missing, "not in messages.po: run the extract/update commands of the README:\n" + "\n".join(missing)
    assert not fuzzy, "fuzzy in messages.po (Flask-Babel ignores them):\n" + "\n".join(fuzzy)
    assert not empty, "untranslated in messages.po:\n" + "\n".join(empty)


def test_the_catalogue_has_no_fuzzy_entries_at_all():
    assert [m.id for m in translated() if m.id and m.fuzzy] == []


def test_placeholders_of_each_translation_match_the_original():
    wrong = []
    for message in translated():
        if not message.id or not message.string:
            continue
        # With plural forms (none in Chinese), the plural msgid names every placeholder.
        msgid = msgids(message)[-1]
        expected = Counter(NAMED.findall(msgid))
        for msgstr in msgstrs(message):
            if Counter(NAMED.findall(msgstr)) != expected:
                wrong.append(f"{msgid!r} -> {msgstr!r}")
            elif message.python_format:
                # Flask-Babel interpolates with a dict: a stray "%" or an unescaped "%%" breaks at run time.
                try:
                    msgstr % dict.fromkeys(expected, 1)
                except (KeyError, ValueError, TypeError) as exc:
                    wrong.append(f"{msgid!r} -> {msgstr!r}: {exc}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_chinese_sentences_use_chinese_punctuation():
    wrong = [f"{m.id!r} -> {s!r}" for m in translated() if m.id for s in msgstrs(m) if ASCII_PUNCT_BY_CJK.search(s)]
    assert not wrong, "use ，。：；？！（） next to Chinese text:\n" + "\n".join(wrong)


def test_a_chinese_term_already_in_the_msgid_is_not_repeated():
    """ "Lead (主办)" is 主办, not 主办（主办）: the term in brackets only when it is not said already."""
    wrong = [
        f"{m.id!r} -> {s!r}"
        for m in translated()
        if m.id
        for term in ZH_IN_PARENS.findall(m.id)
        for s in msgstrs(m)
        if f"（{term}）" in s and s.count(term) > 1
    ]
    assert not wrong, "\n".join(wrong)


def test_the_compiled_catalogue_carries_every_translation():
    compile_stale(TRANSLATIONS)  # again: the .po may have changed since collection
    with MO.open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    expected = {m.id: m.string for m in _read_po() if m.id and m.string and not m.fuzzy}
    assert compiled == expected


@pytest.fixture
def english(client):
    assert post_form(client, "/language", {"locale": "en"}, page="/login").status_code == 302
    return client


def test_pages_speak_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert ">登录<" in html
    assert "24小时救助热线" in html
    assert "Log in" not in html


def test_pages_speak_english_after_switching(english):
    html = english.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert ">Log in<" in html
    assert "登录" not in html


def test_messages_from_python_code_are_translated_too(client):
    """A lazy label from ``hotline/labels.py`` (the login-required flash) reaches the page in Chinese."""
    response = client.get("/desk", follow_redirects=True)
    assert "请先登录。" in response.get_data(as_text=True)


def test_the_desk_is_in_chinese_for_an_operator(client, logged_in, operator):
    html = logged_in(operator).get("/desk").get_data(as_text=True)
    for text in ("工作台", "来电登记", "工单队列", "我的在办工单", "待认领"):
        assert text in html


def test_each_message_is_translated_once():
    """Branches append their messages to messages.po and merge by union: a message two of them added would get
    two translations, of which the compiled catalogue silently keeps one."""
    text = PO.read_text(encoding="utf-8")
    ids = Counter(
        (context or "") + msgid
        for context, msgid in re.findall(r'^(msgctxt ".*"\n)?msgid ((?:".*"\n)+)msgstr', text, flags=re.M)
    )
    repeated = [key.strip() for key, n in ids.items() if n > 1]
    assert not repeated, "translated more than once in messages.po:\n" + "\n".join(repeated)
