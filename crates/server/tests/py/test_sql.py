"""SQL over gRPC through immudb-py: DDL, parameters of every type, queries, column-name modes,
UPSERT, time travel, HISTORY OF, catalog calls and verifiable row reads."""
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from immudb import constants, datatypesv2
from immudb.typeconv import py_to_sqlvalue

from stele_harness import rpc_details, uniq

# A tz-aware timestamp (+02:00) whose µs value converts exactly through immudb-py's float math.
TS = datetime(2023, 5, 17, 14, 34, 56, 789012, tzinfo=timezone(timedelta(hours=2)))
TS_US = 1684326896789012
TS2 = datetime(2021, 1, 2, 3, 4, 5, 123457, tzinfo=timezone.utc)


def _create_full_table(c):
    t = uniq("tab")
    res = c.sqlExec(
        f"CREATE TABLE {t} (id INTEGER AUTO_INCREMENT, name VARCHAR[64] NOT NULL, "
        f"active BOOLEAN, data BLOB[32], created TIMESTAMP, PRIMARY KEY id)")
    assert len(res.txs) > 0 and not res.ongoingTx
    return t


def test_timestamp_conversion_is_exact():
    # precondition for the round-trip tests below
    assert py_to_sqlvalue(TS).ts == TS_US
    assert py_to_sqlvalue(TS2).ts == 1609556645123457


def test_insert_with_params_and_select(fresh_db):
    c = fresh_db
    t = _create_full_table(c)
    res = c.sqlExec(
        f"INSERT INTO {t} (name, active, data, created) VALUES (@name, @active, @data, @created)",
        {"name": "alice", "active": True, "data": b"\x00\x01\xfe\xff", "created": TS})
    assert len(res.txs) == 1 and not res.ongoingTx
    tx = res.txs[0]
    assert tx.header.id > 0
    assert tx.updatedRows == 1
    assert tx.lastInsertedPKs[t].n == 1
    assert tx.firstInsertedPKs[t].n == 1

    res2 = c.sqlExec(
        f"INSERT INTO {t} (name, active, data, created) VALUES (@name, @active, @data, @created)",
        {"name": "bob", "active": False, "data": b"", "created": TS2})
    assert res2.txs[0].header.id == tx.header.id + 1
    assert res2.txs[0].lastInsertedPKs[t].n == 2

    rows = c.sqlQuery(f"SELECT id, name, active, data, created FROM {t}")
    assert rows == [(1, "alice", True, b"\x00\x01\xfe\xff", TS), (2, "bob", False, b"", TS2)]
    # values come back as UTC-aware datetimes equal to the inserted instants
    assert rows[0][4].utcoffset() == timedelta(0)
    assert int(round(rows[0][4].timestamp() * 1e6)) == TS_US

    rows = c.sqlQuery(f"SELECT id, name FROM {t} WHERE name = @n", {"n": "bob"})
    assert rows == [(2, "bob")]
    rows = c.sqlQuery(f"SELECT id FROM {t} WHERE active = @a", {"a": True})
    assert rows == [(1,)]
    rows = c.sqlQuery(f"SELECT id FROM {t} WHERE data = @d", {"d": b"\x00\x01\xfe\xff"})
    assert rows == [(1,)]
    rows = c.sqlQuery(f"SELECT id FROM {t} WHERE created = @ts", {"ts": TS2})
    assert rows == [(2,)]
    rows = c.sqlQuery(f"SELECT id FROM {t} WHERE id > @i", {"i": 1})
    assert rows == [(2,)]
    rows = c.sqlQuery(f"SELECT name FROM {t} WHERE name = 'nobody'")
    assert rows == []

    # NULL parameter
    c.sqlExec(f"INSERT INTO {t} (name, active, data, created) VALUES (@n, @a, @d, @c)",
              {"n": "carol", "a": None, "d": None, "c": None})
    rows = c.sqlQuery(f"SELECT name, active, data, created FROM {t} WHERE id = 3")
    assert rows == [("carol", None, None, None)]


