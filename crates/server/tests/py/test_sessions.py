"""Sessions (OpenSession/KeepAlive/CloseSession) and interactive SQL transactions
(NewTx/TxSQLExec/TxSQLQuery/Commit/Rollback) through immudb-py's Tx handler."""
import grpc
import pytest
from google.protobuf import empty_pb2

from immudb import constants
from immudb.client import ImmudbClient

from stele_harness import CALL_TIMEOUT, uniq

FIELD = constants.COLUMN_NAME_MODE_FIELD


def _table(admin_db_client):
    t = uniq("st")
    admin_db_client.sqlExec(
        f"CREATE TABLE {t} (id INTEGER AUTO_INCREMENT, v VARCHAR[16], PRIMARY KEY id)")
    return t


def test_interactive_transaction_commit_and_rollback(server, fresh_db):
    other = fresh_db  # token-mode client on the same database
    db = fresh_db.test_db_name
    t = _table(other)
    sc = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    session = sc.openSession("immudb", "immudb", db.encode())
    try:
        tx = session.newTx()
        tx.sqlExec(f"INSERT INTO {t} (v) VALUES (@v)", {"v": "a"})
        # the transaction sees its own uncommitted write
        assert tx.sqlQuery(f"SELECT id, v FROM {t}") == [(1, "a")]
        assert tx.sqlQuery(f"SELECT * FROM {t}", columnNameMode=FIELD) == [{"id": 1, "v": "a"}]
        # nobody else does
        assert other.sqlQuery(f"SELECT id, v FROM {t}") == []
        before = other.currentState().txId
        committed = tx.commit()
        assert committed.header.id == before + 1
        assert committed.updatedRows == 1
        assert other.sqlQuery(f"SELECT id, v FROM {t}") == [(1, "a")]

        tx = session.newTx()
        tx.sqlExec(f"INSERT INTO {t} (v) VALUES (@v)", {"v": "b"})
        tx.sqlExec(f"INSERT INTO {t} (v) VALUES (@v)", {"v": "c"})
        assert tx.sqlQuery(f"SELECT id, v FROM {t}") == [(1, "a"), (2, "b"), (3, "c")]
        state_before_rollback = other.currentState().txId
        tx.rollback()
        assert other.currentState().txId == state_before_rollback
        assert other.sqlQuery(f"SELECT id, v FROM {t}") == [(1, "a")]

        tx = session.newTx()
        assert tx.sqlQuery(f"SELECT id, v FROM {t}") == [(1, "a")]
        it = tx.sqlQuery(f"SELECT id, v FROM {t}", acceptStream=True)
        assert list(it) == [(1, "a")]
        tx.commit()

        # a write committed by someone else is visible to a new transaction
        other.sqlExec(f"INSERT INTO {t} (v) VALUES ('d')")
        tx = session.newTx()
        assert [r[1] for r in tx.sqlQuery(f"SELECT id, v FROM {t}")] == ["a", "d"]
        tx.rollback()
    finally:
        sc.closeSession()


def test_transaction_calls_after_commit_fail(server, fresh_db):
    db = fresh_db.test_db_name
    t = _table(fresh_db)
    sc = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    session = sc.openSession("immudb", "immudb", db.encode())
    try:
        tx = session.newTx()
        stub = tx.txStub  # carries sessionid + transactionid
        tx.sqlExec(f"INSERT INTO {t} (v) VALUES ('x')")
        tx.commit()
        from immudb.grpc import schema_pb2
        with pytest.raises(grpc.RpcError):
            stub.TxSQLExec(schema_pb2.SQLExecRequest(sql=f"INSERT INTO {t} (v) VALUES ('y')"))
        with pytest.raises(grpc.RpcError):
            stub.Commit(empty_pb2.Empty())
        assert fresh_db.sqlQuery(f"SELECT v FROM {t}") == [("x",)]
    finally:
        sc.closeSession()


def test_sql_error_inside_transaction(server, fresh_db):
    db = fresh_db.test_db_name
    t = _table(fresh_db)
    sc = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    session = sc.openSession("immudb", "immudb", db.encode())
    try:
        tx = session.newTx()
        with pytest.raises(grpc.RpcError):
            tx.sqlExec(f"INSERT INTO {uniq('nosuch')} (v) VALUES ('x')")
        with pytest.raises(grpc.RpcError):
            tx.sqlQuery(f"SELECT * FROM {uniq('nosuch')}")
        try:
            tx.rollback()
        except grpc.RpcError:
            pass  # the failed statement may already have ended the transaction
        assert fresh_db.sqlQuery(f"SELECT COUNT(*) FROM {t}") == [(0,)]
    finally:
        sc.closeSession()


