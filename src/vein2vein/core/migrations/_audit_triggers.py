"""SQL of the audit table's append-only triggers, shared by migration 0005 and the test flush."""

PG_CREATE = (
    """
    CREATE TRIGGER core_auditevent_no_truncate
        BEFORE TRUNCATE ON core_auditevent
        FOR EACH STATEMENT EXECUTE FUNCTION core_auditevent_append_only();
    """,
)
PG_DROP = ("DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent;",)
# Test databases only (see tests/conftest.py): Django's flush between transactional tests.
PG_SUSPEND = ("ALTER TABLE core_auditevent DISABLE TRIGGER USER;",)
PG_RESUME = ("ALTER TABLE core_auditevent ENABLE TRIGGER USER;",)

SQLITE_CREATE = (
    """
    CREATE TRIGGER core_auditevent_no_update BEFORE UPDATE ON core_auditevent
    BEGIN SELECT RAISE(ABORT, 'core_auditevent is append-only: UPDATE refused'); END;
    """,
    """
    CREATE TRIGGER core_auditevent_no_delete BEFORE DELETE ON core_auditevent
    BEGIN SELECT RAISE(ABORT, 'core_auditevent is append-only: DELETE refused'); END;
    """,
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS core_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS core_auditevent_no_delete;",
)
