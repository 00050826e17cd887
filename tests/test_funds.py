"""Relief funds as ledgers (救急难基金, 慈善资金): money in, payouts of cases out, never below zero.

Money is integer fen everywhere; the balance equals the sum of the entries on both databases, also
when two payouts from the same fund are entered at the same moment.
"""

import re
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import gettext
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.extensions import db
from hotline.funds import service as funds
from hotline.funds.policy import FundsPolicy, FundsPolicyError, funds_policy
from hotline.relief import service as relief
from hotline.relief.summary import relief_summary
from models.fund import Fund, FundEntry, FundPayoutRequest
from models.notification import Notification
from models.relief import AdvanceRelief, AdvanceReliefPayment
from models.user import User
from tests.helpers import count, events, log_call


@pytest.fixture
def units(make_department):
    return {
        "town": make_department("town_chengguan", "城关镇", kind="township", level="township"),
        "civil": make_department("civil_affairs", "县民政局"),
        "charity": make_department("charity", "县慈善总会", kind="charity"),
    }


@pytest.fixture
def fund_set(manager, units, now):
    """The town's and the county's 救急难基金 and the charity's fund, with 20,000 / 100,000 / 0 yuan in them."""
    made = {
        "town": funds.create_fund(
            actor=manager, now=now, code="town_cg", name="城关镇救急难基金", kind="town", owner_unit=units["town"]
        ),
        "county": funds.create_fund(
            actor=manager, now=now, code="county", name="县救急难基金", kind="county", owner_unit=units["civil"]
        ),
        "charity": funds.create_fund(
            actor=manager, now=now, code="charity", name="县慈善总会救助金", kind="charity", owner_unit=units["charity"]
        ),
    }
    funds.add_income(made["town"], actor=manager, now=now, kind="allocation", amount_yuan="20000", note="镇财政拨入")
    funds.add_income(made["county"], actor=manager, now=now, kind="allocation", amount_yuan="100000", note="县财政拨入")
    db.session.commit()
    return made


@pytest.fixture
def ticket(operator, now):
    return log_call(operator, now)


def grant(ticket, actor, at, amount, unit, kind):
    r = relief.grant_relief(
        ticket,
        actor=actor,
        now=at,
        kind=kind,
        amount_yuan=amount,
        granting_unit=unit,
        reason="住院押金六万元，家庭无力承担",
        expected_version=ticket.version,
        # The case totals here pass the 一事一议 cap (relief_rules.toml): the case conference decided.
        case_conference_ref="县救急难个案会商纪要〔2026〕5号",
    )
    db.session.commit()
    return r


def approve(r, manager, at):
    relief.decide_relief(r, actor=manager, now=at, approve=True, comment="县个案会商同意")
    db.session.commit()


def pay(r, actor, at, amount, note="转账"):
    out = relief.record_payment(r, actor=actor, now=at, amount_yuan=amount, note=note)
    db.session.commit()
    return out


def says(msgid: str, **variables) -> str:
    return re.escape(gettext(msgid, **variables))


def assert_ledger_consistent(*funds_):
    db.session.expire_all()
    for fund in funds_:
        fresh = db.session.get(Fund, fund.id)
        assert fresh.balance_fen == funds.ledger_balance_fen(fund.id)
        assert fresh.balance_fen >= 0
        last = db.session.scalars(
            select(FundEntry).where(FundEntry.fund_id == fund.id).order_by(FundEntry.id.desc())
        ).first()
        assert last is None or last.balance_after_fen == fresh.balance_fen


# --- the ledger ---------------------------------------------------------------------------------