def test_session_mode_plain_calls_and_close(server, fresh_db):
    db = fresh_db.test_db_name
    sc = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    session = sc.openSession("immudb", "immudb", db.encode())
    # ordinary calls work in session mode, on the session's database
    r = sc.set(b"sess-key", b"sess-val")
    assert sc.get(b"sess-key").value == b"sess-val"
    assert fresh_db.get(b"sess-key").value == b"sess-val"
    assert fresh_db.get(b"sess-key").tx == r.id
    sc.keepAlive()
    session_stub = session.stub  # still carries the sessionid header
    sc.closeSession()
    # calls with the closed session fail
    with pytest.raises(grpc.RpcError):
        session_stub.CurrentState(empty_pb2.Empty())
    with pytest.raises(grpc.RpcError):
        session.newTx()
    with pytest.raises(grpc.RpcError):
        session_stub.KeepAlive(empty_pb2.Empty())
    # and the client itself has no credentials any more
    with pytest.raises(grpc.RpcError):
        sc.get(b"sess-key")


def test_managed_session(server, fresh_db):
    db = fresh_db.test_db_name
    t = _table(fresh_db)
    sc = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    with sc.openManagedSession("immudb", "immudb", db.encode()) as session:
        tx = session.newTx()
        tx.sqlExec(f"INSERT INTO {t} (v) VALUES (@v)", {"v": "m1"})
        assert list(tx.sqlQuery(f"SELECT * FROM {t}", columnNameMode=FIELD, acceptStream=True)) == \
            [{"id": 1, "v": "m1"}]
        res = tx.commit()
        assert res.header.id > 0
        sc.set(b"managed", b"yes")
        session_stub = session.stub
    assert fresh_db.sqlQuery(f"SELECT v FROM {t}") == [("m1",)]
    assert fresh_db.get(b"managed").value == b"yes"
    with pytest.raises(grpc.RpcError):
        session_stub.CurrentState(empty_pb2.Empty())

    # a second managed session sees the first one's commit and can roll back its own work
    with sc.openManagedSession("immudb", "immudb", db.encode()) as session:
        tx = session.newTx()
        tx.sqlExec(f"INSERT INTO {t} (v) VALUES ('m2')")
        assert [r[0] for r in tx.sqlQuery(f"SELECT v FROM {t}")] == ["m1", "m2"]
        tx.rollback()
    assert fresh_db.sqlQuery(f"SELECT v FROM {t}") == [("m1",)]


def test_open_session_with_bad_credentials_fails(server, fresh_db_name):
    sc = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    with pytest.raises(grpc.RpcError):
        sc.openSession("immudb", "wrong-password", fresh_db_name.encode())
    sc2 = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    with pytest.raises(grpc.RpcError):
        sc2.openSession("immudb", "immudb", uniq("nodb").encode())


def test_unknown_session_id_is_refused(server):
    ch = grpc.insecure_channel(server.url)
    try:
        from immudb.grpc import schema_pb2_grpc
        stub = schema_pb2_grpc.ImmuServiceStub(ch)
        with pytest.raises(grpc.RpcError):
            stub.CurrentState(empty_pb2.Empty(), metadata=[("sessionid", "no-such-session")],
                              timeout=CALL_TIMEOUT)
    finally:
        ch.close()


def test_two_sessions_are_isolated(server, fresh_db):
    db = fresh_db.test_db_name
    t = _table(fresh_db)
    a = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    b = ImmudbClient(server.url, timeout=CALL_TIMEOUT)
    sa = a.openSession("immudb", "immudb", db.encode())
    sb = b.openSession("immudb", "immudb", db.encode())
    try:
        ta = sa.newTx()
        tb = sb.newTx()
        ta.sqlExec(f"INSERT INTO {t} (id, v) VALUES (10, 'from-a')")
        assert tb.sqlQuery(f"SELECT v FROM {t}") == []
        ta.commit()
        tb.rollback()
        tb = sb.newTx()
        assert tb.sqlQuery(f"SELECT v FROM {t}") == [("from-a",)]
        tb.commit()
    finally:
        a.closeSession()
        b.closeSession()
