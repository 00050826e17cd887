"""Tickets: the operator desk, logging calls, the ticket page and its actions."""
