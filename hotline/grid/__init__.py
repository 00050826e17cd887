"""Grid workers and household visits (四级联动, 探访): what the county's field staff do from their phones.

- ``reports``: a grid worker's or 协理员's report of a case (who, where, what happened, how urgent, a photo)
  becomes a proactive ticket through ``hotline.tickets.external.receive_report`` (source ``grid``); the
  reporter follows its status on 我的报告.
- ``visits``: households flagged in their contact record (living alone, elderly, severely disabled, children
  left behind, social assistance) get a visit plan from ``config/policy/visits.toml``; visits are recorded from
  the phone; overdue ones show in the village's and township's inbox and climb the ladder (``sweep_visits``);
  a visit that found difficulty becomes a ticket in one tap (source ``visit``).
- ``views``: the phone pages (375 px wide, no sideways scrolling), blueprint ``grid``.

``init_grid(app)`` loads the policy and registers the blueprint.
"""

from flask import Flask


def init_grid(app: Flask) -> None:
    from hotline.grid.policy import init_grid_policy
    from hotline.grid.views import bp

    init_grid_policy(app)
    app.register_blueprint(bp)
