"""Running the hotline in production: the doctor (``flask hotline check``), backups and restores."""
