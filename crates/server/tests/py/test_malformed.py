"""Malformed and invalid requests: they fail, and they write nothing."""
import grpc
import pytest
from google.protobuf import empty_pb2
from google.protobuf.message import DecodeError

from immudb.datatypesv2 import DatabaseSettingsV2
from immudb.grpc import schema_pb2

from stele_harness import CALL_TIMEOUT, bearer, connect, raw_stub, raw_token, rpc_details, uniq

T = CALL_TIMEOUT
GARBAGE = [
    b"\x0a\x64abc",          # field 1, length 100, only 3 bytes follow
    b"\xff" * 11,            # a varint that never ends
    b"\x0a\x05\x0a\x03ab",   # nested KeyValue truncated
]


def _state(stub, tok):
    return stub.CurrentState(empty_pb2.Empty(), metadata=bearer(tok), timeout=T)


@pytest.mark.parametrize("garbage", GARBAGE, ids=["short-len", "endless-varint", "nested-trunc"])
def test_garbage_request_body(server, fresh_db_name, garbage):
    with pytest.raises(DecodeError):
        schema_pb2.SetRequest.FromString(garbage)  # really not a SetRequest
    tok = raw_token(server.url, database=fresh_db_name)
    ch, stub = raw_stub(server.url)
    try:
        stub.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"ok", value=b"1")]),
                 metadata=bearer(tok), timeout=T)
        before = _state(stub, tok)
        for method in ("Set", "VerifiableSet", "ExecAll", "SQLExec", "Get", "CreateDatabase"):
            call = ch.unary_unary(f"/immudb.schema.ImmuService/{method}",
                                  request_serializer=lambda x: x,
                                  response_deserializer=lambda x: x)
            with pytest.raises(grpc.RpcError) as ei:
                call(garbage, metadata=bearer(tok), timeout=T)
            assert ei.value.code() != grpc.StatusCode.OK
        after = _state(stub, tok)
        assert after.txId == before.txId
        assert after.txHash == before.txHash
        # the server is still fine
        stub.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"ok2", value=b"2")]),
                 metadata=bearer(tok), timeout=T)
        assert _state(stub, tok).txId == before.txId + 1
    finally:
        ch.close()


def test_garbage_stream_chunks(server, fresh_db_name):
    """A client stream whose framing lies about lengths fails and writes nothing."""
    tok = raw_token(server.url, database=fresh_db_name)
    ch, stub = raw_stub(server.url)
    try:
        before = _state(stub, tok)
        bad_streams = [
            # key header says 100 bytes, only 3 arrive, then end of stream
            [schema_pb2.Chunk(content=(100).to_bytes(8, "big") + b"abc")],
            # key ok, value header says 1000 bytes, only 10 arrive
            [schema_pb2.Chunk(content=(1).to_bytes(8, "big") + b"k"),
             schema_pb2.Chunk(content=(1000).to_bytes(8, "big") + b"0123456789")],
            # nothing at all
            [],
        ]
        for chunks in bad_streams:
            with pytest.raises(grpc.RpcError):
                stub.streamSet(iter(chunks), metadata=bearer(tok), timeout=T)
        assert _state(stub, tok).txId == before.txId
    finally:
        ch.close()


def test_sql_param_of_wrong_type(fresh_db):
    c = fresh_db
    t = uniq("wt")
    c.sqlExec(f"CREATE TABLE {t} (id INTEGER, n INTEGER, name VARCHAR[16], PRIMARY KEY id)")
    before = c.currentState().txId
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"INSERT INTO {t} (id, n) VALUES (1, @n)", {"n": "not-a-number"})
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"INSERT INTO {t} (id, n) VALUES (2, @n)", {"n": b"\x01\x02"})
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"INSERT INTO {t} (id, name) VALUES (3, @s)", {"s": "x" * 17})  # too long
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"INSERT INTO {t} (id, n) VALUES (@id, 1)", {"id": "abc"})
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"INSERT INTO {t} (id, n) VALUES (4, @missing)", {})
    # several rows in one statement: one bad value rejects the whole statement
    with pytest.raises(grpc.RpcError):
        c.sqlExec(f"INSERT INTO {t} (id, n) VALUES (5, 1), (6, @n)", {"n": "bad"})
    assert c.currentState().txId == before
    assert c.sqlQuery(f"SELECT COUNT(*) FROM {t}") == [(0,)]


def test_key_longer_than_max_key_len(admin):
    name = uniq("mk")
    admin.createDatabaseV2(name, DatabaseSettingsV2(maxKeyLen=32), False)
    c = connect(admin._url, database=name)
    c.set(b"seed", b"1")
    before = c.currentState()
    with pytest.raises(grpc.RpcError):
        c.set(b"L" * 40, b"v")
    with pytest.raises(grpc.RpcError):
        c.setAll({b"fine": b"1", b"L" * 64: b"2"})
    with pytest.raises(grpc.RpcError):
        c.verifiedSet(b"L" * 33, b"v")
    with pytest.raises(grpc.RpcError):
        c.streamSetFullValue(b"L" * 50, b"v")
    after = c.currentState()
    assert (after.txId, after.txHash) == (before.txId, before.txHash)
    assert c.get(b"fine") is None
    try:
        assert c.get(b"L" * 40) is None
    except grpc.RpcError:
        pass  # refusing to even look the key up is fine


def test_empty_key_refused(fresh_db):
    c = fresh_db
    c.set(b"x", b"1")
    before = c.currentState().txId
    with pytest.raises(grpc.RpcError):
        c.set(b"", b"v")
    with pytest.raises(grpc.RpcError):
        c.stub.Set(schema_pb2.SetRequest())  # no KVs at all
    assert c.currentState().txId == before


def test_use_unknown_database(client):
    name = uniq("nodb")
    with pytest.raises(grpc.RpcError) as ei:
        client.useDatabase(name.encode())
    assert "does not exist" in rpc_details(ei.value), rpc_details(ei.value)
    # the client still works on its previous database
    client.set(uniq("k").encode(), b"v")


def test_prove_since_tx_in_the_future(fresh_db):
    c = fresh_db
    c.set(b"k", b"v")
    cur = c.currentState().txId
    with pytest.raises(grpc.RpcError):
        c.stub.VerifiableGet(schema_pb2.VerifiableGetRequest(
            keyRequest=schema_pb2.KeyRequest(key=b"k"), proveSinceTx=cur + 100))
    with pytest.raises(grpc.RpcError):
        c.stub.VerifiableSet(schema_pb2.VerifiableSetRequest(
            setRequest=schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"k2", value=b"v")]),
            proveSinceTx=cur + 100))
    assert c.currentState().txId == cur
    assert c.get(b"k2") is None


def test_tx_by_id_zero_and_huge(fresh_db):
    c = fresh_db
    c.set(b"k", b"v")
    with pytest.raises(grpc.RpcError):
        c.stub.TxById(schema_pb2.TxRequest(tx=0))
    assert c.txById(2 ** 63) is None
