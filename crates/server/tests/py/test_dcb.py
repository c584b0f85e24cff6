"""The DCB event store through UmaDB's own Python client (umadb 0.7.8), unmodified, against
`stele serve` (spec umadb-dcb.md sections 2.4-2.9 and 6): head rules, limits, directions,
batch sizes, conditions and idempotent retries, tracking info, large events, subscriptions,
the API key and TLS, the legacy path, graceful shutdown, concurrent appenders, kill -9, and an
event's proof checked by immudb-py through the immudb API on the same server.
"""
import os
import signal
import subprocess
import threading
import time
import uuid

import grpc
import pytest

# umadb 0.7.8 is in the test venv (scripts/test installs it): without it the suite fails.
from umadb import (AppendCondition, AuthenticationError, Client, Event, IntegrityError,
                   Query, QueryItem, ServingStatus, TrackingInfo, TransportError)

from stele_harness import STELE_BIN, SteleServer, connect, uniq


@pytest.fixture
def fresh(make_server):
    """A server of its own (positions from 1) and a DCB client of it."""
    srv = make_server(signing=False)
    c = Client(srv.dcb_url)
    yield srv, c
    c.close()


@pytest.fixture(scope="module")
def shared_dcb():
    srv = SteleServer()
    srv.start()
    c = Client(srv.dcb_url)
    yield srv, c
    c.close()
    srv.close()


def ev(typ, tags=(), data=b"x", uid=None, metadata=None):
    return Event(event_type=typ, data=data, tags=list(tags), uuid=uid, metadata=metadata)


def positions(resp):
    return [e.position for e in resp]


def test_read_head_rules_limits_and_directions(fresh):
    _, c = fresh
    events, head = c.read().collect_with_head()
    assert (events, head) == ([], None)
    assert c.head() is None
    assert c.append([ev("A", ["t1"])]) == 1
    assert c.append([ev("B", ["t1", "t2"]), ev("C")]) == 3
    assert c.head() == 3
    cases = [
        (dict(), [1, 2, 3], 3),
        (dict(limit=2), [1, 2], 2),
        (dict(start=2), [2, 3], 3),
        (dict(start=99), [], 3),
        (dict(backwards=True), [3, 2, 1], 3),
        (dict(backwards=True, start=2), [2, 1], 3),
        (dict(backwards=True, limit=1), [3], 3),
        (dict(start=2, limit=1), [2], 2),
        (dict(query=Query([QueryItem(tags=["t1", "t2"])])), [2], 3),
        (dict(query=Query([QueryItem(types=["A", "C"])])), [1, 3], 3),
        (dict(query=Query([QueryItem(types=["B"], tags=["t1"])])), [2], 3),
        (dict(query=Query([QueryItem(types=["A"]), QueryItem(tags=["t2"])])), [1, 2], 3),
        (dict(query=Query([QueryItem()])), [1, 2, 3], 3),
        (dict(query=Query([QueryItem(types=["nope"])])), [], 3),
    ]
    for kw, want, want_head in cases:
        got, head = c.read(**kw).collect_with_head()
        assert [e.position for e in got] == want, kw
        assert head == want_head, kw
    # limit=0: no messages at all, so no head.
    assert c.read(limit=0).collect_with_head() == ([], None)
    # eventsourcing's rules: read(after=head).head == head; a limit of 1 gives its event's position.
    assert c.read(start=4).head() == 3
    assert c.read(start=2, limit=1).head() == 2


def test_batch_sizes_split_reads_and_keep_them_complete(fresh):
    srv, c = fresh
    c.append([ev("E", ["b"], data=str(i).encode()) for i in range(25)])
    small = Client(srv.dcb_url, batch_size=4)
    try:
        r = small.read()
        assert len(r.next_batch()) == 4
        rest = [e.position for e in r]
        assert rest == list(range(5, 26))
        assert positions(small.read(query=Query([QueryItem(tags=["b"])]), backwards=True)) == list(range(25, 0, -1))
    finally:
        small.close()
    # batch_size 0 is taken as 1, not as "nothing".
    zero = Client(srv.dcb_url, batch_size=0)
    try:
        assert len(positions(zero.read())) == 25
    finally:
        zero.close()


