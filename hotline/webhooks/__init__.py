"""Outgoing webhooks: partner platforms told, signed and with retries, when the cases they transferred move."""
