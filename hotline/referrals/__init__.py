"""Referrals (转介): dispatch to departments, the department inbox, acknowledge, return, extend, resolve."""