def test_conditions_and_idempotent_retries(shared_dcb):
    _, c = shared_dcb
    tag = uniq("course")
    cb = Query([QueryItem(types=["enrolled"], tags=[tag])])
    resp = c.read(query=cb)
    assert list(resp) == []
    cond = AppendCondition(fail_if_events_match=cb, after=resp.head())
    first = ev("enrolled", [tag], uid=uuid.uuid4())
    pos = c.append([first], condition=cond)
    assert c.append([first], condition=cond) == pos  # the same retry: already done
    with pytest.raises(IntegrityError):
        c.append([ev("enrolled", [tag], uid=uuid.uuid4())], condition=cond)
    with pytest.raises(IntegrityError):
        c.append([ev("enrolled", [tag])], condition=cond)  # no UUID: no idempotency
    # After the conflicting event the boundary is free again.
    assert c.append([ev("enrolled", [tag])], condition=AppendCondition(cb, after=pos)) > pos
    # An empty query matches everything: fails on a non-empty store, holds after the head.
    with pytest.raises(IntegrityError):
        c.append([ev("x")], condition=AppendCondition(Query([])))
    head = c.head()
    assert c.append([ev("x")], condition=AppendCondition(Query([]), after=head)) == head + 1
    # Unconditional appends do not check UUIDs: a duplicate is written.
    assert c.append([first]) > head + 1


def test_tracking_info_is_recorded_with_the_append_and_must_increase(shared_dcb):
    _, c = shared_dcb
    source = uniq("upstream")
    assert c.get_tracking_info(source) is None
    last = c.append([ev("p"), ev("q")], tracking_info=TrackingInfo(source, 7))
    assert c.get_tracking_info(source) == 7
    got = list(c.read(start=last - 1, limit=2))
    assert [(e.tracking_info.source, e.tracking_info.position) for e in got] == [(source, 7)] * 2
    with pytest.raises(IntegrityError):
        c.append([ev("p")], tracking_info=TrackingInfo(source, 7))
    assert c.get_tracking_info(source) == 7
    # An empty append records only its tracking and returns 0.
    assert c.append([], tracking_info=TrackingInfo(source, 8)) == 0
    assert c.get_tracking_info(source) == 8
    with pytest.raises(ValueError):
        c.append([ev("p")], tracking_info=TrackingInfo("s" * 256, 1))


def test_events_round_trip_with_metadata_and_large_data(shared_dcb):
    _, c = shared_dcb
    uid = uuid.uuid4()
    tag = uniq("meta")
    pos = c.append([ev("m", [tag], data=b"\x00\xffdata", uid=uid, metadata={"k": "v", "a": "b"})])
    e = list(c.read(start=pos, limit=1))[0].event
    assert (e.event_type, e.tags, e.data, e.uuid, e.metadata) == ("m", [tag], b"\x00\xffdata", uid, {"k": "v", "a": "b"})
    # Three 1 MiB events in one append; read back in messages under the client's 4 MiB.
    big = [ev("big", [tag], data=bytes([i]) * (1 << 20)) for i in range(3)]
    last = c.append(big)
    got = list(c.read(query=Query([QueryItem(types=["big"], tags=[tag])])))
    assert [g.position for g in got] == [last - 2, last - 1, last]
    assert all(g.event.data == bytes([i]) * (1 << 20) for i, g in enumerate(got))
    # Over 4 MiB in one request is refused whole, as UmaDB refuses it.
    head = c.head()
    with pytest.raises(Exception):
        c.append([ev("big", [tag], data=b"z" * (1 << 20)) for _ in range(5)])
    assert c.head() == head


def test_subscription_catches_up_then_sees_new_appends(shared_dcb):
    _, c = shared_dcb
    tag = uniq("sub")
    q = Query([QueryItem(tags=[tag])])
    first = c.append([ev("s", [tag]), ev("s", [tag])])
    sub = c.subscribe(query=q, after=first - 2)
    got = []
    done = threading.Event()

    def consume():
        for e in sub:
            got.append((e.position, time.monotonic()))
            if len(got) == 3:
                done.set()
                return

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    time.sleep(0.3)
    c.append([ev("other", [uniq("noise")])])
    appended_at = time.monotonic()
    third = c.append([ev("s", [tag])])
    assert done.wait(5), got
    assert [p for p, _ in got] == [first - 1, first, third]
    assert got[2][1] - appended_at < 1.0
    sub.cancel()


def test_concurrent_appenders_get_gapless_non_interleaved_positions(fresh):
    _, c = fresh
    results = []
    lock = threading.Lock()

    def writer(w):
        mine = Client(fresh[0].dcb_url)
        try:
            for i in range(15):
                last = mine.append([ev(f"w{w}", [f"i{i}"]) for _ in range(3)])
                with lock:
                    results.append(last)
        finally:
            mine.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [3 * k for k in range(1, 121)]
    events = list(c.read())
    assert [e.position for e in events] == list(range(1, 361))
    for k in range(0, 360, 3):
        assert len({e.event.event_type for e in events[k:k + 3]}) == 1


def test_legacy_path_alias_and_health(shared_dcb):
    srv, c = shared_dcb
    assert c.check_health() == ServingStatus.SERVING
    assert c.check_health("umadb.v1.DCB") == ServingStatus.SERVING
    head = c.head()
    with grpc.insecure_channel(srv.dcb_url.removeprefix("http://")) as ch:
        call = ch.unary_unary("/umadb.UmaDBService/Head",
                              request_serializer=lambda b: b, response_deserializer=lambda b: b)
        raw = call(b"", timeout=10)
    # HeadResponse{optional uint64 position = 1}: tag 0x08, then the varint.
    value, shift = 0, 0
    for byte in raw[1:]:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    assert raw[:1] == b"\x08" and value == head


