"""Who looked at or changed which ChatKit thread, kept for AUDIT_RETENTION_DAYS."""