def test_select_star_and_count(fresh_db):
    c = fresh_db
    t = _create_full_table(c)
    assert c.sqlQuery(f"SELECT COUNT(*) FROM {t}") == [(0,)]
    for i in range(3):
        c.sqlExec(f"INSERT INTO {t} (name) VALUES (@n)", {"n": f"n{i}"})
    assert c.sqlQuery(f"SELECT COUNT(*) FROM {t}") == [(3,)]
    assert c.sqlQuery(f"SELECT COUNT(*) FROM {t}",
                      columnNameMode=constants.COLUMN_NAME_MODE_FIELD) == [{"col0": 3}]
    rows = c.sqlQuery(f"SELECT * FROM {t} WHERE id = 2")
    assert rows == [(2, "n1", None, None, None)]
    rows = c.sqlQuery(f"SELECT id, name FROM {t} ORDER BY id DESC LIMIT 2")
    assert rows == [(3, "n2"), (2, "n1")]


def test_column_name_modes(fresh_db):
    c = fresh_db
    db = c.test_db_name
    t = _create_full_table(c)
    c.sqlExec(f"INSERT INTO {t} (name, active) VALUES ('x', true)")
    q = f"SELECT id, name, active FROM {t}"
    assert c.sqlQuery(q) == [(1, "x", True)]
    assert c.sqlQuery(q, columnNameMode=constants.COLUMN_NAME_MODE_FIELD) == \
        [{"id": 1, "name": "x", "active": True}]
    assert c.sqlQuery(q, columnNameMode=constants.COLUMN_NAME_MODE_TABLE) == \
        [{f"{t}.id": 1, f"{t}.name": "x", f"{t}.active": True}]
    assert c.sqlQuery(q, columnNameMode=constants.COLUMN_NAME_MODE_DATABASE) == \
        [{f"{db}.{t}.id": 1, f"{db}.{t}.name": "x", f"{db}.{t}.active": True}]
    assert c.sqlQuery(q, columnNameMode=constants.COLUMN_NAME_MODE_FULL) == \
        [{f"({db}.{t}.id)": 1, f"({db}.{t}.name)": "x", f"({db}.{t}.active)": True}]
    # aliases
    assert c.sqlQuery(f"SELECT name AS who FROM {t}",
                      columnNameMode=constants.COLUMN_NAME_MODE_FIELD) == [{"who": "x"}]
    # a UNION's columns are named after its first query's; computed ones are colN
    for op in ("UNION", "UNION ALL"):
        rows = c.sqlQuery(f"SELECT id, name, id + 1 FROM {t} {op} SELECT id, name, id * 2 FROM {t}",
                          columnNameMode=constants.COLUMN_NAME_MODE_FIELD)
        assert sorted(rows[0]) == ["col2", "id", "name"], rows


def test_raw_query_column_names_and_types(fresh_db):
    """v1.9.3 names plain columns '(table.col)'; types are upper-case names."""
    from immudb.grpc import schema_pb2
    c = fresh_db
    t = _create_full_table(c)
    c.sqlExec(f"INSERT INTO {t} (name) VALUES ('x')")
    results = list(c.stub.SQLQuery(schema_pb2.SQLQueryRequest(
        sql=f"SELECT id, name, active, data, created FROM {t}", acceptStream=True)))
    cols = [(col.name, col.type) for col in results[0].columns]
    assert cols == [(f"({t}.id)", "INTEGER"), (f"({t}.name)", "VARCHAR"),
                    (f"({t}.active)", "BOOLEAN"), (f"({t}.data)", "BLOB"),
                    (f"({t}.created)", "TIMESTAMP")]
    assert sum(len(r.rows) for r in results) == 1


def test_streaming_query_many_rows(fresh_db):
    c = fresh_db
    t = uniq("many")
    c.sqlExec(f"CREATE TABLE {t} (id INTEGER, v VARCHAR, PRIMARY KEY id)")
    values = ", ".join(f"({i}, 'v{i}')" for i in range(1, 1001))
    c.sqlExec(f"INSERT INTO {t} (id, v) VALUES {values}")
    for chunk in range(2):
        lo = 1001 + chunk * 1000
        c.sqlExec(f"INSERT INTO {t} (id, v) VALUES " +
                  ", ".join(f"({i}, 'v{i}')" for i in range(lo, lo + 1000)))
    rows = c.sqlQuery(f"SELECT id, v FROM {t}")
    assert len(rows) == 3000
    assert rows[0] == (1, "v1") and rows[-1] == (3000, "v3000")
    assert [r[0] for r in rows] == list(range(1, 3001))


