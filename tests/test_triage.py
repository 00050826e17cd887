"""Triage of texts: the engine on the labelled set and on specific behaviours, the policy loader, the CLI."""

import gc
import json
import shutil
import time
from pathlib import Path

import pytest

from config.settings import ROOT
from hotline import create_app
from hotline.policy import load_catalogue
from hotline.triage import Triage, TriagePolicyError, load_triage_policy, triage_by_rules, triage_text
from hotline.triage.score import TARGETS, main, read_labelled, score
from tests.conftest import app_config

DATA = Path(__file__).parent / "data"
POLICY_DIR = ROOT / "config" / "policy"
CATEGORIES = {c.code for c in load_catalogue(POLICY_DIR / "catalogue.toml").categories}


# --- the labelled set -----------------------------------------------------------------------------


def test_labelled_set_meets_the_issue_targets():
    pairs = read_labelled(DATA / "triage_labelled.tsv")
    labels = [label for label, _text in pairs]
    assert len(pairs) >= 200
    assert min(labels.count("P0"), labels.count("P1"), labels.count("routine")) >= 50

    figures, scored = score(pairs)

    assert figures["urgent_kept"]["of"] == labels.count("P0") + labels.count("P1")
    assert figures["urgent_kept"]["share"] >= TARGETS["urgent_kept"]
    assert figures["danger_found"]["share"] >= TARGETS["danger_found"]
    assert figures["routine_raised"]["share"] <= TARGETS["routine_raised"]
    assert {s.result.category for s in scored} <= CATEGORIES


def test_an_independently_written_set_meets_the_issue_targets():
    # Written blind to the rules by someone other than their author (dialect, third parties, digits, pinyin,
    # enquiries that name a danger); the rules were extended on it afterwards, so it guards against regressions.
    # Its held-out part, triage_fresh_heldout.tsv, was not tuned on until the word families of its seven misses
    # were generalised (dialect negation, result compounds, an unseen elder, a follow-up); since then the
    # probes 3-10, each scored before the changes it led to, are the measure of generalisation.
    pairs = read_labelled(DATA / "triage_fresh.tsv")
    labels = [label for label, _text in pairs]
    assert len(pairs) >= 240
    assert min(labels.count("P0"), labels.count("P1"), labels.count("routine")) >= 60

    figures, scored = score(pairs)

    assert figures["urgent_kept"]["of"] == labels.count("P0") + labels.count("P1")
    assert figures["danger_found"]["of"] == labels.count("P0")
    assert figures["routine_raised"]["of"] == labels.count("routine")
    assert figures["urgent_kept"]["share"] >= TARGETS["urgent_kept"]
    assert figures["danger_found"]["share"] >= TARGETS["danger_found"]
    assert figures["routine_raised"]["share"] <= TARGETS["routine_raised"]
    assert {s.result.category for s in scored} <= CATEGORIES


def test_the_probe_sets_meet_the_issue_targets():
    # Probes 2-14 were each written before the rule changes they led to (dialects, result compounds, pinyin,
    # third parties, follow-ups), then kept as regression guards.
    for name in (f"triage_probe{n}.tsv" for n in range(2, 15)):
        figures, _scored = score(read_labelled(DATA / name))
        assert figures["urgent_kept"]["share"] >= TARGETS["urgent_kept"], name
        assert figures["danger_found"]["share"] >= TARGETS["danger_found"], name
        assert figures["routine_raised"]["share"] <= TARGETS["routine_raised"], name


def test_score_command_prints_the_three_figures(capsys, tmp_path):
    assert main([str(DATA / "triage_labelled.tsv")]) == 0
    out = capsys.readouterr().out
    assert "urgent (P0/P1) triaged P0 or P1:" in out
    assert "danger to life (P0) triaged P0:" in out
    assert "routine triaged P0 or P1:" in out

    # A file where every urgent text is missed fails the targets: exit status 1, and --misses lists them.
    missed = tmp_path / "missed.tsv"
    missed.write_text("P0\t请问低保怎么申请\nroutine\t我不想活了\n", encoding="utf-8")
    assert main([str(missed), "--misses"]) == 1
    out = capsys.readouterr().out
    assert "0.0% (0/1" in out and "100.0% (1/1" in out
    assert "MISS P0\t请问低保怎么申请" in out


