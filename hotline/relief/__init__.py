"""Advance relief (先行救助): grant at once, approve above the limit (一事一议), pay in stages, paperwork later."""
