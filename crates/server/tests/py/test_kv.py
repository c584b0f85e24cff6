"""Key/value calls through immudb-py: Set/Get, revisions, GetAll, Delete, History, Scan,
references, sorted sets, ExecAll, expiring keys, TxById, TxScan, CurrentState."""
import datetime

import grpc
import pytest

from immudb import datatypes
from immudb.datatypes import DeleteKeysRequest
from immudb.grpc import schema_pb2

from stele_harness import rpc_details


def test_new_database_starts_at_tx_zero_and_first_set_is_tx_one(fresh_db):
    c = fresh_db
    s0 = c.currentState()
    assert s0.txId == 0
    # Empty-db state hash is sha256("") (spec 3.5), not zeros.
    assert s0.txHash.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert s0.db == c.test_db_name
    r = c.set(b"first", b"1")
    assert r.id == 1
    assert r.verified is False


def test_set_get(fresh_db):
    c = fresh_db
    r = c.set(b"k1", b"value-1")
    g = c.get(b"k1")
    assert g is not None
    assert g.key == b"k1"
    assert g.value == b"value-1"
    assert g.tx == r.id
    assert g.revision == 1
    r2 = c.set(b"k1", b"value-2")
    assert r2.id == r.id + 1
    g = c.get(b"k1")
    assert (g.value, g.tx, g.revision) == (b"value-2", r2.id, 2)
    # binary keys and values, including NUL bytes
    c.set(b"\x00\xffbin", b"\x00\x01\x02\xff")
    assert c.get(b"\x00\xffbin").value == b"\x00\x01\x02\xff"
    # empty value is allowed
    c.set(b"emptyval", b"")
    assert c.get(b"emptyval").value == b""


def test_get_missing_key_returns_none(fresh_db):
    assert fresh_db.get(b"no-such-key") is None
    fresh_db.set(b"present", b"x")
    assert fresh_db.get(b"no-such-key-2") is None


def test_get_missing_key_error_text(fresh_db):
    """immudb-py turns details ending in 'key not found' into None: check the raw text."""
    with pytest.raises(grpc.RpcError) as ei:
        fresh_db.stub.Get(schema_pb2.KeyRequest(key=b"absent"))
    assert rpc_details(ei.value).endswith("key not found"), rpc_details(ei.value)


def test_get_at_revision(fresh_db):
    c = fresh_db
    txs = [c.set(b"rev", v).id for v in (b"v0", b"v1", b"v2")]
    # absolute revisions
    for n, v in ((1, b"v0"), (2, b"v1"), (3, b"v2")):
        g = c.get(b"rev", atRevision=n)
        assert (g.value, g.revision, g.tx) == (v, n, txs[n - 1])
    # 0 = latest
    g = c.get(b"rev", atRevision=0)
    assert (g.value, g.revision) == (b"v2", 3)
    # relative revisions
    g = c.get(b"rev", atRevision=-1)
    assert (g.value, g.revision) == (b"v1", 2)
    g = c.get(b"rev", atRevision=-2)
    assert (g.value, g.revision) == (b"v0", 1)
    for bad in (-3, 4, 100):
        with pytest.raises(grpc.RpcError, match="invalid key revision number"):
            c.get(b"rev", atRevision=bad)


def test_set_all_get_all(fresh_db):
    c = fresh_db
    kv = {b"ka": b"1", b"kb": b"2", b"kc": b"3"}
    r = c.setAll(kv)
    # one transaction for all keys
    for k in kv:
        assert c.get(k).tx == r.id
    assert sorted(c.txById(r.id)) == sorted(kv)
    got = c.getAll([b"ka", b"missing", b"kc"])
    assert got == {b"ka": b"1", b"kc": b"3"}
    assert c.getAll([b"nothere"]) == {}
    assert c.getAll(list(kv)) == kv


def test_set_all_duplicate_keys_rejected(fresh_db):
    c = fresh_db
    before = c.currentState().txId
    req = schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"dup", value=b"1"),
                                     schema_pb2.KeyValue(key=b"dup", value=b"2")])
    with pytest.raises(grpc.RpcError):
        c.stub.Set(req)
    assert c.currentState().txId == before
    assert c.get(b"dup") is None


