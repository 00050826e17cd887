"""The partner API (``/api/v1``): tokens, JSON views, the OpenAPI document.

``init_api(app)`` reads ``config/policy/api.toml`` and registers the blueprint, exempt from CSRF: it reads no
cookie and authenticates every request by its bearer token.
"""

from pathlib import Path

from flask import Flask

from hotline.api.policy import load_api_policy
from hotline.extensions import csrf


def init_api(app: Flask) -> None:
    from hotline.api.views import bp

    app.extensions["hotline_api"] = load_api_policy(Path(app.config["POLICY_DIR"]) / "api.toml")
    csrf.exempt(bp)
    app.register_blueprint(bp)