def test_upsert_time_travel_and_history(fresh_db):
    c = fresh_db
    t = _create_full_table(c)
    ins = c.sqlExec(f"INSERT INTO {t} (name, active) VALUES ('alice', true)")
    ins_tx = ins.txs[0].header.id
    up = c.sqlExec(f"UPSERT INTO {t} (id, name, active) VALUES (1, 'bob', false)")
    up_tx = up.txs[0].header.id
    assert up_tx == ins_tx + 1
    assert up.txs[0].updatedRows == 1
    assert c.sqlQuery(f"SELECT id, name, active FROM {t}") == [(1, "bob", False)]
    # upsert of a new key inserts
    c.sqlExec(f"UPSERT INTO {t} (id, name) VALUES (2, 'zed')")
    assert c.sqlQuery(f"SELECT COUNT(*) FROM {t}") == [(2,)]

    before = c.sqlQuery(f"SELECT name, active FROM {t} BEFORE TX {up_tx} WHERE id = 1")
    assert before == [("alice", True)]
    before_all = c.sqlQuery(f"SELECT id FROM {t} BEFORE TX {up_tx}")
    assert before_all == [(1,)]

    hist = c.sqlQuery(f"SELECT name FROM (HISTORY OF {t}) WHERE id = 1")
    assert [r[0] for r in hist] == ["alice", "bob"]
    hist = c.sqlQuery(f"SELECT _rev, name FROM (HISTORY OF {t}) WHERE id = 1")
    assert hist == [(1, "alice"), (2, "bob")]


def test_update_and_delete_statements(fresh_db):
    c = fresh_db
    t = _create_full_table(c)
    c.sqlExec(f"INSERT INTO {t} (name) VALUES ('a'), ('b'), ('c')")
    r = c.sqlExec(f"UPDATE {t} SET active = true WHERE id >= 2")
    assert r.txs[0].updatedRows == 2
    assert c.sqlQuery(f"SELECT id FROM {t} WHERE active = true") == [(2,), (3,)]
    r = c.sqlExec(f"DELETE FROM {t} WHERE id = 1")
    assert r.txs[0].updatedRows == 1
    assert c.sqlQuery(f"SELECT id FROM {t}") == [(2,), (3,)]


def test_multi_statement_transaction(fresh_db):
    c = fresh_db
    t = _create_full_table(c)
    res = c.sqlExec(f"BEGIN TRANSACTION; INSERT INTO {t} (name) VALUES ('a'); "
                    f"INSERT INTO {t} (name) VALUES ('b'); COMMIT;")
    assert len(res.txs) == 1 and not res.ongoingTx
    assert res.txs[0].updatedRows == 2
    assert c.sqlQuery(f"SELECT name FROM {t}") == [("a",), ("b",)]


def test_list_tables_and_describe_table(fresh_db):
    c = fresh_db
    t = uniq("desc")
    other = uniq("other")
    c.sqlExec(f"CREATE TABLE {t} (id INTEGER AUTO_INCREMENT, code VARCHAR[64] NOT NULL, "
              f"flag BOOLEAN, payload BLOB[32], ts TIMESTAMP, note VARCHAR, PRIMARY KEY id)")
    c.sqlExec(f"CREATE UNIQUE INDEX ON {t}(code)")
    c.sqlExec(f"CREATE INDEX ON {t}(flag)")
    c.sqlExec(f"CREATE TABLE {other} (k VARCHAR[16], PRIMARY KEY k)")
    tables = c.listTables()
    assert t in tables and other in tables
    assert sorted(tables) == sorted([t, other])

    d = {col.name: col for col in c.describeTable(t)}
    assert [col.name for col in c.describeTable(t)] == ["id", "code", "flag", "payload", "ts", "note"]
    assert d["id"].type == "INTEGER"
    assert d["id"].index == "PRIMARY KEY"
    assert d["id"].autoincrement is True
    assert d["id"].unique is True
    assert d["id"].nullable is True  # PK declared without NOT NULL reports nullable (as Go)
    assert d["code"].type == "VARCHAR(64)"
    assert d["code"].nullable is False
    assert d["code"].index == "YES"
    assert d["code"].unique is True
    assert d["code"].autoincrement is False
    assert d["flag"].type == "BOOLEAN"
    assert d["flag"].index == "YES"
    assert d["flag"].unique is False
    assert d["flag"].nullable is True
    assert d["payload"].type == "BLOB(32)"
    assert d["payload"].index == "NO"
    assert d["ts"].type == "TIMESTAMP"
    assert d["note"].type == "VARCHAR"
    assert d["note"].index == "NO" and d["note"].unique is False

    d2 = c.describeTable(other)
    assert [(x.name, x.type, x.index, x.unique) for x in d2] == [("k", "VARCHAR(16)", "PRIMARY KEY", True)]

    with pytest.raises(grpc.RpcError):
        c.describeTable(uniq("missing"))


