"""Outbound messages: the SMS outbox, its sender, and the admins' list of what could not be sent."""

from flask import Flask


def init_notify(app: Flask) -> None:
    from hotline.notify.views import bp

    app.register_blueprint(bp)
