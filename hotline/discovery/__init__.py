"""主动发现: cases the county finds itself (the monitoring platform's alerts, imported)."""
