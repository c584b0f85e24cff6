"""Authentication and authorisation: who may call what."""
import grpc
import pytest
from google.protobuf import empty_pb2

from immudb import constants
from immudb.client import ImmudbClient
from immudb.grpc import schema_pb2

from stele_harness import CALL_TIMEOUT, bearer, connect, raw_stub, raw_token, rpc_details, uniq

T = CALL_TIMEOUT


@pytest.fixture
def raw(server):
    ch, stub = raw_stub(server.url)
    yield stub
    ch.close()


def test_calls_without_login_are_unauthenticated(raw):
    calls = [
        lambda: raw.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"k", value=b"v")]), timeout=T),
        lambda: raw.Get(schema_pb2.KeyRequest(key=b"k"), timeout=T),
        lambda: raw.CurrentState(empty_pb2.Empty(), timeout=T),
        lambda: raw.DatabaseList(empty_pb2.Empty(), timeout=T),
        lambda: raw.UseDatabase(schema_pb2.Database(databaseName="defaultdb"), timeout=T),
        lambda: raw.ListUsers(empty_pb2.Empty(), timeout=T),
        lambda: raw.CreateDatabase(schema_pb2.Database(databaseName=uniq("x")), timeout=T),
        lambda: list(raw.SQLQuery(schema_pb2.SQLQueryRequest(sql="SELECT 1"), timeout=T)),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as ei:
            call()
        assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED, (ei.value.code(), rpc_details(ei.value))


def test_garbage_token_is_unauthenticated(raw):
    with pytest.raises(grpc.RpcError) as ei:
        raw.CurrentState(empty_pb2.Empty(), metadata=bearer("not-a-real-token"), timeout=T)
    assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_needs_no_login(raw):
    h = raw.Health(empty_pb2.Empty(), timeout=T)
    assert h.status is True and h.version == "1.9.3"


def test_read_only_user(admin, fresh_db_name):
    url = admin._url
    owner = connect(url, database=fresh_db_name)
    owner.set(b"ro-key", b"ro-value")
    owner.sqlExec("CREATE TABLE rot (id INTEGER, PRIMARY KEY id)")
    owner.sqlExec("INSERT INTO rot (id) VALUES (1)")
    user = uniq("ro")
    admin.createUser(user, "Pw0:ro", constants.PERMISSION_R, fresh_db_name)
    u = connect(url, user, "Pw0:ro", database=fresh_db_name)
    assert u.get(b"ro-key").value == b"ro-value"
    assert u.verifiedGet(b"ro-key").verified
    assert u.scan(b"", b"ro-", False, 10) == {b"ro-key": b"ro-value"}
    assert u.history(b"ro-key", 0, 10, False)[0].value == b"ro-value"
    assert u.sqlQuery("SELECT id FROM rot") == [(1,)]
    before = owner.currentState().txId
    denied = [
        lambda: u.set(b"ro-key", b"overwrite"),
        lambda: u.verifiedSet(b"ro-new", b"x"),
        lambda: u.setAll({b"a": b"1"}),
        lambda: u.setReference(b"ro-key", b"ro-ref"),
        lambda: u.zAdd(b"zs", 1.0, b"ro-key"),
        lambda: u.sqlExec("INSERT INTO rot (id) VALUES (2)"),
        lambda: u.sqlExec("CREATE TABLE rot2 (id INTEGER, PRIMARY KEY id)"),
        lambda: u.createDatabase(uniq("rodb").encode()),
        lambda: u.createUser(uniq("x"), "Pw0:x", constants.PERMISSION_R, fresh_db_name),
    ]
    for call in denied:
        with pytest.raises(grpc.RpcError):
            call()
    assert owner.currentState().txId == before
    assert owner.get(b"ro-key").value == b"ro-value"


def test_read_write_user_cannot_administer(admin, fresh_db_name):
    url = admin._url
    user = uniq("rw")
    admin.createUser(user, "Pw0:rw", constants.PERMISSION_RW, fresh_db_name)
    u = connect(url, user, "Pw0:rw", database=fresh_db_name)
    r = u.set(b"rw-key", b"v")
    assert u.get(b"rw-key").tx == r.id
    assert u.verifiedSet(b"rw-key2", b"v2").verified
    u.sqlExec("CREATE TABLE rwt (id INTEGER, PRIMARY KEY id)")
    u.sqlExec("INSERT INTO rwt (id) VALUES (1)")
    assert u.sqlQuery("SELECT id FROM rwt") == [(1,)]
    newdb = uniq("rwdb")
    newuser = uniq("rwu")
    with pytest.raises(grpc.RpcError):
        u.createUser(newuser, "Pw0:x", constants.PERMISSION_R, fresh_db_name)
    with pytest.raises(grpc.RpcError):
        u.createDatabase(newdb.encode())
    with pytest.raises(grpc.RpcError):
        u.changePermission(schema_pb2.GRANT, user, "defaultdb", constants.PERMISSION_RW)
    with pytest.raises(grpc.RpcError):
        u.setActiveUser(False, "immudb")
    with pytest.raises(grpc.RpcError):
        u.unloadDatabase(fresh_db_name)
    assert newdb not in admin.databaseList()
    assert newuser.encode() not in [x.user for x in admin.listUsers().userlist.users]
    # a plain user lists only itself
    listed = [x.user for x in u.listUsers().userlist.users]
    assert listed == [user.encode()]