def test_verifiable_sql_get(fresh_db):
    c = fresh_db
    ti = uniq("vi")
    tv = uniq("vv")
    tc = uniq("vc")
    c.sqlExec(f"CREATE TABLE {ti} (id INTEGER, name VARCHAR, PRIMARY KEY id)")
    c.sqlExec(f"CREATE TABLE {tv} (name VARCHAR[32], n INTEGER, PRIMARY KEY name)")
    c.sqlExec(f"CREATE TABLE {tc} (a INTEGER, b VARCHAR[8], flag BOOLEAN, PRIMARY KEY (a, b))")
    r7 = c.sqlExec(f"INSERT INTO {ti} (id, name) VALUES (7, 'seven')").txs[0].header.id
    c.sqlExec(f"INSERT INTO {ti} (id, name) VALUES (1099511627776, 'two to the 40')")
    c.sqlExec(f"INSERT INTO {tv} (name, n) VALUES ('joe', 1), ('ann', 2)")
    c.sqlExec(f"INSERT INTO {tc} (a, b, flag) VALUES (1, 'x', true), (1, 'y', false)")
    for i in range(22):
        c.set(f"pad{i}".encode(), b"p")

    e = c.verifiableSQLGet(ti, [datatypesv2.PrimaryKeyIntValue(7)])
    assert e.verified is True
    assert e.sqlEntry.tx == r7
    assert "name" in e.ColNamesById.values() and "id" in e.ColNamesById.values()
    # (negative INTEGER keys cannot be asked for: immudb-py 1.5.0's encodeAsKey overflows on them)
    e = c.verifiableSQLGet(ti, [datatypesv2.PrimaryKeyIntValue(1099511627776)])
    assert e.verified is True

    e = c.verifiableSQLGet(tv, [datatypesv2.PrimaryKeyVarCharValue("joe")])
    assert e.verified is True
    e = c.verifiableSQLGet(tv, [datatypesv2.PrimaryKeyVarCharValue("ann")])
    assert e.verified is True

    e = c.verifiableSQLGet(tc, [datatypesv2.PrimaryKeyIntValue(1), datatypesv2.PrimaryKeyVarCharValue("y")])
    assert e.verified is True

    # an updated row: the proof is for the newest version
    for i in range(5):
        c.set(f"pad-b{i}".encode(), b"p")
    up = c.sqlExec(f"UPSERT INTO {ti} (id, name) VALUES (7, 'SEVEN')").txs[0].header.id
    e = c.verifiableSQLGet(ti, [datatypesv2.PrimaryKeyIntValue(7)])
    assert e.verified is True and e.sqlEntry.tx == up

    with pytest.raises(grpc.RpcError):
        c.verifiableSQLGet(ti, [datatypesv2.PrimaryKeyIntValue(12345)])


def test_sql_exec_result_shape_for_ddl(fresh_db):
    c = fresh_db
    before = c.currentState().txId
    res = c.sqlExec(f"CREATE TABLE {uniq('ddl')} (id INTEGER, PRIMARY KEY id)")
    assert len(res.txs) == 1 and not res.ongoingTx
    assert res.txs[0].header.id == before + 1


def test_sql_errors_raise(fresh_db):
    c = fresh_db
    missing = uniq("missing")
    with pytest.raises(grpc.RpcError) as ei:
        c.sqlQuery(f"SELECT * FROM {missing}")
    assert "does not exist" in rpc_details(ei.value), rpc_details(ei.value)
    before = c.currentState().txId
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"INSERT INTO {missing} (id) VALUES (1)")
    with pytest.raises(grpc.RpcError):
        c.sqlExec("THIS IS NOT SQL")
    t = _create_full_table(c)
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"INSERT INTO {t} (active) VALUES (true)")  # name is NOT NULL
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"CREATE TABLE {t} (id INTEGER, PRIMARY KEY id)")  # already exists
    assert c.currentState().txId == before + 1  # only the CREATE TABLE committed
    assert c.sqlQuery(f"SELECT COUNT(*) FROM {t}") == [(0,)]
