"""Login (throttled by account and client address), sessions ended on the server, own password changes."""
