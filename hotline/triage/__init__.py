"""Triage of texts: the priority, category and matched words an incoming text suggests.

``triage_text(text)`` returns a :class:`Triage`: the rules' (``config/policy/triage.toml``,
:mod:`hotline.triage.engine`), or, for a text they leave routine that the model trained on labelled
examples finds urgent (``config/policy/triage_model.toml``, :mod:`hotline.triage.model`), the model's
raise. Both are loaded once when the application starts (:func:`init_triage`, :func:`init_triage_model`).
"""

from hotline.triage.engine import Triage, current_policy, init_triage, normalise
from hotline.triage.engine import triage_text as triage_by_rules
from hotline.triage.model import TriageModel, TriageModelError, current_model, init_triage_model, load_triage_model
from hotline.triage.policy import TriagePolicy, TriagePolicyError, load_triage_policy

#: The ``kind`` of a triage the model raised (the rules' kinds are their rule groups).
MODEL_KIND = "model"
#: The level of a text no rule counted.
ROUTINE = "P3"


def triage_text(text: str, policy: TriagePolicy | None = None, model: TriageModel | None = None) -> Triage:
    """Triage ``text``: the rules first; a text they leave routine (P3: no rule matched, or every match was
    negated or asked about) is raised when the model finds it urgent, with the character pieces that weighed
    most as its reasons. A text the rules lowered to P2 (a calm or past cue) stays as they said."""
    found = triage_by_rules(text, policy)
    if found.priority != ROUTINE or not isinstance(text, str):
        return found
    model = model or current_model()
    reasons = model.judge(text)
    if reasons is None:
        return found
    return Triage(priority=model.level, category=model.category, reasons=reasons, kind=MODEL_KIND)


__all__ = [
    "MODEL_KIND",
    "Triage",
    "TriageModel",
    "TriageModelError",
    "TriagePolicy",
    "TriagePolicyError",
    "current_model",
    "current_policy",
    "init_triage",
    "init_triage_model",
    "load_triage_model",
    "load_triage_policy",
    "normalise",
    "triage_by_rules",
    "triage_text",
]