def test_allocations_and_donations_raise_the_balance_which_is_the_sum_of_the_entries(fund_set, manager, now):
    town = fund_set["town"]
    funds.add_income(town, actor=manager, now=now, kind="donation", amount_yuan="1,234.56", note="爱心企业捐赠")
    db.session.commit()
    assert town.balance_fen == 2_000_000 + 123_456
    assert isinstance(town.balance_fen, int)
    entries = db.session.scalars(select(FundEntry).where(FundEntry.fund_id == town.id).order_by(FundEntry.id)).all()
    assert [(e.kind, e.amount_fen, e.balance_after_fen) for e in entries] == [
        ("allocation", 2_000_000, 2_000_000),
        ("donation", 123_456, 2_123_456),
    ]
    assert_ledger_consistent(*fund_set.values())


def test_income_needs_an_amount_a_note_and_the_right_person(fund_set, manager, operator, make_user, units, now):
    town = fund_set["town"]
    with pytest.raises(DomainError, match=says("Say where the money comes from (the document or the donor).")):
        funds.add_income(town, actor=manager, now=now, kind="allocation", amount_yuan="100", note=" ")
    with pytest.raises(DomainError, match=says("The amount must be more than zero.")):
        funds.add_income(town, actor=manager, now=now, kind="allocation", amount_yuan="0", note="x")
    with pytest.raises(DomainError, match=says("An amount has at most two decimals (fen).")):
        funds.add_income(town, actor=manager, now=now, kind="allocation", amount_yuan="0.001", note="x")
    with pytest.raises(NotAllowed):
        funds.add_income(town, actor=operator, now=now, kind="allocation", amount_yuan="100", note="x")
    county_staff = make_user("department", department=units["civil"])
    with pytest.raises(NotAllowed):
        funds.add_income(town, actor=county_staff, now=now, kind="allocation", amount_yuan="100", note="x")
    town_staff = make_user("department", department=units["town"])
    funds.add_income(town, actor=town_staff, now=now, kind="donation", amount_yuan="100", note="村民捐赠")
    db.session.commit()
    assert town.balance_fen == 2_010_000


def test_a_mistaken_allocation_is_reversed_once_never_edited(fund_set, manager, now):
    town = fund_set["town"]
    first = db.session.scalars(select(FundEntry).where(FundEntry.fund_id == town.id)).one()
    funds.reverse_entry(first, actor=manager, now=now + timedelta(hours=1), note="金额录错")
    db.session.commit()
    assert town.balance_fen == 0
    with pytest.raises(DomainError, match=says("This entry was already reversed.")):
        funds.reverse_entry(first, actor=manager, now=now, note="again")
    first.note = "changed"
    with pytest.raises(RuntimeError, match="never changed"):
        db.session.flush()
    db.session.rollback()
    assert_ledger_consistent(town)


def test_a_reversal_cannot_take_the_balance_below_zero(fund_set, manager, operator, ticket, units, now):
    town = fund_set["town"]
    r = grant(ticket, operator, now, "3000", units["town"], "emergency_fund")
    pay(r, operator, now, "3000")
    first = db.session.scalars(
        select(FundEntry).where(FundEntry.fund_id == town.id, FundEntry.kind == "allocation")
    ).one()
    with pytest.raises(
        DomainError,
        match=says(
            "%(fund)s holds %(balance)s: this entry would take it below zero.",
            fund="城关镇救急难基金",
            balance="¥17,000.00",
        ),
    ):
        funds.reverse_entry(first, actor=manager, now=now, note="金额录错")
    db.session.rollback()
    assert_ledger_consistent(town)


def test_setting_up_funds_is_checked(manager, operator, units, now, fund_set):
    with pytest.raises(NotAllowed):
        funds.create_fund(actor=operator, now=now, code="x1", name="x", kind="town", owner_unit=units["town"])
    with pytest.raises(DomainError, match=says("%(unit)s already holds a fund of this kind.", unit="城关镇")):
        funds.create_fund(actor=manager, now=now, code="town_2", name="又一个", kind="town", owner_unit=units["town"])
    with pytest.raises(DomainError, match=says("Another fund has the code %(code)s.", code="county")):
        funds.create_fund(actor=manager, now=now, code="county", name="x", kind="charity", owner_unit=units["town"])
    with pytest.raises(
        DomainError, match=says("A township's fund is held by a township, the county's by a county unit.")
    ):
        funds.create_fund(actor=manager, now=now, code="c2", name="x", kind="county", owner_unit=units["town"])
    with pytest.raises(DomainError, match=says("The code is 2 to 32 lowercase letters, digits or underscores.")):
        funds.create_fund(actor=manager, now=now, code="Bad Code", name="x", kind="charity", owner_unit=units["town"])


