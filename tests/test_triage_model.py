"""The triage model: a second opinion on the texts the rules leave routine (hotline.triage.model)."""

import glob
from pathlib import Path

import pytest

from hotline.triage import MODEL_KIND, TriageModelError, load_triage_model, triage_by_rules, triage_text
from hotline.triage.labelled import read_labelled
from hotline.triage.model import current_model
from hotline.triage.score import TARGETS, score

POLICY = Path(__file__).resolve().parents[1] / "config" / "policy"
DATA = Path(__file__).resolve().parent / "data"
BLIND = DATA / "triage_blind_heldout.tsv"
CATEGORIES = {"other", "illness_hardship"}
#: Urgent texts of the blind set that no rule matches (a mother and son dizzy by a coal stove, a stranded father).
UNSEEN_URGENT = "头好晕 站不起来 我和我妈 屋里烧的蜂窝煤"


def test_a_text_no_rule_knows_is_raised_with_the_pieces_that_weighed_most():
    assert triage_by_rules(UNSEEN_URGENT).priority == "P3"
    found = triage_text(UNSEEN_URGENT)
    assert (found.priority, found.kind, found.category) == ("P1", MODEL_KIND, "other")
    assert found.reasons and all(
        len(reason) >= 2 and reason in UNSEEN_URGENT.replace(" ", "") for reason in found.reasons
    )


def test_the_rules_keep_the_last_word_on_what_they_found():
    assert triage_text("我爸前年去世了 家里没有收入 不急").priority == "P2"  # lowered by a past and a calm cue
    assert triage_text("孩子在商场丢了").kind == "missing_child"  # P0 is the rules' call, never the model's
    for text in ("请问低保怎么申请", "谢谢你们", "好的 我等电话"):
        assert triage_text(text).priority == "P3", text


def test_a_text_the_operators_corrected_is_not_raised_once_it_is_in_the_examples(tmp_path):
    """A false alarm ("the child's father works away") goes away when the county adds it to the examples."""
    text = "孩子他爸在外地打工"
    assert triage_text(text).kind == MODEL_KIND
    examples = (POLICY / "triage_examples.tsv").read_text(encoding="utf-8") + f"routine\t{text}\n"
    (tmp_path / "triage_examples.tsv").write_text(examples, encoding="utf-8")
    (tmp_path / "triage_model.toml").write_text((POLICY / "triage_model.toml").read_text(encoding="utf-8"))
    corrected = load_triage_model(tmp_path / "triage_model.toml", CATEGORIES | {"other"})
    assert triage_text(text, model=corrected).priority == "P3"
    assert triage_text(UNSEEN_URGENT, model=corrected).kind == MODEL_KIND


def test_the_blind_set_meets_the_three_targets_and_was_never_trained_on():
    pairs = read_labelled(BLIND)
    assert len(pairs) == 296
    examples = {text for _label, text in read_labelled(POLICY / "triage_examples.tsv")}
    assert not examples & {text for _label, text in pairs}
    figures, _scored = score(pairs)
    assert figures["urgent_kept"]["share"] >= TARGETS["urgent_kept"]
    assert figures["danger_found"]["share"] >= TARGETS["danger_found"]
    assert figures["routine_raised"]["share"] <= TARGETS["routine_raised"]


def test_the_examples_hold_every_labelled_set_but_the_blind_one():
    examples = {text for _label, text in read_labelled(POLICY / "triage_examples.tsv")}
    for path in sorted(glob.glob(str(DATA / "triage_*.tsv"))):
        if Path(path) == BLIND:
            continue
        for _label, text in read_labelled(Path(path)):
            assert text in examples, f"{Path(path).name}: {text!r} is not in config/policy/triage_examples.tsv"


def test_the_application_trains_the_model_once_at_start(app):
    model = current_model()
    assert model is app.extensions["hotline_policy"]["triage_model"]
    assert model.examples == len(read_labelled(POLICY / "triage_examples.tsv"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('level = "P1"', 'level = "P0"'), "level must be P1 or P2"),
        (('category = "other"', 'category = "nowhere"'), "category must be a code"),
        (("ngrams = [1, 2, 3]", "ngrams = [0]"), "ngrams must be"),
        (("raise_above = 20.0", 'raise_above = "high"'), "raise_above must be a number"),
        (('examples = ["triage_examples.tsv"]', 'examples = ["missing.tsv"]'), "examples file missing.tsv"),
        (("max_chars = 1000", "max_chars = 1000\nthreshold = 3"), "threshold"),
    ],
)
def test_a_bad_model_policy_stops_start_up_naming_the_key(tmp_path, edit, message):
    old, new = edit
    text = (POLICY / "triage_model.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "triage_model.toml").write_text(text.replace(old, new), encoding="utf-8")
    (tmp_path / "triage_examples.tsv").write_text("P1\t家里断粮了\nroutine\t请问低保怎么申请\n", encoding="utf-8")
    with pytest.raises(TriageModelError, match=message):
        load_triage_model(tmp_path / "triage_model.toml", CATEGORIES)


def test_a_bad_example_line_is_named(tmp_path):
    (tmp_path / "triage_model.toml").write_text((POLICY / "triage_model.toml").read_text(encoding="utf-8"))
    (tmp_path / "triage_examples.tsv").write_text("P1\t家里断粮了\nurgent\t救命\n", encoding="utf-8")
    with pytest.raises(TriageModelError, match=r"triage_examples\.tsv:2"):
        load_triage_model(tmp_path / "triage_model.toml", CATEGORIES)


def test_a_very_long_text_costs_no_more_than_its_first_characters():
    model = current_model()
    long_text = "请问低保怎么申请" * 20_000
    assert len(model.grams(long_text)) == len(model.grams(long_text[: model.max_chars]))
    assert triage_text(long_text).priority == "P3"


def test_the_model_is_trained_once_per_content_of_its_examples(tmp_path):
    """Every application start loads the model (each test starts one): unchanged examples are not trained on
    again, edited ones are."""
    (tmp_path / "triage_model.toml").write_text((POLICY / "triage_model.toml").read_text(encoding="utf-8"))
    examples = tmp_path / "triage_examples.tsv"
    examples.write_text("P1\t家里断粮了\nroutine\t请问低保怎么申请\n", encoding="utf-8")
    first = load_triage_model(tmp_path / "triage_model.toml", CATEGORIES)
    assert load_triage_model(tmp_path / "triage_model.toml", CATEGORIES).weights is first.weights
    examples.write_text("P1\t家里断粮了\nroutine\t请问低保怎么申请\nroutine\t谢谢你们\n", encoding="utf-8")
    edited = load_triage_model(tmp_path / "triage_model.toml", CATEGORIES)
    assert edited.examples == 3 and edited.weights is not first.weights
