"""The bulk demo's clock arithmetic: the SLA policy's deadlines and ladder on integer epoch seconds.

The rules are the policy's (``config/policy/sla.toml`` through
:mod:`hotline.escalation.sla`): each clock's length and unit, whether it counts
working time or wall-clock time (the rule's ``mode``), and the escalation
ladder's levels and fractions. Only the arithmetic is redone here, on
integers and over a precomputed index of the office periods
(:class:`WorkingIndex`), because a million tickets cannot afford the
reference implementation's datetime walk. :meth:`Clocks.check` compares the
two on a sample at the start of every load; a difference stops the load.
"""

import random
from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, timedelta

from hotline.escalation import sla
from hotline.timeutil import LOCAL_UTC_OFFSET

DAY = 86400
#: The county's offset from UTC in seconds (constant all year: :mod:`hotline.timeutil` refuses a zone with DST).
LOCAL_OFFSET = int(LOCAL_UTC_OFFSET.total_seconds())
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def local_day(ts: int) -> date:
    """The local calendar date of the instant ``ts`` (as :func:`hotline.timeutil.local_date`)."""
    return date.fromordinal((ts + LOCAL_OFFSET) // DAY + _EPOCH_ORDINAL)


class WorkingIndex:
    """The office periods of every working day from ``first`` to ``last``, for O(log n) working-time arithmetic.

    Same answers as :class:`hotline.escalation.calendar.WorkingCalendar` (checked by
    :meth:`Clocks.check`): ``add`` gives the earliest instant at which the working time has
    passed, ``end_of_working_day`` the close of office on the n-th working day after.
    """

    def __init__(self, calendar, first: date, last: date):
        self.opens: list[int] = []
        self.closes: list[int] = []
        self.cum_end: list[int] = []  # working seconds up to the close of each period
        self.days: list[int] = []  # ordinals of working days
        #: One working day of working time (7 h for 08:30-12:00 and 14:00-17:30).
        self.day_length = int(calendar.day_length.total_seconds())
        self.day_close: list[int] = []
        total = 0
        day = first
        while day <= last:
            hours = calendar.office_hours(day)
            if hours:
                self.days.append(day.toordinal())
                self.day_close.append(int(hours[-1][1].timestamp()))
                for opening, close in hours:
                    o, c = int(opening.timestamp()), int(close.timestamp())
                    total += c - o
                    self.opens.append(o)
                    self.closes.append(c)
                    self.cum_end.append(total)
            day += timedelta(days=1)

    def worked_before(self, ts: int) -> int:
        i = bisect_right(self.closes, ts)
        before = self.cum_end[i - 1] if i else 0
        if i < len(self.opens) and self.opens[i] < ts:
            before += ts - self.opens[i]
        return before

    def add(self, ts: int, seconds: int) -> int:
        if seconds <= 0:
            return ts
        target = self.worked_before(ts) + seconds
        j = bisect_left(self.cum_end, target)
        return self.closes[j] - (self.cum_end[j] - target)

    def between(self, a: int, b: int) -> int:
        return max(self.worked_before(b) - self.worked_before(a), 0)

    def end_of_working_day(self, ts: int, n: int) -> int:
        i = bisect_right(self.days, local_day(ts).toordinal())
        return self.day_close[i + n - 1]


class Clocks:
    """Deadlines and ladder instants of the SLA policy, on integer epoch seconds."""

    UNIT_SECONDS = {unit: int(length.total_seconds()) for unit, length in sla.CONTINUOUS_UNITS.items()}

    def __init__(self, policy: sla.SlaPolicy, index: WorkingIndex):
        self.policy = policy
        self.index = index
        #: (level, fraction of the clock's length) from the policy's ladder, in ladder order.
        self.ladder_levels = tuple((step.level, step.at) for step in policy.ladder)
        #: (priority, clock) -> whether it counts working time: each rule's mode in the policy.
        self.modes = {
            (priority, clock): rule.mode == "working"
            for priority, rules in policy.clocks.items()
            for clock, rule in rules.items()
        }

    def deadline_of(self, rule: sla.ClockRule, ts: int) -> int:
        if rule.unit in self.UNIT_SECONDS:
            return ts + rule.amount * self.UNIT_SECONDS[rule.unit]
        if rule.unit == "working_hours":
            return self.index.add(ts, rule.amount * 3600)
        if rule.unit == "working_days":
            return self.index.add(ts, rule.amount * self.index.day_length)
        return self.index.end_of_working_day(ts, rule.amount)

    def has(self, priority: str, clock: str) -> bool:
        return clock in self.policy.clocks[priority]

    def due(self, priority: str, clock: str, start: int) -> int:
        return self.deadline_of(self.policy.rule(priority, clock), start)

    def working(self, priority: str, clock: str) -> bool:
        """Whether ``clock`` of ``priority`` counts working time (its rule's mode in the policy)."""
        try:
            return self.modes[priority, clock]
        except KeyError:
            return self.policy.rule(priority, clock).mode == "working"  # raises the policy's LookupError

    def later(self, priority: str, clock: str, start: int, seconds: int) -> int:
        """``seconds`` after ``start``, counted the way ``clock`` of ``priority`` counts (working or wall-clock)."""
        return self.index.add(start, seconds) if self.working(priority, clock) else start + seconds

    def length(self, priority: str, clock: str, start: int, due: int) -> int:
        """The clock's length from ``start`` to ``due``, in the time it counts."""
        return self.index.between(start, due) if self.working(priority, clock) else due - start

    def ladder(self, priority: str, clock: str, start: int, due: int) -> list[tuple[str, int]]:
        """When each level fires for ``clock`` started at ``start``, due at ``due`` (as ``sla.ladder_steps``)."""
        working = self.working(priority, clock)
        length = self.length(priority, clock, start, due)

        def advance(base: int, amount: int) -> int:
            return self.index.add(base, amount) if working else base + amount

        return [
            (level, advance(start, round(length * at)) if at <= 1 else advance(due, round(length * (at - 1))))
            for level, at in self.ladder_levels
        ]

    def check(self, calendar, start: int, end: int, rng: random.Random, samples: int = 300) -> None:
        """Compare with :mod:`hotline.escalation.sla` on ``samples`` instants; a difference is a bug here.

        Every clock of every priority: its deadline to the second, and its ladder's
        instants to within a second (the reference keeps microseconds, rows here whole seconds), on one
        sample in ten (the reference walks the calendar day by day).
        """
        for n in range(samples):
            ts = rng.randrange(start, end)
            at = datetime.fromtimestamp(ts, UTC)
            for priority, rules in self.policy.clocks.items():
                for clock, rule in rules.items():
                    expected = rule.deadline(at, calendar)
                    got = self.deadline_of(rule, ts)
                    if got != int(expected.timestamp()):
                        raise RuntimeError(f"bulk clocks disagree for {priority} {clock} from {at}: {got}")
                    if n % 10:
                        continue
                    steps = sla.ladder_steps(priority, clock, at, expected, calendar, self.policy)
                    mine = self.ladder(priority, clock, ts, got)
                    if [s.level for s in steps] != [level for level, _at in mine] or any(
                        abs(s.at.timestamp() - instant) > 1 for s, (_level, instant) in zip(steps, mine, strict=True)
                    ):
                        raise RuntimeError(f"bulk ladder disagrees for {priority} {clock} from {at}: {mine}")
