"""A request that only read ends its transaction with COMMIT (psycopg then keeps its prepared
statements); one that wrote and did not commit still rolls back, on both databases."""
import pytest
from sqlalchemy import event, func, select, text

from camnet.extensions import db
from camnet.tenants.models import AdminUnit
from camnet.tenants.scope import system_scope


@pytest.fixture
def routed(make_app, request):
    """An app with four routes of its own: a read, an ORM write left uncommitted, a raw write left
    uncommitted, and a read that then fails."""
    app = make_app(request.param)

    def read():
        with system_scope():
            return {"units": db.session.execute(select(func.count()).select_from(AdminUnit)).scalar()}

    def orm_write():
        with system_scope():
            db.session.add(AdminUnit(code="TX-ORM", name="Xã Ghi Dở", level="xã", is_commune=True, path="/x/"))
            db.session.flush()
        return {"ok": True}

    def raw_write():
        with system_scope():
            db.session.execute(text("INSERT INTO admin_units (code, name, level, is_commune, path, created_at) "
                                    "VALUES ('TX-RAW', 'Xã Ghi Thô', 'xã', true, '/y/', CURRENT_TIMESTAMP)"))
        return {"ok": True}

    def read_then_fail():
        read()
        raise RuntimeError("boom")

    for name, view in (("read", read), ("orm_write", orm_write), ("raw_write", raw_write),
                       ("read_then_fail", read_then_fail)):
        app.add_url_rule(f"/_tx/{name}", name, view)
    with app.app_context():
        yield app


def _ends(app):
    """Count the COMMITs and ROLLBACKs that reach the database."""
    seen = {"commit": 0, "rollback": 0}
    for name in seen:
        event.listen(db.engine, name, lambda conn, name=name: seen.__setitem__(name, seen[name] + 1))
    return seen


def _exists(code: str) -> bool:
    with system_scope():
        found = db.session.execute(select(AdminUnit.id).where(AdminUnit.code == code)).first() is not None
        db.session.rollback()
        return found


@pytest.mark.parametrize("routed", ["sqlite", "postgres"], indirect=True)
def test_reads_commit_and_unfinished_writes_roll_back(routed):
    client = routed.test_client()
    seen = _ends(routed)
    assert client.get("/_tx/read").status_code == 200
    assert seen == {"commit": 1, "rollback": 0}

    for path, code in (("/_tx/orm_write", "TX-ORM"), ("/_tx/raw_write", "TX-RAW")):
        seen.update(commit=0, rollback=0)
        assert client.get(path).status_code == 200
        assert seen["commit"] == 0 and seen["rollback"] == 1, path
        assert not _exists(code), f"{path} left {code} behind"

    seen.update(commit=0, rollback=0)
    routed.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/_tx/read_then_fail").status_code == 500
    assert seen["commit"] == 0


@pytest.mark.parametrize("routed", ["postgres"], indirect=True)
def test_prepared_statements_outlive_read_only_requests(routed):
    """psycopg prepares a statement on its fifth run; a ROLLBACK made it forget them all."""
    client = routed.test_client()
    for _ in range(8):
        assert client.get("/_tx/read").status_code == 200
    with db.engine.connect() as conn:  # the pool hands back the one connection the requests used
        prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements "
                                     "WHERE statement LIKE '%count(*)%admin_units%'")).scalar()
    assert prepared == 1
