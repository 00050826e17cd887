"""Clocks and escalation: working calendar, SLA deadlines, the escalation ladder."""
