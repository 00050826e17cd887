"""服务类救助 in the reports: cases that received services and the hours given, by kind of service.

Counted beside the money: services whose first day falls in the period (local dates), on the cases the
reader may see (a department: cases referred to its units, as for tickets), from ``relief_service``.
"""

from dataclasses import dataclass

from sqlalchemy import func, select

from hotline.access import referred_to
from hotline.extensions import db
from hotline.reports.service import Period, Scope
from models.relief_service import ReliefService


@dataclass(frozen=True)
class ServiceRow:
    kind: str
    services: int
    cases: int
    minutes: int

    @property
    def hours(self) -> float:
        return self.minutes / 60


@dataclass(frozen=True)
class ServiceFigures:
    #: Cases (tickets) with at least one service in the period.
    cases: int
    services: int
    minutes: int
    #: By kind of service, the most hours first.
    by_kind: list[ServiceRow]

    @property
    def hours(self) -> float:
        return self.minutes / 60


def service_figures(period: Period, scope: Scope) -> ServiceFigures:
    """Cases with services, services and hours, in all and by kind, for ``period`` and ``scope``."""
    where = [ReliefService.started_on >= period.first, ReliefService.started_on <= period.last]
    if not scope.everything:
        where.append(referred_to(scope.units, ReliefService.ticket_id))
    cases = func.count(func.distinct(ReliefService.ticket_id))
    minutes = func.coalesce(func.sum(ReliefService.minutes), 0)
    total = db.session.execute(select(cases, func.count(ReliefService.id), minutes).where(*where)).one()
    rows = db.session.execute(
        select(ReliefService.kind, func.count(ReliefService.id), cases, minutes)
        .where(*where)
        .group_by(ReliefService.kind)
        .order_by(minutes.desc(), ReliefService.kind)
    ).all()
    return ServiceFigures(
        cases=total[0],
        services=total[1],
        minutes=int(total[2]),
        by_kind=[ServiceRow(kind, n, c, int(m)) for kind, n, c, m in rows],
    )