def test_delete_then_get_none_and_history_tombstone(fresh_db):
    c = fresh_db
    s = c.set(b"del-me", b"alive")
    hdr = c.delete(DeleteKeysRequest(keys=[b"del-me"]))
    assert hdr.id == s.id + 1
    assert hdr.nentries == 1
    assert c.get(b"del-me") is None
    h = c.history(b"del-me", 0, 10, False)
    assert [x.value for x in h] == [b"alive", b""]
    assert [x.tx for x in h] == [s.id, hdr.id]
    raw = c.stub.History(schema_pb2.HistoryRequest(key=b"del-me", limit=10))
    assert len(raw.entries) == 2
    assert raw.entries[1].metadata.deleted is True
    assert raw.entries[0].metadata.deleted is False
    # deleting an already deleted key fails with key not found
    with pytest.raises(grpc.RpcError) as ei:
        c.delete(DeleteKeysRequest(keys=[b"del-me"]))
    assert "key not found" in rpc_details(ei.value)
    # deleting a key that never existed fails too
    with pytest.raises(grpc.RpcError):
        c.delete(DeleteKeysRequest(keys=[b"never-was"]))
    # a deleted key can be set again
    c.set(b"del-me", b"reborn")
    assert c.get(b"del-me").value == b"reborn"


def test_history_order_offset_limit(fresh_db):
    c = fresh_db
    vals = [f"h{i}".encode() for i in range(5)]
    txs = [c.set(b"hist", v).id for v in vals]
    h = c.history(b"hist", 0, 10, False)
    assert [x.value for x in h] == vals
    assert [x.tx for x in h] == txs
    assert all(x.key == b"hist" for x in h)
    h = c.history(b"hist", 0, 10, True)
    assert [x.value for x in h] == vals[::-1]
    h = c.history(b"hist", 1, 2, False)
    assert [x.value for x in h] == vals[1:3]
    h = c.history(b"hist", 3, 10, True)
    assert [x.value for x in h] == [vals[1], vals[0]]
    h = c.history(b"hist", 0, 1, True)
    assert [x.value for x in h] == [vals[4]]


def test_history_of_missing_key(fresh_db):
    fresh_db.set(b"other", b"x")
    try:
        h = fresh_db.history(b"never-set", 0, 10, False)
    except grpc.RpcError as e:
        assert "key not found" in rpc_details(e)
    else:
        assert h == []


def test_scan_prefix_desc_limit_pagination(fresh_db):
    c = fresh_db
    keys = [b"p_a", b"p_b", b"p_c", b"p_d", b"p_e"]
    for i, k in enumerate(keys):
        c.set(k, f"v{i}".encode())
    c.set(b"q_a", b"other")
    c.set(b"p", b"just-the-prefix")  # equals the prefix itself, must be included
    c.currentState()  # refresh the client's sinceTx

    res = c.scan(b"", b"p_", False, 100)
    assert list(res.keys()) == keys
    assert res[b"p_c"] == b"v2"

    res = c.scan(b"", b"p_", True, 100)
    assert list(res.keys()) == keys[::-1]

    res = c.scan(b"", b"p_", False, 2)
    assert list(res.keys()) == keys[:2]

    # pagination with an exclusive seek key
    pages, seek = [], b""
    while True:
        page = c.scan(seek, b"p_", False, 2)
        if not page:
            break
        pages.append(list(page.keys()))
        seek = list(page.keys())[-1]
    assert pages == [[b"p_a", b"p_b"], [b"p_c", b"p_d"], [b"p_e"]]

    # descending from a seek key, exclusive
    res = c.scan(b"p_c", b"p_", True, 10)
    assert list(res.keys()) == [b"p_b", b"p_a"]

    res = c.scan(b"", b"p", False, 100)
    assert list(res.keys()) == [b"p"] + keys

    # deleted keys are not returned
    c.delete(DeleteKeysRequest(keys=[b"p_c"]))
    c.currentState()
    res = c.scan(b"", b"p_", False, 100)
    assert list(res.keys()) == [b"p_a", b"p_b", b"p_d", b"p_e"]

    # no match
    assert c.scan(b"", b"zz_", False, 10) == {}


def test_scan_returns_latest_values(fresh_db):
    c = fresh_db
    c.set(b"s_x", b"old")
    c.set(b"s_x", b"new")
    c.currentState()
    assert c.scan(b"", b"s_", False, 10) == {b"s_x": b"new"}


def test_set_reference_and_get_through_it(fresh_db):
    c = fresh_db
    t1 = c.set(b"target", b"t-value-1").id
    hdr = c.setReference(b"target", b"myref")
    assert hdr.id == t1 + 1
    g = c.get(b"myref")
    assert g.key == b"target"
    assert g.value == b"t-value-1"
    assert g.tx == t1
    # unbound reference follows the latest value of the target
    t2 = c.set(b"target", b"t-value-2").id
    g = c.get(b"myref")
    assert (g.key, g.value, g.tx) == (b"target", b"t-value-2", t2)
    # a reference to a missing key is refused
    with pytest.raises(grpc.RpcError):
        c.setReference(b"no-such-target", b"badref")
    # raw Get reports who referenced it
    e = c.stub.Get(schema_pb2.KeyRequest(key=b"myref"))
    assert e.referencedBy.key == b"myref"
    assert e.referencedBy.tx == hdr.id


