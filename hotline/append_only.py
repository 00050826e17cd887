"""The event log and the audit log are append-only in the database itself, not only in the ORM.

The ORM refuses to update or delete a ``TicketEvent`` or an ``AuditLog``, but a
Core ``update()``/``delete()`` or plain SQL through the app's connection would
not ask it. Triggers on both tables refuse every UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE) whoever sends it; the database answers with an integrity
error naming the table. Migration ``0010_append_only`` creates them from the
statements here, and the test suite drops and recreates the SQLite ones from the
same statements when it empties the database between tests.

A later migration that rebuilds one of these tables on SQLite (``batch_alter_table``
copies it into a new table) must create the triggers again with
``create_statements("sqlite")``. Erasing personal data on request (PIPL) is not an
UPDATE of history: it would be its own audited procedure, which does not exist today.
"""

#: The tables whose rows are only ever inserted.
TABLES = ("ticket_event", "audit_log")
#: The PostgreSQL function every trigger runs.
FUNCTION = "hotline_refuse_append_only_change"

_POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def _sqlite_triggers(table: str) -> dict[str, str]:
    return {
        f"{table}_no_{op.lower()}": (
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        )
        for op in ("UPDATE", "DELETE")
    }


def _postgres_triggers(table: str) -> dict[str, str]:
    return {
        f"{table}_no_change": (
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        ),
        f"{table}_no_truncate": (
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        ),
    }


def _triggers(dialect: str, table: str) -> dict[str, str]:
    if dialect == "sqlite":
        return _sqlite_triggers(table)
    if dialect == "postgresql":
        return _postgres_triggers(table)
    raise ValueError(f"no append-only triggers for the {dialect} dialect")


def trigger_names(dialect: str) -> list[str]:
    """The triggers ``create_statements`` makes, two per table."""
    return [name for table in TABLES for name in _triggers(dialect, table)]


def create_statements(dialect: str) -> list[str]:
    """The DDL that makes ``TABLES`` append-only on ``dialect`` ("sqlite" or "postgresql")."""
    statements = [_POSTGRES_FUNCTION] if dialect == "postgresql" else []
    for table in TABLES:
        statements.extend(_triggers(dialect, table).values())
    return statements


def drop_statements(dialect: str) -> list[str]:
    """The DDL that removes what ``create_statements`` made."""
    statements = []
    for table in TABLES:
        for name in _triggers(dialect, table):
            statements.append(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        statements.append(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    return statements