# --- payouts from cases -----------------------------------------------------------------------------


def test_a_payment_of_fund_relief_writes_its_payout_entry_in_the_same_transaction(
    fund_set, operator, ticket, units, now
):
    r = grant(ticket, operator, now, "2000", units["town"], "emergency_fund")
    payment = pay(r, operator, now + timedelta(hours=1), "1500", note="第一期，转账")
    entry = db.session.scalars(select(FundEntry).where(FundEntry.payment_id == payment.id)).one()
    assert (entry.fund_id, entry.kind, entry.amount_fen, entry.balance_after_fen) == (
        fund_set["town"].id,
        "payout",
        -150_000,
        1_850_000,
    )
    assert (entry.ticket_id, entry.relief_id) == (ticket.id, r.id)
    assert fund_set["town"].balance_fen == 1_850_000
    paid_event = events(ticket, "relief_paid")[-1]
    assert paid_event.payload["fund"] == "城关镇救急难基金"
    assert paid_event.payload["fund_balance_fen"] == 1_850_000
    assert_ledger_consistent(*fund_set.values())


def test_a_payout_that_fails_leaves_neither_payment_nor_entry(fund_set, operator, ticket, units, now):
    """One transaction: a refused payout rolls the payment back with it."""
    r = grant(ticket, operator, now, "3000", units["charity"], "charity")  # the charity fund holds nothing
    with pytest.raises(DomainError):
        pay(r, operator, now, "1000")
    db.session.rollback()
    assert count(AdvanceReliefPayment) == 0
    assert count(FundEntry, FundEntry.kind == "payout") == 0


def test_a_payment_above_the_balance_is_refused_with_the_balance(fund_set, manager, operator, ticket, units, now):
    r = grant(ticket, operator, now, "30000", units["town"], "emergency_fund")
    approve(r, manager, now)
    message = says(
        "%(fund)s holds %(balance)s: a payment of %(amount)s would take it below zero. "
        "%(short)s more must be allocated to the fund first.",
        fund="城关镇救急难基金",
        balance="¥20,000.00",
        amount="¥25,000.00",
        short="¥5,000.00",
    )
    with pytest.raises(DomainError, match=message):
        pay(r, operator, now, "25000")
    db.session.rollback()
    assert fund_set["town"].balance_fen == 2_000_000
    pay(r, operator, now, "20000")
    assert db.session.get(Fund, fund_set["town"].id).balance_fen == 0
    assert_ledger_consistent(*fund_set.values())


def test_temporary_assistance_is_paid_from_the_budget_outside_any_fund(fund_set, operator, ticket, units, now):
    r = grant(ticket, operator, now, "2000", units["town"], "temporary_assistance")
    pay(r, operator, now, "2000")
    assert count(FundEntry, FundEntry.kind == "payout") == 0
    assert fund_set["town"].balance_fen == 2_000_000


def test_a_unit_without_a_fund_pays_fund_relief_from_its_budget(fund_set, operator, ticket, make_department, now):
    other = make_department("town_hekou", "河口乡", kind="township", level="township")
    r = grant(ticket, operator, now, "1000", other, "emergency_fund")
    pay(r, operator, now, "1000")
    assert count(FundEntry, FundEntry.kind == "payout") == 0