def test_zadd_zscan(fresh_db):
    c = fresh_db
    items = {b"zk1": 3.0, b"zk2": 1.0, b"zk3": 2.0, b"zk4": 10.0}
    for k in items:
        c.set(k, b"val-" + k)
    for k, s in items.items():
        r = c.zAdd(b"zs", s, k)
        assert r.verified is False and r.id > 0
    c.set(b"zk5", b"not-in-set")

    # immudb-py always sends min and max scores, so always pass both.
    resp = c.zScan(b"zs", b"", 0, 0, True, 100, False, 0.0, 100.0, None)
    assert [e.key for e in resp.entries] == [b"zk2", b"zk3", b"zk1", b"zk4"]
    assert [e.score for e in resp.entries] == [1.0, 2.0, 3.0, 10.0]
    assert [e.entry.value for e in resp.entries] == [b"val-zk2", b"val-zk3", b"val-zk1", b"val-zk4"]
    assert all(e.set == b"zs" for e in resp.entries)

    resp = c.zScan(b"zs", b"", 0, 0, True, 100, False, 1.5, 5.0, None)
    assert [e.key for e in resp.entries] == [b"zk3", b"zk1"]

    resp = c.zScan(b"zs", b"", 0, 0, True, 100, True, 0.0, 100.0, None)
    assert [e.key for e in resp.entries] == [b"zk4", b"zk1", b"zk3", b"zk2"]

    resp = c.zScan(b"zs", b"", 0, 0, True, 2, False, 0.0, 100.0, None)
    assert [e.key for e in resp.entries] == [b"zk2", b"zk3"]

    # unknown set: empty
    resp = c.zScan(b"nosuchset", b"", 0, 0, True, 100, False, 0.0, 100.0, None)
    assert len(resp.entries) == 0

    # zAdd of a missing key is refused
    with pytest.raises(grpc.RpcError):
        c.zAdd(b"zs", 4.0, b"not-a-key")


def test_zadd_same_key_new_score_and_latest_value(fresh_db):
    c = fresh_db
    c.set(b"m", b"one")
    c.zAdd(b"zz", 5.0, b"m")
    c.set(b"m", b"two")
    resp = c.zScan(b"zz", b"", 0, 0, True, 100, False, 0.0, 100.0, None)
    assert [(e.key, e.score) for e in resp.entries] == [(b"m", 5.0)]
    # atTx = 0: the member resolves to the key's latest value
    assert resp.entries[0].entry.value == b"two"
    c.zAdd(b"zz", 7.0, b"m")
    resp = c.zScan(b"zz", b"", 0, 0, True, 100, False, 0.0, 100.0, None)
    assert sorted((e.key, e.score) for e in resp.entries) == [(b"m", 5.0), (b"m", 7.0)]


def test_exec_all_one_transaction(fresh_db):
    c = fresh_db
    c.set(b"pre", b"existing")
    ops = [
        datatypes.KeyValue(key=b"ea1", value=b"v1"),
        datatypes.KeyValue(key=b"ea2", value=b"v2"),
        datatypes.ZAddRequest(set=b"easet", score=4.5, key=b"ea1"),
        datatypes.ReferenceRequest(key=b"earef", referencedKey=b"ea2"),
        datatypes.ZAddRequest(set=b"easet", score=1.5, key=b"pre"),
    ]
    hdr = c.execAll(ops)
    assert hdr.nentries == 5
    assert c.get(b"ea1").tx == hdr.id
    assert c.get(b"ea2").tx == hdr.id
    g = c.get(b"earef")
    assert (g.key, g.value) == (b"ea2", b"v2")
    resp = c.zScan(b"easet", b"", 0, 0, True, 100, False, 0.0, 100.0, None)
    assert [(e.key, e.score) for e in resp.entries] == [(b"pre", 1.5), (b"ea1", 4.5)]
    assert resp.entries[1].entry.value == b"v1"
    assert c.currentState().txId == hdr.id
    assert len(c.txById(hdr.id)) == 5


def test_exec_all_failure_writes_nothing(fresh_db):
    c = fresh_db
    c.set(b"x", b"1")
    before = c.currentState().txId
    with pytest.raises(grpc.RpcError):
        c.execAll([datatypes.KeyValue(key=b"ok-key", value=b"v"),
                   datatypes.ZAddRequest(set=b"s", score=1.0, key=b"missing-member")])
    assert c.currentState().txId == before
    assert c.get(b"ok-key") is None


def test_expireable_set_past_expiry(fresh_db):
    c = fresh_db
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    c.expireableSet(b"gone", b"stale", past)
    # Expired entries are not readable, and immudb says why ("...key not found: expired
    # entry"), so immudb-py raises instead of returning None as for an absent key.
    with pytest.raises(grpc.RpcError) as e:
        c.get(b"gone")
    assert rpc_details(e.value).endswith("key not found: expired entry"), rpc_details(e.value)
    assert c.get(b"never-set") is None
    c.currentState()
    assert b"gone" not in c.scan(b"", b"gone", False, 10)


