"""Settings and policy data for the hotline application."""