def _pay_at_once(app, relief_ids, actor_id, now, amount):
    """Each relief is paid ``amount`` in its own thread and session, all released together."""
    start = threading.Barrier(len(relief_ids))
    outcomes, lock = [], threading.Lock()

    def run(relief_id):
        with app.app_context():
            try:
                r = db.session.get(AdvanceRelief, relief_id)
                actor = db.session.get(User, actor_id)
                start.wait(timeout=30)
                relief.record_payment(r, actor=actor, now=now, amount_yuan=amount, note="同时支付")
                db.session.commit()
                outcome = "paid"
            except DomainError as exc:
                db.session.rollback()
                outcome = f"refused: {exc.message}"
            except (StaleError, StaleDataError):
                db.session.rollback()
                outcome = "stale"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in relief_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a payment hung"
    return outcomes


def test_two_payouts_at_once_from_the_same_fund_never_overdraw_it(app, fund_set, operator, manager, units, now):
    """Two cases, each approved for 15,000 from the town fund of 20,000, paid at the same moment: one is paid,
    the other is refused for the balance; the balance is the sum of the entries and never below zero."""
    ids = []
    for n in range(2):
        t = log_call(operator, now + timedelta(minutes=n), phone=f"+861380000000{n}")
        r = grant(t, operator, now, "15000", units["town"], "emergency_fund")
        approve(r, manager, now)
        ids.append(r.id)
    outcomes = _pay_at_once(app, ids, operator.id, now + timedelta(hours=1), "15000")
    assert sorted(o.split(":")[0] for o in outcomes) == ["paid", "refused"], outcomes
    assert "¥5,000.00" in next(o for o in outcomes if o.startswith("refused"))
    db.session.expire_all()
    town = db.session.get(Fund, fund_set["town"].id)
    assert town.balance_fen == 500_000
    assert count(FundEntry, FundEntry.kind == "payout") == 1
    assert count(AdvanceReliefPayment) == 1
    assert_ledger_consistent(*fund_set.values())


def test_many_payouts_at_once_pay_exactly_what_the_fund_holds(app, manager, operator, units, now):
    """Four payments of 2,000 at once from a fund of 5,000: two are paid, two refused, 1,000 is left."""
    town = funds.create_fund(
        actor=manager, now=now, code="town_cg", name="城关镇救急难基金", kind="town", owner_unit=units["town"]
    )
    funds.add_income(town, actor=manager, now=now, kind="allocation", amount_yuan="5000", note="镇财政拨入")
    db.session.commit()
    ids = []
    for n in range(4):
        t = log_call(operator, now + timedelta(minutes=n), phone=f"+861380000001{n}")
        ids.append(grant(t, operator, now, "2000", units["town"], "emergency_fund").id)
    outcomes = _pay_at_once(app, ids, operator.id, now + timedelta(hours=1), "2000")
    assert sorted(o.split(":")[0] for o in outcomes) == ["paid", "paid", "refused", "refused"], outcomes
    assert_ledger_consistent(town)
    assert db.session.get(Fund, town.id).balance_fen == 100_000


# --- needs_approval: held for the fund's manager ------------------------------------------------------


@pytest.fixture
def needs_approval(app):
    policy = funds_policy()
    app.extensions["hotline_policy"]["funds"] = FundsPolicy(draws=policy.draws, overdraft="needs_approval")
    yield
    app.extensions["hotline_policy"]["funds"] = policy


