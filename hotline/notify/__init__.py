"""Outbound messages: the SMS outbox, its sending rules, and the admins' list of what could not be sent.

The job that sends the outbox (settings, clock, Twilio client) is ``hotline.jobs.outbox``.
"""

from flask import Flask


def init_notify(app: Flask) -> None:
    from hotline.notify.views import bp

    app.register_blueprint(bp)
