"""Administration: users, departments, the audit log."""