def test_under_needs_approval_a_payment_above_the_balance_waits_for_the_funds_manager(
    needs_approval, fund_set, manager, operator, make_user, ticket, units, now
):
    r = grant(ticket, operator, now, "30000", units["town"], "emergency_fund")
    approve(r, manager, now)
    town_staff = make_user("department", department=units["town"])
    held = pay(r, operator, now, "25000", note="第二期")
    assert isinstance(held, FundPayoutRequest) and held.status == "pending"
    # The fund's managers are told: the hotline's managers and the staff of the unit holding the fund.
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == "payout_held")))
    assert told == {manager.id, town_staff.id}
    assert r.paid_fen == 0 and fund_set["town"].balance_fen == 2_000_000
    assert events(ticket, "relief_payment_held")[-1].payload["fund_balance_fen"] == 2_000_000
    # What is held counts against the approval: 30,000 - 25,000 held leaves 5,000 to ask for.
    with pytest.raises(DomainError, match=re.escape("¥5,000.00")):
        pay(r, operator, now, "6000")
    db.session.rollback()
    # Nobody releases their own; the balance must cover it first.
    with pytest.raises(NotAllowed):
        relief.decide_payout(held, actor=operator, now=now, release=True, comment="我自己")
    short = says(
        "%(fund)s holds %(balance)s: a payment of %(amount)s would take it below zero. "
        "%(short)s more must be allocated to the fund first.",
        fund="城关镇救急难基金",
        balance="¥20,000.00",
        amount="¥25,000.00",
        short="¥5,000.00",
    )
    with pytest.raises(DomainError, match=short):
        relief.decide_payout(held, actor=town_staff, now=now, release=True, comment="同意")
    db.session.rollback()
    funds.add_income(fund_set["town"], actor=manager, now=now, kind="allocation", amount_yuan="10000", note="追加")
    db.session.commit()
    payment = relief.decide_payout(
        held, actor=town_staff, now=now + timedelta(hours=2), release=True, comment="已追加拨款"
    )
    db.session.commit()
    assert held.status == "released" and held.payment_id == payment.id
    assert r.paid_fen == 2_500_000
    assert db.session.get(Fund, fund_set["town"].id).balance_fen == 500_000
    assert events(ticket, "relief_paid")[-1].payload["released"] == held.id
    assert db.session.scalar(select(Notification.user_id).where(Notification.kind == "payout_released")) == operator.id
    assert_ledger_consistent(*fund_set.values())


def test_a_refused_held_payment_pays_nothing(needs_approval, fund_set, manager, operator, ticket, units, now):
    r = grant(ticket, operator, now, "30000", units["town"], "emergency_fund")
    approve(r, manager, now)
    held = pay(r, operator, now, "25000")
    relief.decide_payout(held, actor=manager, now=now, release=False, comment="材料不全")
    db.session.commit()
    assert held.status == "refused" and r.paid_fen == 0
    assert events(ticket, "relief_payment_refused")[-1].payload["comment"] == "材料不全"
    with pytest.raises(DomainError, match=says("This payment is not waiting for a decision.")):
        relief.decide_payout(held, actor=manager, now=now, release=True, comment="again")


# --- the policy file ----------------------------------------------------------------------------------


def test_the_app_does_not_start_with_a_malformed_funds_file(tmp_path, database_url):
    from hotline import create_app
    from tests.conftest import app_config

    shutil.copytree(Path(__file__).resolve().parent.parent / "config" / "policy", tmp_path / "policy")
    path = tmp_path / "policy" / "funds.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('rule = "refuse"', 'rule = "overdraw"'), "utf-8")
    with pytest.raises(FundsPolicyError, match=r"funds.toml: \[overdraft\] rule must be one of"):
        create_app(app_config(database_url) | {"POLICY_DIR": tmp_path / "policy"})
    path.write_text('[draws]\nemergency_fund = ["township"]\n[overdraft]\nrule = "refuse"\n', "utf-8")
    with pytest.raises(FundsPolicyError, match="emergency_fund must be a list of fund kinds"):
        create_app(app_config(database_url) | {"POLICY_DIR": tmp_path / "policy"})


# --- a case's relief at a glance ------------------------------------------------------------------


