"""Where triage's policy files come from: loaded once when the application starts (its catalogue's
categories checked), or, outside an application (a script, the scorer), read once from the configured
policy directory."""

from collections.abc import Callable
from functools import cache
from pathlib import Path

from flask import current_app, has_app_context

#: ``load(path, category codes)``: a policy file's loader.
Loader = Callable[[Path, set[str]], object]


def load_at_start(app, key: str, load: Loader, file_name: str) -> None:
    """Load ``file_name`` of the app's policy directory into ``app.extensions["hotline_policy"][key]``."""
    policies = app.extensions.setdefault("hotline_policy", {})
    codes = {c.code for c in policies["catalogue"].categories}
    policies[key] = load(Path(app.config["POLICY_DIR"]) / file_name, codes)


def current(key: str, load: Loader, file_name: str):
    """What the application loaded under ``key``; outside an application, the configured file (loaded once)."""
    if has_app_context():
        loaded = current_app.extensions.get("hotline_policy", {}).get(key)
        if loaded is not None:
            return loaded
    return _configured(load, file_name)


@cache
def _configured(load: Loader, file_name: str):
    from config.settings import Config
    from hotline.policy import load_catalogue

    policy_dir = Path(Config.POLICY_DIR)
    codes = {c.code for c in load_catalogue(policy_dir / "catalogue.toml").categories}
    return load(policy_dir / file_name, codes)
