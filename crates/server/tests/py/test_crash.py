"""Durability: acknowledged writes survive kill -9, and clients' persisted trusted states still
verify against the restarted server."""
import threading
import time

import grpc

from immudb.rootService import PersistentRootService

from stele_harness import connect, uniq

N_THREADS = 4
WRITE_SECONDS = 3.0


def test_kill9_keeps_acknowledged_verified_writes(make_server, tmp_path):
    srv = make_server()
    db = uniq("crash")
    connect(srv.url).createDatabase(db.encode())

    acked = [[] for _ in range(N_THREADS)]
    failures = [0] * N_THREADS
    errors = []
    stop = threading.Event()
    state_files = [str(tmp_path / f"state-{i}") for i in range(N_THREADS)]
    ready = threading.Barrier(N_THREADS + 1)

    def writer(i):
        try:
            c = connect(srv.url, rs=PersistentRootService(state_files[i]), timeout=15)
            c.useDatabase(db.encode())  # persisted under the db name, not the (changing) port
        except Exception as e:  # noqa: BLE001
            errors.append(e)
            ready.abort()
            return
        try:
            ready.wait(30)
        except threading.BrokenBarrierError:
            return
        n = 0
        while not stop.is_set():
            key = f"w{i}-{n}".encode()
            value = f"value-{i}-{n}-".encode() * 4
            n += 1
            try:
                r = c.verifiedSet(key, value)
            except Exception:  # noqa: BLE001 - in-flight calls may fail when the server dies
                failures[i] += 1
                if not srv.running:
                    return
                continue
            if r.verified:
                acked[i].append((key, value, r.id))

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(N_THREADS)]
    for t in threads:
        t.start()
    try:
        ready.wait(60)
    except threading.BrokenBarrierError:
        pass
    assert not errors, errors
    time.sleep(WRITE_SECONDS)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a writer thread hung after the server was killed"

    print(f"acknowledged per thread: {[len(a) for a in acked]}, failed calls: {failures}")
    for i in range(N_THREADS):
        assert len(acked[i]) > 0, f"thread {i} got no write acknowledged in {WRITE_SECONDS}s"

    srv.restart()
    total = 0
    for i in range(N_THREADS):
        c = connect(srv.url, rs=PersistentRootService(state_files[i]))
        c.useDatabase(db.encode())
        trusted = c._rs.get()
        assert trusted.txId == acked[i][-1][2], "the state file is not the last acknowledged state"
        for key, value, txid in acked[i]:
            g = c.verifiedGet(key)
            assert g.verified is True, key
            assert g.value == value, key
            assert g.id == txid, key
            total += 1
    # every acknowledged tx id is distinct and the server knows all of them
    ids = [txid for per in acked for (_, _, txid) in per]
    assert len(ids) == len(set(ids))
    state = connect(srv.url, database=db).currentState()
    assert state.txId >= max(ids)
    assert total == sum(len(a) for a in acked)

    # the restarted server keeps accepting verified writes that chain onto the old states
    for i in range(N_THREADS):
        c = connect(srv.url, rs=PersistentRootService(state_files[i]))
        c.useDatabase(db.encode())
        assert c.verifiedSet(f"after-{i}".encode(), b"ok").verified


def test_clean_restart_keeps_everything(make_server):
    srv = make_server()
    db = uniq("rs")
    admin = connect(srv.url)
    admin.createDatabase(db.encode())
    user = uniq("ru")
    from immudb import constants
    admin.createUser(user, "Pw0:ru", constants.PERMISSION_RW, db)
    c = connect(srv.url, database=db)
    c.set(b"k", b"v1")
    c.set(b"k", b"v2")
    c.sqlExec("CREATE TABLE keep (id INTEGER, v VARCHAR, PRIMARY KEY id)")
    c.sqlExec("INSERT INTO keep (id, v) VALUES (1, 'kept')")
    state = c.currentState()
    old_url = srv.url

    assert srv.stop() is not None
    srv.restart()
    assert srv.running

    c = connect(srv.url, database=db)
    s2 = c.currentState()
    assert (s2.txId, s2.txHash) == (state.txId, state.txHash)
    assert c.get(b"k").value == b"v2"
    assert [h.value for h in c.history(b"k", 0, 10, False)] == [b"v1", b"v2"]
    assert c.sqlQuery("SELECT v FROM keep WHERE id = 1") == [("kept",)]
    assert db in c.databaseList()
    # users and their passwords persist
    u = connect(srv.url, user, "Pw0:ru", database=db)
    assert u.get(b"k").value == b"v2"
    # the old address is gone (new process, new port) unless the port was reused
    if srv.url != old_url:
        ch = grpc.insecure_channel(old_url)
        try:
            grpc.channel_ready_future(ch).result(timeout=1)
            reachable = True
        except grpc.FutureTimeoutError:
            reachable = False
        finally:
            ch.close()
        assert not reachable


def test_sigterm_exits_cleanly(make_server):
    srv = make_server()
    connect(srv.url).set(uniq("k").encode(), b"v")
    code = srv.stop()
    assert code == 0, f"stele exited with {code} on SIGTERM:\n{srv.tail()}"