def test_a_line_with_an_unknown_label_is_refused_with_its_line_number(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("P0\t我不想活了\nurgent\t孩子走丢了\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2:"):
        read_labelled(bad)


# --- behaviours -----------------------------------------------------------------------------------


def test_the_issue_example_is_a_missing_child_now():
    result = triage_text("我家孩子走丢了，在县城汽车站附近")
    assert isinstance(result, Triage)
    assert (result.priority, result.category, result.kind) == ("P0", "child_protection", "missing_child")
    assert result.reasons == ("孩子", "走丢")
    assert result.as_dict() == {
        "priority": "P0",
        "category": "child_protection",
        "kind": "missing_child",
        "reasons": ["孩子", "走丢"],
    }


@pytest.mark.parametrize(
    ("text", "priority", "kind"),
    [
        ("我不想活了", "P0", "suicide"),
        ("俺娘喝了农药 在吐白沫", "P0", "poisoning"),
        ("楼下着火了 里面还有人出不来", "P0", "fire_gas"),
        ("他拿着菜刀说要杀了我", "P0", "violence"),
        ("我爸倒在地上叫不醒", "P0", "unconscious"),
        ("有个小孩掉进河里了", "P0", "drowning_trapped"),
        ("老公查出癌症 家里实在拿不出钱", "P1", "serious_illness"),
        ("暴雨把我家土房子冲垮了", "P1", "home_destroyed"),
        ("在外地钱包被偷了 回不了家", "P1", "stranded"),
        ("家里断粮两天了", "P1", "no_food"),
        ("我现在无依无靠 不知道该怎么办", "P1", "destitute"),
        ("隔壁独居的王大爷好几天没见出门了", "P1", "elderly_unseen"),
        ("老公天天打我 我带着孩子跑出来了", "P1", "domestic_violence"),
        ("孩子他爸在工地出事走了 家里没收入了", "P1", "breadwinner_died"),
        ("老板拖欠了三个月工资", "P2", "unpaid_wages"),
    ],
)
def test_each_group_of_the_issue_gets_its_level(text, priority, kind):
    result = triage_text(text)
    assert (result.priority, result.kind) == (priority, kind)
    assert result.reasons and all(reason in text for reason in result.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "没有危险，只是咨询",
        "我家孩子没有走丢 是去亲戚家了",
        "我没有想自杀 就是心情不好想找人聊聊",
        "孩子走丢了一会儿 已经找到了 谢谢",
        "如果家里着火了应该怎么办",
    ],
)
def test_negated_resolved_and_hypothetical_texts_stay_routine(text):
    result = triage_text(text)
    assert (result.priority, result.kind) == ("P3", None)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("火灾救助政策怎么申请", "policy_enquiry"),
        ("自杀干预热线是多少", "policy_enquiry"),
        ("医疗救助需要什么材料", "medical_aid"),
        ("请问低保怎么申请", "subsistence"),
        ("我们村想组织防溺水安全教育", "other"),
    ],
)
def test_a_question_about_a_topic_is_routine(text, category):
    result = triage_text(text)
    assert (result.priority, result.category) == ("P3", category)


