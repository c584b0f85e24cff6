"""Streaming calls (chunked framing), 32 MiB unary messages, exportTx -> replicateTx."""
import hashlib
from io import BytesIO

import grpc
import pytest

from immudb import datatypes, datatypesv2
from immudb.grpc import schema_pb2

from stele_harness import connect, uniq


def _blob(n, seed=b"seed"):
    out = bytearray()
    block = hashlib.sha256(seed).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def test_stream_set_get_full_200k(fresh_db):
    c = fresh_db
    value = _blob(200 * 1024)
    hdr = c.streamSetFullValue(b"big-stream", value)
    assert hdr.id > 0 and hdr.nentries == 1
    kv = c.streamGetFull(b"big-stream")
    assert kv.key == b"big-stream"
    assert len(kv.value) == len(value) and kv.value == value
    # unary Get agrees
    assert c.get(b"big-stream").value == value
    # buffered reader in odd-sized reads
    key, reader = c.streamGet(b"big-stream")
    assert key == b"big-stream"
    got = b""
    piece = reader.read(7777)
    while piece:
        got += piece
        piece = reader.read(7777)
    assert got == value


@pytest.mark.parametrize("size,chunk", [(1, 1), (65528, 65536), (65536, 65536), (65537, 1000),
                                        (3 * 65536 + 5, 4096)])
def test_stream_set_sizes_and_chunk_sizes(fresh_db, size, chunk):
    c = fresh_db
    value = _blob(size, str(size).encode())
    key = f"sz-{size}-{chunk}".encode()
    hdr = c.streamSet(key, BytesIO(value), len(value), chunk)
    assert hdr.nentries == 1
    assert c.get(key).value == value
    assert c.streamGetFull(key).value == value


def test_stream_get_missing_key_fails(fresh_db):
    fresh_db.set(b"x", b"1")
    with pytest.raises(grpc.RpcError):
        fresh_db.streamGetFull(b"no-such-stream-key")


def test_stream_scan(fresh_db):
    c = fresh_db
    vals = {b"ss-a": b"1" * 10, b"ss-b": _blob(70000), b"ss-c": b"3"}
    for k, v in vals.items():
        c.streamSetFullValue(k, v)
    c.set(b"other", b"o")
    got = list(c.streamScan(prefix=b"ss-"))
    assert [kv.key for kv in got] == [b"ss-a", b"ss-b", b"ss-c"]
    assert [kv.value for kv in got] == [vals[b"ss-a"], vals[b"ss-b"], vals[b"ss-c"]]
    got = list(c.streamScan(prefix=b"ss-", desc=True))
    assert [kv.key for kv in got] == [b"ss-c", b"ss-b", b"ss-a"]
    got = list(c.streamScan(prefix=b"ss-", limit=2))
    assert [kv.key for kv in got] == [b"ss-a", b"ss-b"]
    assert list(c.streamScan(prefix=b"none-")) == []


def test_stream_history(fresh_db):
    c = fresh_db
    for v in (b"1", b"2" * 300, b"3"):
        c.set(b"sh", v)
    got = list(c.streamHistory(key=b"sh"))
    assert [kv.key for kv in got] == [b"sh"] * 3
    assert [kv.value for kv in got] == [b"1", b"2" * 300, b"3"]
    got = list(c.streamHistory(key=b"sh", desc=True, limit=2))
    assert [kv.value for kv in got] == [b"3", b"2" * 300]
    got = list(c.streamHistory(key=b"sh", offset=1))
    assert [kv.value for kv in got] == [b"2" * 300, b"3"]


def test_stream_zscan(fresh_db):
    c = fresh_db
    keys = [uniq("zk").encode() for _ in range(4)]
    for k in keys:
        c.set(k, b"b" * 356)
    for k, s in zip(keys, (4.0, 3.0, 5.0, 6.0)):
        c.zAdd(b"szset", s, k)
    got = list(c.streamZScan(set=b"szset", limit=2, minScore=3.5))
    assert [e.score for e in got] == [4.0, 5.0]
    assert [e.key for e in got] == [keys[0], keys[2]]
    assert all(e.value == b"b" * 356 and e.set == b"szset" for e in got)
    got = list(c.streamZScan(set=b"szset"))
    assert [e.score for e in got] == [3.0, 4.0, 5.0, 6.0]
    got = list(c.streamZScan(set=b"szset", maxScore=4.5))
    assert [e.score for e in got] == [3.0, 4.0]


def test_stream_verified_set_and_get(fresh_db):
    c = fresh_db
    # immudb-py's stream verifier (verifiedtxbyid.verify) always runs the dual proof, which
    # it cannot do from an empty state (tx 0): start from a state with a tx in it.
    c.set(b"seed", b"1")
    c.currentState()
    value = _blob(150 * 1024, b"v")
    r = c.streamVerifiedSetFullValue(b"svk", value)
    assert r.verified is True and r.id > 0
    for i in range(21):
        c.set(f"pad{i}".encode(), b"p")
    g = c.streamVerifiedGet(key=b"svk")
    assert g.verified is True
    assert g.key == b"svk"
    assert g.value == value
    assert g.id == r.id
    r2 = c.streamVerifiedSet(b"svk2", BytesIO(b"123123" * 1024), 6 * 1024, 100)
    assert r2.verified is True
    assert c.get(b"svk2").value == b"123123" * 1024
    # through a reference
    c.setReference(b"svk", b"svref")
    g = c.streamVerifiedGet(key=b"svref")
    assert g.verified and g.key == b"svk" and g.refkey == b"svref" and g.value == value
    # and the plain verified path still agrees with the state the stream calls advanced
    v = c.verifiedGet(b"svk")
    assert v.verified and v.value == value


