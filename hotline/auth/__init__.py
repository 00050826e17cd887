"""Login, logout, lockout and own-password changes."""