def test_one_family_drawing_on_three_sources_at_a_glance(fund_set, manager, operator, ticket, units, now):
    """4,000 临时救助 from the township, 10,000 from the town fund, 40,000 from the county fund."""
    funds.add_income(fund_set["county"], actor=manager, now=now, kind="donation", amount_yuan="1", note="x")
    a = grant(ticket, operator, now, "3000", units["town"], "temporary_assistance")
    b = grant(ticket, operator, now + timedelta(hours=1), "10000", units["town"], "emergency_fund")
    c = grant(ticket, operator, now + timedelta(hours=2), "40000", units["civil"], "emergency_fund")
    approve(b, manager, now + timedelta(hours=3))
    pay(a, operator, now + timedelta(hours=3), "3000")
    pay(b, operator, now + timedelta(hours=4), "10000")
    s = relief_summary(ticket)
    assert s["limit_fen"] == 300_000
    assert (s["granted_fen"], s["pending_fen"], s["paid_fen"], s["unpaid_fen"]) == (1_300_000, 4_000_000, 1_300_000, 0)
    assert s["case_total_fen"] == 5_300_000
    assert s["limit"] == {
        "largest_grant_fen": 4_000_000,
        "grant_over_fen": 3_700_000,
        "case_over_fen": 5_000_000,
        "over": "grant",
    }
    by_source = {row["source"]: row for row in s["by_source"]}
    assert by_source["temporary_assistance"] == {
        "source": "temporary_assistance",
        "granted_fen": 300_000,
        "pending_fen": 0,
        "paid_fen": 300_000,
    }
    assert by_source["emergency_fund"]["granted_fen"] == 1_000_000
    assert by_source["emergency_fund"]["pending_fen"] == 4_000_000
    by_unit = {row["unit"]: row for row in s["by_unit"]}
    assert by_unit["城关镇"]["paid_fen"] == 1_300_000 and by_unit["县民政局"]["pending_fen"] == 4_000_000
    assert s["by_fund"] == [
        {"fund_id": fund_set["town"].id, "fund": "城关镇救急难基金", "paid_fen": 1_000_000, "held_fen": 0},
        {"fund_id": None, "fund": None, "paid_fen": 300_000, "held_fen": 0},
    ]
    rows = {row["id"]: row for row in s["reliefs"]}
    assert rows[a.id]["limit"] is None
    assert rows[b.id]["limit"] == {"over": "grant", "over_fen": 700_000}
    assert rows[c.id]["limit"] == {"over": "grant", "over_fen": 3_700_000}
    assert rows[b.id]["decided_by"] == manager.display_name and rows[b.id]["fund"] == "城关镇救急难基金"
    assert rows[b.id]["payments"][0]["amount_fen"] == 1_000_000
    assert all(isinstance(v, int) for v in (s["granted_fen"], s["paid_fen"]))


def test_only_the_case_total_passing_the_limit_is_said_so(fund_set, operator, ticket, units, now):
    grant(ticket, operator, now, "2000", units["town"], "temporary_assistance")
    r = grant(ticket, operator, now, "1500", units["town"], "temporary_assistance")
    assert r.status == "pending_approval"
    s = relief_summary(ticket)
    assert s["limit"]["over"] == "case_total" and s["limit"]["case_over_fen"] == 50_000
    assert s["limit"]["grant_over_fen"] == 0
    payload = events(ticket, "relief_requested")[-1].payload
    assert (payload["over"], payload["over_fen"]) == ("case_total", 50_000)


def test_the_check_command_finds_every_ledger_in_balance(runner, fund_set, operator, ticket, units, now):
    r = grant(ticket, operator, now, "2000", units["town"], "emergency_fund")
    pay(r, operator, now, "2000")
    result = runner.invoke(args=["hotline", "check-funds"])
    assert result.exit_code == 0, result.output
    assert "3 funds: every balance equals the sum of its entries" in result.output


def test_the_check_command_fails_on_a_balance_that_does_not_match(runner, fund_set):
    db.session.execute(update(Fund).where(Fund.code == "town_cg").values(balance_fen=1))
    db.session.commit()
    result = runner.invoke(args=["hotline", "check-funds"])
    assert result.exit_code == 1
    assert "town_cg" in result.output and "¥0.01" in result.output and "¥20,000.00" in result.output