def test_stream_exec_all(fresh_db):
    c = fresh_db
    k1, k2 = uniq("se").encode(), uniq("se").encode()
    v1, v2 = b"123" * 80000, b"321" * 80000
    resp = c.streamExecAll([
        datatypes.KeyValue(key=k1, value=v1),
        datatypes.StreamingKeyValue(key=k2, value=BytesIO(v2), length=len(v2)),
        datatypes.ZAddRequest(set=b"sezset", score=3.0, key=k1),
    ])
    assert resp.id > 0
    assert resp.nentries == 3
    assert c.get(k1).value == v1 and c.get(k1).tx == resp.id
    assert c.get(k2).value == v2 and c.get(k2).tx == resp.id
    z = list(c.streamZScan(set=b"sezset"))
    assert [(e.key, e.score, e.value) for e in z] == [(k1, 3.0, v1)]


def test_unary_32mib_value(server, fresh_db_name):
    c = connect(server.url, database=fresh_db_name, max_grpc_message_length=40 * 1024 * 1024)
    key = b"k" * 512
    value = _blob(33544432, b"32mib")
    r = c.set(key, value)
    assert r.id > 0
    g = c.get(key)
    assert len(g.value) == len(value)
    assert hashlib.sha256(g.value).digest() == hashlib.sha256(value).digest()
    kv = c.streamGetFull(key)
    assert hashlib.sha256(kv.value).digest() == hashlib.sha256(value).digest()


def test_export_and_replicate(server, admin):
    src_name, rep_name = uniq("src"), uniq("rep")
    admin.createDatabaseV2(src_name, datatypesv2.DatabaseSettingsV2(), False)
    admin.createDatabaseV2(rep_name, datatypesv2.DatabaseSettingsV2(
        replicationSettings=datatypesv2.ReplicationSettings(replica=True)), False)
    src = connect(server.url, database=src_name)
    rep = connect(server.url, database=rep_name)

    ids = [src.set(b"rk", str(i).encode()).id for i in range(1, 4)]
    ids.append(src.setAll({b"m1": b"a", b"m2": b"b", b"m3": b"c"}).id)
    ids.append(src.set(b"rk", b"5").id)
    src.sqlExec("CREATE TABLE rt (id INTEGER, v VARCHAR, PRIMARY KEY id)")
    src.sqlExec("INSERT INTO rt (id, v) VALUES (1, 'one')")
    n = src.currentState().txId
    assert ids == [1, 2, 3, 4, 5]
    assert n == 7

    for i in range(1, n + 1):
        chunks = list(src.exportTx(i))
        assert chunks, f"exportTx({i}) returned no chunks"
        hdr = rep.replicateTx(iter(chunks))
        src_tx = src.stub.TxById(schema_pb2.TxRequest(tx=i))
        assert hdr.id == i
        assert hdr.nentries == src_tx.header.nentries
        if i == 3:
            assert rep.get(b"rk").value == b"3"

    s_src = src.currentState()
    s_rep = rep.currentState()
    assert s_rep.txId == s_src.txId == n
    assert s_rep.txHash == s_src.txHash
    assert rep.get(b"rk").value == b"5"
    assert rep.getAll([b"m1", b"m2", b"m3"]) == {b"m1": b"a", b"m2": b"b", b"m3": b"c"}
    assert rep.sqlQuery("SELECT v FROM rt WHERE id = 1") == [("one",)]
    # verified reads on the replica check out against its own state
    v = rep.verifiedGet(b"rk")
    assert v.verified and v.value == b"5"

    # a replica refuses ordinary writes
    before = rep.currentState().txId
    with pytest.raises(grpc.RpcError):
        rep.set(b"direct", b"write")
    with pytest.raises(grpc.RpcError):
        rep.sqlExec("INSERT INTO rt (id, v) VALUES (2, 'two')")
    assert rep.currentState().txId == before

    # replaying a tx that is already there changes nothing (Go refuses it); skipping ahead
    # is refused
    try:
        rep.replicateTx(iter(list(src.exportTx(2))))
    except grpc.RpcError:
        pass
    again = rep.currentState()
    assert (again.txId, again.txHash) == (s_rep.txId, s_rep.txHash)
    src.set(b"rk", b"6")
    src.set(b"rk", b"7")
    with pytest.raises(grpc.RpcError):
        rep.replicateTx(iter(list(src.exportTx(n + 2))))
    assert rep.currentState().txId == n


def test_export_missing_tx_fails(fresh_db):
    fresh_db.set(b"one", b"1")
    with pytest.raises(grpc.RpcError):
        list(fresh_db.exportTx(999))


def test_replicate_into_non_replica_fails(server, admin):
    src_name, dst_name = uniq("src"), uniq("dst")
    admin.createDatabaseV2(src_name, datatypesv2.DatabaseSettingsV2(), False)
    admin.createDatabaseV2(dst_name, datatypesv2.DatabaseSettingsV2(), False)
    src = connect(server.url, database=src_name)
    dst = connect(server.url, database=dst_name)
    src.set(b"a", b"1")
    with pytest.raises(grpc.RpcError):
        dst.replicateTx(iter(list(src.exportTx(1))))
    assert dst.currentState().txId == 0