@pytest.mark.parametrize(
    ("text", "priority", "kind"),
    [
        # A dialect negation written into the urgent fact itself: 莫得/冇/没得 + 呼吸, 饭, 钱 ([variants]).
        ("我妈莫得呼吸了 快点来", "P0", "unconscious"),
        ("我屋老倌子冇得气了", "P0", "unconscious"),
        ("冇饭食了 屋企冇钱", "P1", "no_food"),
        ("没得饭吃了 娃娃饿得哭", "P1", "no_food"),
        # Verb + aspect particle + object, verb + result: 割了脉, 上了吊, 泡塌, 砸穿, 冲冇了.
        ("有人割了脉 在出租屋里", "P0", "suicide"),
        ("邻居大姐上了吊 刚放下来", "P0", "suicide"),
        ("老屋让水泡塌了 屋头啥子都冇得了", "P1", "home_destroyed"),
        ("冰雹把屋顶砸穿了 屋里全湿了", "P1", "home_destroyed"),
        ("屋被水冲冇了", "P1", "home_destroyed"),
        # Sentence-final particles other than 了, and Cantonese words.
        ("失火啦 快来人", "P0", "fire_gas"),
        ("揾唔到我个仔 喺商场度", "P0", "missing_child"),
        # A double negation does not calm: "不是没有危险".
        ("不是没有危险 是真的很危险 他拿着刀在门口", "P0", "violence"),
        # A negation ending one clause does not reach the subject of the next ("nobody home; the child is lost").
        ("家里没人 孩子走丢了", "P0", "missing_child"),
        # A negation inside the piece before ("没人" of {nobody}~{care}) is part of the phrase, not of the next.
        ("我的孩子有自闭症 我要做手术住院一个月 家里没人能带他", "P1", "disabled_without_carer"),
    ],
)
def test_dialects_compounds_and_negation_reach(text, priority, kind):
    result = triage_text(text)
    assert (result.priority, result.kind) == (priority, kind)


@pytest.mark.parametrize(
    "text",
    [
        "冇事 就问下医保报销",  # a dialect negation of a calm kind
        "屋头冇人受伤 就系想问下保险",
        "孩子没有 走丢",  # a space inside a sentence: the negation still reaches a single word
        "上次说的那个被家暴的妇女 已经安置好了吗",  # a follow-up about a resolved case
        "请问烧炭中毒怎么预防 想给村民讲讲",  # an enquiry framing after the words
        "农药中毒住院能报销多少",
    ],
)
def test_dialect_negations_follow_ups_and_enquiry_framings_stay_routine(text):
    assert not triage_text(text).urgent


def test_a_statement_is_urgent_even_when_it_asks_about_help():
    assert triage_text("我想自杀 有没有人能帮我").priority == "P0"
    assert triage_text("我家房子塌了 能申请救助吗").priority == "P1"


def test_a_calm_cue_or_a_past_time_lowers_the_level():
    assert triage_text("家里着火了").priority == "P0"
    assert triage_text("家里着火了 没有人受伤").priority == "P1"
    assert triage_text("没有人受伤 就是房子被大风掀了屋顶 今晚没地方睡").priority == "P1"  # nobody hurt, still homeless
    assert triage_text("不是急事 家里断粮了").priority == "P2"
    assert triage_text("我爸去世了 家里没有收入").priority == "P1"
    assert triage_text("我爸前年去世了 家里没有收入 不急").priority == "P2"


def test_only_asking_calms_a_text_that_asks_not_one_that_tells():
    # "只是问问" and "帮朋友问" calm a question about such things...
    assert triage_text("小孩走失了应该先报警还是先打你们电话 我就是问问").priority == "P3"
    assert triage_text("请问家暴报警后 派出所会怎么处理 帮我朋友问的").priority == "P2"
    # ...not a long text that goes on to tell what is happening now.
    assert triage_text("我就问问低保的事 还有就是我老公昨晚又打我 我带着娃跑出来了 没地方去").priority == "P1"
    assert triage_text("只是咨询一下补助 家里已经断粮三天了").priority == "P1"
    assert triage_text("帮朋友问的 她被老公打了 现在躲在我家 不敢回去").priority == "P1"


def test_now_of_the_asking_does_not_bring_a_past_event_back():
    # "现在想问问" is when the writer asks, not when the death happened: still long ago.
    assert triage_text("老公去年去世了 现在想问问遗属补助怎么领").priority == "P2"
    assert triage_text("我爸前年车祸走了 现在我想问下孩子能不能申请困境儿童").priority == "P2"
    # "现在" of the event itself still does.
    assert triage_text("孩子去年走丢了 现在还没找到").priority == "P0"
    assert triage_text("以前被打 现在我想死").priority == "P0"