def test_expireable_set_future_expiry(fresh_db):
    c = fresh_db
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).replace(microsecond=0)
    c.expireableSet(b"later", b"fresh", future)
    assert c.get(b"later").value == b"fresh"
    raw = c.stub.Get(schema_pb2.KeyRequest(key=b"later"))
    assert raw.metadata.expiration.expiresAt == int(future.timestamp())
    v = c.verifiedGet(b"later")
    assert v.verified and v.value == b"fresh"


def test_tx_by_id(fresh_db):
    c = fresh_db
    r1 = c.set(b"tx-a", b"1")
    r2 = c.setAll({b"tx-b": b"2", b"tx-c": b"3"})
    assert c.txById(r1.id) == [b"tx-a"]
    assert sorted(c.txById(r2.id)) == [b"tx-b", b"tx-c"]
    assert c.txById(r2.id + 1000) is None  # needs details exactly 'tx not found'
    raw = c.stub.TxById(schema_pb2.TxRequest(tx=r2.id))
    assert raw.header.id == r2.id
    assert raw.header.nentries == 2
    assert len(raw.header.prevAlh) == 32 and len(raw.header.eH) == 32
    assert raw.header.blTxId == r2.id - 1
    for e in raw.entries:
        assert len(e.hValue) == 32
        assert e.key[:1] == b"\x00"


def test_tx_scan(fresh_db):
    c = fresh_db
    ids = [c.set(f"ts{i}".encode(), b"v").id for i in range(4)]
    assert ids == [1, 2, 3, 4]
    res = c.txScan(1, 10)
    assert [t.header.id for t in res.txs] == [1, 2, 3, 4]
    assert res.txs[2].entries[0].key == b"\x00ts2"
    res = c.txScan(2, 2)
    assert [t.header.id for t in res.txs] == [2, 3]
    res = c.txScan(4, 3)
    assert [t.header.id for t in res.txs] == [4]
    res = c.txScan(4, 10, desc=True)
    assert [t.header.id for t in res.txs] == [4, 3, 2, 1]
    res = c.txScan(3, 2, desc=True)
    assert [t.header.id for t in res.txs] == [3, 2]


def test_current_state_advances(fresh_db):
    c = fresh_db
    s1 = c.currentState()
    r = c.set(b"adv", b"1")
    s2 = c.currentState()
    assert s2.txId == s1.txId + 1 == r.id
    assert s2.txHash != s1.txHash
    assert len(s2.txHash) == 32
    assert s2.db == c.test_db_name
    c.set(b"adv", b"2")
    s3 = c.currentState()
    assert s3.txId == s2.txId + 1
    assert s3.txHash != s2.txHash
    # the state hash equals the Alh of the last tx's header
    from immudb import schema as imschema
    tx = c.stub.TxById(schema_pb2.TxRequest(tx=s3.txId))
    assert imschema.TxFromProto(tx).header.Alh() == s3.txHash


def test_get_at_tx_and_since_tx(fresh_db):
    c = fresh_db
    t1 = c.set(b"at", b"one").id
    t2 = c.set(b"at", b"two").id
    e = c.stub.Get(schema_pb2.KeyRequest(key=b"at", atTx=t1))
    assert e.value == b"one" and e.tx == t1
    e = c.stub.Get(schema_pb2.KeyRequest(key=b"at", atTx=t2))
    assert e.value == b"two"
    # sinceTx beyond the current tx is an error
    with pytest.raises(grpc.RpcError):
        c.stub.Get(schema_pb2.KeyRequest(key=b"at", sinceTx=t2 + 1000, noWait=True))


def test_scan_and_history_report_stored_revisions(server, fresh_db):
    # Entries from Scan carry their revision (as immudb's do), and History numbers every
    # version 1..n, deletes included.
    from stele_harness import raw_stub, raw_token, bearer
    c = fresh_db
    for i in range(3):
        c.set(b"rev:a", b"a%d" % i)
    c.set(b"rev:b", b"b0")
    c.delete(DeleteKeysRequest(keys=[b"rev:b"]))
    c.set(b"rev:b", b"b1")
    ch, stub = raw_stub(server.url)
    md = bearer(raw_token(server.url, database=c.test_db_name))
    got = stub.Scan(schema_pb2.ScanRequest(prefix=b"rev:"), metadata=md, timeout=30)
    assert [(e.key, e.value, e.revision) for e in got.entries] == [
        (b"rev:a", b"a2", 3), (b"rev:b", b"b1", 3)]
    hist = stub.History(schema_pb2.HistoryRequest(key=b"rev:b"), metadata=md, timeout=30)
    assert [e.revision for e in hist.entries] == [1, 2, 3]
    assert hist.entries[1].metadata.deleted
    ch.close()
