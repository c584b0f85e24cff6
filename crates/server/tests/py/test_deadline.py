"""Deadlines: a call whose grpc-timeout passes before it is answered fails with
DEADLINE_EXCEEDED (as immudb's server answers), never CANCELLED, and writes nothing when the
client gave up before the server started."""
import grpc
import pytest

from immudb.client import ImmudbClient
from immudb.grpc import schema_pb2

from stele_harness import raw_stub, raw_token, bearer, uniq


def test_tiny_timeout_is_deadline_exceeded(server):
    # immudb-py's own test: a client with a 1 ms timeout cannot even log in.
    for _ in range(20):
        c = ImmudbClient(server.url, timeout=0.001)
        with pytest.raises(grpc.RpcError) as e:
            c.login("immudb", "immudb")
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value.details()


def test_server_answers_deadline_exceeded_for_slow_calls(server):
    # Login hashes with bcrypt (tens of ms): with a deadline shorter than that, whichever side
    # notices first, the status is DEADLINE_EXCEEDED.
    ch, stub = raw_stub(server.url)
    req = schema_pb2.LoginRequest(user=b"immudb", password=b"immudb")
    codes = set()
    for timeout in (0.002, 0.005, 0.01, 0.02):
        for _ in range(5):
            try:
                stub.Login(req, timeout=timeout)
                codes.add(grpc.StatusCode.OK)
            except grpc.RpcError as e:
                codes.add(e.code())
    assert codes <= {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.OK}, codes
    assert grpc.StatusCode.DEADLINE_EXCEEDED in codes
    ch.close()


def test_a_generous_deadline_is_met(server):
    ch, stub = raw_stub(server.url)
    md = bearer(raw_token(server.url, database="defaultdb"))
    key = uniq("deadline").encode()
    stub.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=key, value=b"v")]),
             metadata=md, timeout=30)
    got = stub.Get(schema_pb2.KeyRequest(key=key), metadata=md, timeout=30)
    assert got.value == b"v"
    ch.close()