def test_an_events_proof_verifies_with_immudb_py(shared_dcb):
    srv, c = shared_dcb
    pos = c.append([ev("proved", [uniq("p")], data=b"audit me")])
    ic = connect(srv.url)
    ic.useDatabase(b"dcb")
    key = b"dcb/e/" + pos.to_bytes(8, "big")
    got = ic.verifiedGet(key)
    assert got.verified and b"audit me" in got.value
    assert ic.verifiedTxById(got.id)  # the append's whole tx, proved against the client's state
    # SQL on the event database: its events as a table, selected by type.
    rows = ic.sqlQuery("SELECT position, type, data FROM EVENTS('proved')")
    assert [(r[0], r[1]) for r in rows] == [(pos, "proved")] and rows[0][2] == b"audit me"
    # The immudb API reads the event database but never writes it behind the store's back.
    with pytest.raises(Exception, match="written only through its service"):
        ic.set(key, b"forged")
    with pytest.raises(Exception, match="written only through its service"):
        ic.sqlExec("CREATE TABLE t (id INTEGER, PRIMARY KEY id)")
    admin = connect(srv.url)
    with pytest.raises(Exception, match="event store"):
        admin.unloadDatabase("dcb")
    assert ic.verifiedGet(key).value == got.value


def make_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "basicConstraints=CA:FALSE",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


class TlsDcbServer(SteleServer):
    """Ready when the DCB port answers health over TLS (the immudb port is TLS too)."""

    def __init__(self, cert, key, api_key):
        super().__init__(extra_args=["--tls-cert", str(cert), "--tls-key", str(key),
                                     "--dcb-api-key", api_key])
        self.cert = cert

    def _wait_ready(self):
        deadline = time.monotonic() + 30
        while self.dcb_port is None and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def tls_url(self):
        return f"https://localhost:{self.dcb_port}"


def test_api_key_and_tls(tmp_path):
    cert, key = make_tls(tmp_path)
    srv = TlsDcbServer(cert, key, "sekret")
    try:
        srv.start()
        good = Client(srv.tls_url, ca_path=str(cert), api_key="sekret")
        assert good.append([ev("k")]) == 1
        assert good.head() == 1
        good.close()
        for wrong in ("nope", None):
            bad = Client(srv.tls_url, ca_path=str(cert), api_key=wrong)
            with pytest.raises(AuthenticationError, match="missing or invalid API key"):
                bad.head()
            # Health needs no key.
            assert bad.check_health() == ServingStatus.SERVING
            bad.close()
        with pytest.raises(TransportError):
            Client(srv.tls_url, api_key="sekret").head()  # the server's CA is not trusted
        with pytest.raises(TransportError, match="TLS is not enabled"):
            Client(f"http://127.0.0.1:{srv.dcb_port}", api_key="sekret").head()
    finally:
        srv.close()


def test_shutdown_ends_health_watches_and_subscriptions(make_server):
    srv = make_server(signing=False)
    c = Client(srv.dcb_url)
    c.append([ev("s")])
    watch = c.watch_health()
    assert next(watch) == ServingStatus.SERVING
    sub = c.subscribe(after=0)
    assert next(sub).position == 1
    seen = []

    def drain():
        for status in watch:
            seen.append(status)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    started = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(10)
    assert time.monotonic() - started < 3, "the server took over 3 s to stop"
    t.join(5)
    assert seen == [ServingStatus.NOT_SERVING]
    assert srv.proc.returncode == 0


def test_kill9_under_concurrent_appends_loses_no_acknowledged_event(make_server):
    srv = make_server(signing=False)
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        mine = Client(srv.dcb_url)
        i = 0
        while not stop.is_set():
            data = f"{w}:{i}".encode()
            try:
                last = mine.append([ev("k9", [f"w{w}"], data=data), ev("k9", [f"w{w}"], data=data + b"b")])
            except Exception:  # noqa: BLE001 - the server is being killed
                return
            with lock:
                acked[last] = data
            i += 1

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    assert acked, "nothing was acknowledged before the kill"
    data_dir = srv.data_dir
    check = subprocess.run([STELE_BIN, "--data-dir", data_dir, "--db", "dcb", "verify"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    srv.start()
    c = Client(srv.dcb_url)
    stored = {e.position: e.event.data for e in c.read()}
    for last, data in acked.items():
        assert stored.get(last - 1) == data and stored.get(last) == data + b"b", last
    assert sorted(stored) == list(range(1, len(stored) + 1))
    c.close()