def test_a_topic_word_counts_in_the_same_clause_or_a_next_one_that_asks():
    # "电话" after a space is a new clause telling something, not a question about a hotline.
    assert triage_text("我男朋友说我不回他消息就去死 现在电话也不接").priority == "P0"
    # A next clause that opens with a question word still asks about the words before it.
    assert triage_text("家暴的案子 怎么申请保护令").priority == "P3"


def test_ordinary_words_do_not_trigger_the_rule_word_inside_them():
    assert triage_by_rules("孩子他爸在外地打工").priority == "P3"  # the model raises it: tests/test_triage_model.py
    assert triage_text("孩子病了 住院 家里救命钱都花光了").priority == "P1"
    assert triage_text("我想给我妈申请残疾证 她眼睛看不见了").priority == "P3"  # 看不见, not 不见了
    assert triage_text("老人八十多岁 电话一直打不通").kind == "elderly_unseen"  # 打不通, not 一直打


def test_a_thing_of_a_child_lost_is_not_a_missing_child():
    assert triage_text("请问孩子的出生证明丢了怎么补").priority == "P3"
    assert triage_text("孩子在商场丢了").priority == "P0"


def test_money_lost_strands_only_away_from_home():
    assert triage_text("我钱包丢了 里面有身份证 怎么补办").priority == "P3"
    assert triage_text("在火车站钱包丢了 回不了家").kind == "stranded"


@pytest.mark.parametrize(
    ("text", "kind", "reasons"),
    [
        ("wo bu xiang huo le", "suicide", ("bu xiang huo",)),
        ("haizi zoudiu le", "missing_child", ("haizi", "zoudiu")),
        ("wǒ bù xiǎng huó le", "suicide", ("bù xiǎng huó",)),
        ("我家haizi bu jian le", "missing_child", ("haizi", "bu jian le")),
        # Tones as digits after each syllable, with or without spaces.
        ("wo3 bu4 xiang3 huo2 le", "suicide", ("bu4 xiang3 huo",)),
        ("hai2zi5 zou3diu1 le", "missing_child", ("hai2zi", "zou3diu")),
    ],
)
def test_pinyin_with_or_without_spaces_and_tones(text, kind, reasons):
    result = triage_text(text)
    assert (result.priority, result.kind, result.reasons) == ("P0", kind, reasons)


def test_pinyin_words_count_only_between_syllable_boundaries():
    # fang|zi|shao|mei|le holds the letters of "zisha" (自杀) across two syllables: not a suicide.
    result = triage_text("fang zi shao mei le")
    assert (result.priority, result.kind) == ("P1", "home_destroyed")
    assert triage_text("fangzishaomeile").kind == "home_destroyed"
    assert triage_text("wo yao zisha").kind == "suicide"


def test_a_recent_danger_is_p1_but_a_missing_child_stays_p0():
    assert triage_text("昨晚家里失火了").priority == "P1"
    assert triage_text("孩子昨天走丢了").priority == "P0"
    assert triage_text("孩子去年走丢过一次 想问问防走失手环").priority == "P2"
    assert triage_text("他打了我好几年了 今天我逃出来了 不敢回去").priority == "P1"


def test_a_cry_for_help_is_p0_but_thanks_for_a_life_saved_is_not():
    assert triage_text("救命").priority == "P0"
    # The cry is generic: what happened names the category.
    result = triage_text("快来人啊 有人掉河里了")
    assert (result.priority, result.kind, result.category) == ("P0", "drowning_trapped", "accident_disaster")
    assert result.reasons[0] == "掉"
    assert triage_text("感谢你们的救命之恩").priority == "P3"


def test_full_width_characters_and_spaces_between_chinese_characters():
    result = triage_text("ＨＡＩＺＩ　ＺＯＵＤＩＵ　ＬＥ")
    assert (result.priority, result.reasons) == ("P0", ("ＨＡＩＺＩ", "ＺＯＵＤＩＵ"))
    result = triage_text("我 家 孩 子 走 丢 了 ！")
    assert (result.priority, result.reasons) == ("P0", ("孩 子", "走 丢"))
    # NFKC turns one character into several ("㈱" -> "(株)"): the reasons still map back to the text.
    result = triage_text("㈱㈱ 孩子不见了")
    assert (result.priority, result.reasons) == ("P0", ("孩子", "不见了"))