def test_no_permission_on_database_cannot_use_it(admin, fresh_db_name):
    url = admin._url
    other_db = uniq("other")
    admin.createDatabase(other_db.encode())
    user = uniq("np")
    admin.createUser(user, "Pw0:np", constants.PERMISSION_RW, fresh_db_name)
    u = connect(url, user, "Pw0:np", database=fresh_db_name)
    with pytest.raises(grpc.RpcError) as ei:
        u.useDatabase(other_db.encode())
    assert ei.value.code() == grpc.StatusCode.PERMISSION_DENIED, (ei.value.code(), rpc_details(ei.value))
    c = ImmudbClient(url, timeout=T)
    with pytest.raises(grpc.RpcError):
        c.login(user, "Pw0:np", database=other_db.encode())
    # also not defaultdb
    with pytest.raises(grpc.RpcError):
        u.useDatabase(b"defaultdb")
    # and the session flavour
    s = ImmudbClient(url, timeout=T)
    with pytest.raises(grpc.RpcError):
        s.openSession(user, "Pw0:np", other_db.encode())


def test_token_without_database_is_refused(server, raw):
    tok = raw_token(server.url)  # Login only, no UseDatabase
    with pytest.raises(grpc.RpcError) as ei:
        raw.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"k", value=b"v")]),
                metadata=bearer(tok), timeout=T)
    assert "please select a database first" in rpc_details(ei.value), rpc_details(ei.value)
    with pytest.raises(grpc.RpcError) as ei:
        raw.Get(schema_pb2.KeyRequest(key=b"k"), metadata=bearer(tok), timeout=T)
    assert "please select a database first" in rpc_details(ei.value)
    # the same token can select one and then work
    tok2 = raw.UseDatabase(schema_pb2.Database(databaseName="defaultdb"),
                           metadata=bearer(tok), timeout=T).token
    key = uniq("k").encode()
    raw.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=key, value=b"v")]),
            metadata=bearer(tok2), timeout=T)
    assert raw.Get(schema_pb2.KeyRequest(key=key), metadata=bearer(tok2), timeout=T).value == b"v"


def test_logout_invalidates_token(server, admin, fresh_db_name, raw):
    user = uniq("lo")
    admin.createUser(user, "Pw0:lo", constants.PERMISSION_RW, fresh_db_name)
    tok = raw_token(server.url, user, "Pw0:lo", database=fresh_db_name)
    raw.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"pre", value=b"1")]),
            metadata=bearer(tok), timeout=T)
    raw.Logout(empty_pb2.Empty(), metadata=bearer(tok), timeout=T)
    with pytest.raises(grpc.RpcError) as ei:
        raw.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"post", value=b"1")]),
                metadata=bearer(tok), timeout=T)
    assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED, (ei.value.code(), rpc_details(ei.value))
    assert connect(server.url, database=fresh_db_name).get(b"post") is None

    # through the client
    c = connect(server.url, user, "Pw0:lo", database=fresh_db_name)
    c.set(b"k", b"v")
    c.logout()
    with pytest.raises(grpc.RpcError):
        c.set(b"after-logout", b"x")
    with pytest.raises(grpc.RpcError):
        c.get(b"k")
    # logging in again works
    c2 = connect(server.url, user, "Pw0:lo", database=fresh_db_name)
    assert c2.get(b"k").value == b"v"


def test_session_id_takes_precedence_over_bad_authorization(server, fresh_db_name, raw):
    sid = raw.OpenSession(schema_pb2.OpenSessionRequest(username=b"immudb", password=b"immudb",
                                                        databaseName=fresh_db_name), timeout=T).sessionID
    try:
        md = [("sessionid", sid), ("authorization", "Bearer garbage")]
        st = raw.CurrentState(empty_pb2.Empty(), metadata=md, timeout=T)
        assert st.db == fresh_db_name
    finally:
        raw.CloseSession(empty_pb2.Empty(), metadata=[("sessionid", sid)], timeout=T)
