"""Pages composed from panels: each domain shows its part of a case through one panel function.

A :class:`Panel` names its template, where it goes on the page (``slot``) and
the function that builds what its template shows the current user, given the
ticket. A page lists its panels in one tuple (the ticket page's is
``hotline.tickets.page.TICKET_PANELS``) and renders :func:`compose` of it, so
the page knows nothing of referrals or relief, and their views re-render the
page without importing each other.

A refused form goes back to its panel: the view calls :func:`hand_back` before
rendering the page again, and the panel function finds the form, as typed and
with its errors, in :func:`handed_back` (kept on ``flask.g`` for this request)
and shows it open in place of a fresh one.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import g

from models.ticket import Ticket

#: Where a panel goes: above the columns, in the main column, at the top of the side column, below it.
SLOTS = ("top", "main", "side", "side_end")


@dataclass(frozen=True)
class Panel:
    name: str
    slot: str
    template: str
    build: Callable[[Ticket], dict]


@dataclass(frozen=True)
class ShownPanel:
    """A panel ready for its page: the template includes it with ``panel`` set to ``context``."""

    name: str
    template: str
    context: dict


def compose(panels: tuple[Panel, ...], ticket: Ticket) -> dict[str, list[ShownPanel]]:
    """Every panel of a page built for ``ticket`` and the current user, by slot, in the order listed."""
    shown: dict[str, list[ShownPanel]] = {slot: [] for slot in SLOTS}
    for panel in panels:
        shown[panel.slot].append(ShownPanel(panel.name, panel.template, panel.build(ticket)))
    return shown


def hand_back(panel: str, key: str, form) -> None:
    """Give the refused ``form`` (the panel's form ``key``) back to ``panel`` for this request."""
    g.setdefault("panel_forms", {}).setdefault(panel, {})[key] = form


def handed_back(panel: str) -> dict:
    """The refused forms handed back to ``panel`` in this request: form key -> form."""
    return g.get("panel_forms", {}).get(panel, {})