def test_empty_and_blank_texts_are_routine_other():
    for text in ("", "   ", "\n", "。。。"):
        assert triage_text(text) == Triage("P3", "other", (), None)


def _cpu_seconds(text: str, runs: int) -> float:
    """The least CPU time triage took on ``text`` over ``runs`` runs (the CPU, not the clock: the machine may
    be busy with other work), without the garbage collector's passes."""
    best = float("inf")
    for _ in range(runs):
        # The garbage collector's passes cost what the whole process holds (a test worker holds much), not
        # what this text does: they are left out of the measure.
        gc.collect()
        gc.disable()
        try:
            started = time.process_time()
            triage_text(text)
            best = min(best, time.process_time() - started)
        finally:
            gc.enable()
    return best


def _grows_linearly(make) -> None:
    """Triage of ``make(100_000)`` costs at most 30 times that of ``make(10_000)``: about 10 when the work grows
    with the length, 100 when it grows with its square. A ratio measured in one run, never a time."""
    small, large = _cpu_seconds(make(10_000), runs=5), _cpu_seconds(make(100_000), runs=2)
    assert large < 30 * max(small, 1e-4), (small, large)


def test_a_text_of_100000_characters_is_triaged_whole_and_in_time_that_grows_with_its_length():
    filler = "今天天气不错我们村里的路修好了" * 7000
    text = (filler + "我家孩子走丢了")[-100_000:]
    assert len(text) == 100_000
    result = triage_text(text)
    assert (result.priority, result.reasons) == ("P0", ("孩子", "走丢"))
    assert triage_text(filler[:100_000]).priority == "P3"
    _grows_linearly(lambda length: (filler + "我家孩子走丢了")[-length:])


