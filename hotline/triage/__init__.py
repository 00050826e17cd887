"""Triage of texts: the priority, category and matched words an incoming text suggests.

``triage_text(text)`` returns a :class:`Triage`; the rules are ``config/policy/triage.toml``, loaded
once when the application starts (:func:`init_triage`).
"""

from hotline.triage.engine import Triage, current_policy, init_triage, normalise, triage_text
from hotline.triage.policy import TriagePolicy, TriagePolicyError, load_triage_policy

__all__ = [
    "Triage",
    "TriagePolicy",
    "TriagePolicyError",
    "current_policy",
    "init_triage",
    "load_triage_policy",
    "normalise",
    "triage_text",
]