@pytest.mark.parametrize("unit", ["孩子走丢", "haizi zoudiu ", "打工打", "没有不想活", "孩子。走丢"])
def test_100000_characters_of_repeated_rule_words_take_time_that_grows_with_the_length(unit):
    def repeated(length: int) -> str:
        return (unit * (length // len(unit) + 1))[:length]

    assert len(triage_text(repeated(100_000)).reasons) <= 3
    _grows_linearly(repeated)


def test_lone_surrogates_and_odd_unicode_do_not_raise():
    result = triage_text("孩子\ud800走丢了\udfff")
    assert result.priority == "P0"
    for text in ("\ud800", "\udcff\udcfe", "\x00\x01\u200b\ufeff", "🔥🔥🔥", "\u0301" * 50, "İ" * 10):
        result = triage_text(text)
        assert result.priority == "P3"
        json.dumps(result.as_dict(), ensure_ascii=False).encode("utf-8")


def test_text_that_is_not_a_string_is_treated_as_its_string():
    assert triage_text(None) == Triage("P3", "other", (), None)


# --- the policy file ------------------------------------------------------------------------------


def _policy_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = (POLICY_DIR / "triage.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "triage.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_shipped_policy_loads_and_names_only_catalogue_categories():
    policy = load_triage_policy(POLICY_DIR / "triage.toml", CATEGORIES)
    assert {rule.category for rule in policy.rules} <= CATEGORIES
    assert {"suicide", "missing_child", "serious_illness", "breadwinner_died"} <= {r.kind for r in policy.rules}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('priority = "P0"', 'priority = "P5"', r"\[\[rule\]\] suicide: priority must be one of"),
        ('category = "child_protection"', 'category = "lost_kids"', r"category 'lost_kids' is not in catalogue"),
        ('"{child}~{lost}"', '"{kids}~{lost}"', r"\[\[rule\]\] missing_child: phrases: .*\{kids\}.* not a list"),
        ("gap = 10\n", "gap = 0\n", r"\[settings\] gap must be a whole number"),
        ("min_pinyin_letters = 5", "min_pinyin_letters = 5\nspeed = 3", r"\[settings\]: unknown keys \['speed'\]"),
        ("negation = [", "negations = [", r"\[cues\]: unknown keys \['negations'\]"),
        ('calm = ["不是急事",', 'calm = ["",', r"\[cues\] calm must be a list of non-empty strings"),
        ('kind = "no_food"', 'kind = "suicide"', r"kind 'suicide' appears twice"),
        ('phrases = ["{no_food}",', 'phrases = ["~{no_food}",', r"~ stands between two pieces"),
        ('kind = "no_food"', 'kind = "No Food"', r"\[\[rule\]\] number \d+: kind must be"),
        ("\n[settings]\n", "\n[settings\n", r"not valid TOML"),
        ('infix = ["了", "咗"]', "infix = []", r"\[variants\] infix must be a list of non-empty strings"),
        ('"不" = ["唔"]', '"不" = "唔"', r"\[variants\] within '不' must be a list of non-empty strings"),
        ("[variants.final]", "[variants.finals]", r"\[variants\]: unknown keys \['finals'\]"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_key(tmp_path, old, new, message):
    path = _policy_copy(tmp_path, old, new)
    with pytest.raises(TriagePolicyError, match=message) as excinfo:
        load_triage_policy(path, CATEGORIES)
    assert str(path) in str(excinfo.value)


def test_an_unchanged_policy_is_compiled_once_and_an_edited_one_again(tmp_path):
    path = tmp_path / "triage.toml"
    path.write_text((POLICY_DIR / "triage.toml").read_text(encoding="utf-8"), encoding="utf-8")
    first = load_triage_policy(path, CATEGORIES)
    assert load_triage_policy(path, CATEGORIES) is first
    assert triage_text("家里没粮票了", first).priority == "P3"
    path.write_text(path.read_text(encoding="utf-8").replace('"断粮",', '"断粮", "没粮票",', 1), encoding="utf-8")
    edited = load_triage_policy(path, CATEGORIES)
    assert edited is not first
    assert triage_text("家里没粮票了", edited).priority == "P1"


def test_the_application_does_not_start_with_a_bad_triage_policy(tmp_path, database_url):
    policy_dir = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, policy_dir)
    (policy_dir / "triage.toml").write_text(
        (POLICY_DIR / "triage.toml").read_text(encoding="utf-8").replace('category = "other"', 'category = "x"', 1),
        encoding="utf-8",
    )
    with pytest.raises(TriagePolicyError, match=r"\[\[rule\]\] suicide: category 'x' is not in catalogue.toml"):
        create_app(app_config(database_url) | {"POLICY_DIR": policy_dir})


def test_the_application_triages_with_its_own_policy_directory(tmp_path, database_url):
    policy_dir = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, policy_dir)
    (policy_dir / "triage.toml").write_text(
        (POLICY_DIR / "triage.toml").read_text(encoding="utf-8").replace('"断粮",', '"断粮", "没粮票",', 1),
        encoding="utf-8",
    )
    application = create_app(app_config(database_url) | {"POLICY_DIR": policy_dir})
    assert triage_text("家里没粮票了").priority == "P3"  # outside the application: the configured policy
    with application.app_context():
        assert triage_text("家里没粮票了").priority == "P1"


# --- flask hotline triage -------------------------------------------------------------------------


def test_cli_triages_one_text(runner):
    result = runner.invoke(args=["hotline", "triage", "--text", "我家孩子走丢了，在县城汽车站附近"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {
        "priority": "P0",
        "category": "child_protection",
        "kind": "missing_child",
        "reasons": ["孩子", "走丢"],
    }
    assert "孩子" in lines[0]  # ensure_ascii=False: Chinese as written


def test_cli_answers_every_line_read_in_order_a_blank_one_included(runner):
    stdin = "我不想活了\n\n   \n医疗救助需要什么材料\r\n家里断粮了\n".encode() + b"\xff\xfe\n"
    result = runner.invoke(args=["hotline", "triage"], input=stdin)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["priority"], r["category"]) for r in rows] == [
        ("P0", "other"),
        ("P3", "other"),  # a blank line: routine, answered so the answers stay in step with the lines
        ("P3", "other"),
        ("P3", "medical_aid"),
        ("P1", "family_without_support"),
        ("P3", "other"),  # undecodable bytes: one answer, not a crash
    ]
    assert rows[0]["reasons"] == ["不想活"]
