"""Administration through immudb-py: databases (V1 and V2 calls), users and permissions,
health, server info, database health, index flush/compaction."""
import grpc
import pytest

from immudb import constants
from immudb.datatypesv2 import DatabaseNullableSettings, DatabaseSettingsV2, NullableUint32
from immudb.grpc import schema_pb2

from stele_harness import connect, rpc_details, uniq


def _find_db(resp, name):
    found = [d for d in resp.databases if d.name == name]
    assert len(found) == 1, [d.name for d in resp.databases]
    return found[0]


def test_create_database_and_list(admin):
    name = uniq("db")
    admin.createDatabase(name.encode())
    names = admin.databaseList()
    assert name in names
    assert "defaultdb" in names
    with pytest.raises(grpc.RpcError):
        admin.createDatabase(name.encode())  # already exists
    key = uniq("k").encode()
    admin.useDatabase(name.encode())
    admin.set(key, b"v")
    assert admin.get(key).value == b"v"
    # the key lives in the new database only
    admin.useDatabase(b"defaultdb")
    assert admin.get(key) is None
    other = connect(admin._url, database=name)
    assert other.get(key).value == b"v"


def test_databases_are_isolated(admin):
    a, b = uniq("dba"), uniq("dbb")
    admin.createDatabase(a.encode())
    admin.createDatabase(b.encode())
    ca = connect(admin._url, database=a)
    cb = connect(admin._url, database=b)
    ca.set(b"iso", b"in-a")
    assert cb.get(b"iso") is None
    assert cb.currentState().txId == 0
    assert ca.currentState().txId == 1


def test_create_database_v2_max_key_len(admin):
    name = uniq("dbv")
    resp = admin.createDatabaseV2(name, DatabaseSettingsV2(maxKeyLen=32), False)
    assert resp.name == name
    assert resp.settings.maxKeyLen == 32
    assert not resp.alreadyExisted
    admin.useDatabase(name.encode())
    admin.set(b"x" * 31, b"ok")
    assert admin.get(b"x" * 31).value == b"ok"
    with pytest.raises(grpc.RpcError):
        admin.set(b"x" * 32, b"too-long")
    # the nullable-settings flavour of the request works too
    name2 = uniq("dbn")
    admin.createDatabaseV2(name2, DatabaseNullableSettings(maxKeyLen=NullableUint32(32)), False)
    admin.useDatabase(name2.encode())
    admin.set(b"y" * 31, b"ok")
    with pytest.raises(grpc.RpcError):
        admin.set(b"y" * 32, b"too-long")


def test_create_database_v2_if_not_exists(admin):
    name = uniq("dbi")
    admin.createDatabaseV2(name, DatabaseSettingsV2(maxKeyLen=40), False)
    resp = admin.createDatabaseV2(name, DatabaseSettingsV2(maxKeyLen=40), True)
    assert resp.alreadyExisted is True
    assert resp.name == name
    with pytest.raises(grpc.RpcError):
        admin.createDatabaseV2(name, DatabaseSettingsV2(maxKeyLen=40), False)


def test_database_list_v2(admin):
    name = uniq("dbl")
    admin.createDatabaseV2(name, DatabaseSettingsV2(maxKeyLen=32), False)
    resp = admin.databaseListV2()
    d = _find_db(resp, name)
    assert d.loaded is True
    assert d.settings.maxKeyLen.value == 32
    assert any(x.name == "defaultdb" and x.loaded for x in resp.databases)


def test_unload_load_delete_database(admin):
    name = uniq("dbu")
    admin.createDatabaseV2(name, DatabaseSettingsV2(maxKeyLen=32), False)
    user_client = connect(admin._url, database=name)
    user_client.set(b"before-unload", b"1")

    resp = admin.unloadDatabase(name)
    assert resp.database == name
    assert not _find_db(admin.databaseListV2(), name).loaded
    with pytest.raises(grpc.RpcError):
        admin.useDatabase(name.encode())
    with pytest.raises(grpc.RpcError):
        user_client.get(b"before-unload")  # its token's database is unloaded

    resp = admin.loadDatabase(name)
    assert resp.database == name
    assert _find_db(admin.databaseListV2(), name).loaded is True
    admin.useDatabase(name.encode())
    assert admin.get(b"before-unload").value == b"1"
    admin.useDatabase(b"defaultdb")

    # delete only after unload
    with pytest.raises(grpc.RpcError):
        admin.deleteDatabase(name)
    assert name in admin.databaseList()
    admin.unloadDatabase(name)
    resp = admin.deleteDatabase(name)
    assert resp.database == name
    assert name not in admin.databaseList()
    with pytest.raises(grpc.RpcError):
        admin.useDatabase(name.encode())
    with pytest.raises(grpc.RpcError):
        admin.loadDatabase(name)
    # a token still bound to the deleted database cannot write
    with pytest.raises(grpc.RpcError):
        user_client.set(b"after-delete", b"x")


def test_defaultdb_cannot_be_deleted(admin):
    with pytest.raises(grpc.RpcError):
        admin.deleteDatabase("defaultdb")
    assert "defaultdb" in admin.databaseList()


def test_update_database_v2_and_get_settings(admin):
    name = uniq("dbs")
    admin.createDatabaseV2(name, DatabaseSettingsV2(maxKeyLen=32), False)
    resp = admin.updateDatabaseV2(name, DatabaseSettingsV2(autoload=False))
    assert resp.database == name
    assert resp.settings.autoload is False
    assert resp.settings.maxKeyLen == 32  # untouched settings are kept
    d = _find_db(admin.databaseListV2(), name)
    assert not d.settings.autoload.value
    assert d.settings.maxKeyLen.value == 32

    resp = admin.updateDatabaseV2(name, DatabaseSettingsV2(autoload=True))
    assert resp.settings.autoload is True
    d = _find_db(admin.databaseListV2(), name)
    assert d.settings.autoload.value is True

    admin.useDatabase(name.encode())
    s = admin.getDatabaseSettingsV2()
    assert s.database == name
    assert s.settings.maxKeyLen == 32
    assert s.settings.autoload is True
    admin.useDatabase(b"defaultdb")
    s = admin.getDatabaseSettingsV2()
    assert s.database == "defaultdb"


def test_users_create_login_password_list(admin, fresh_db_name):
    url = admin._url
    user = uniq("usr")
    admin.createUser(user, "Pw0:first", constants.PERMISSION_RW, fresh_db_name)
    with pytest.raises(grpc.RpcError) as ei:
        admin.createUser(user, "Pw0:other", constants.PERMISSION_RW, fresh_db_name)
    assert "user already exists" in rpc_details(ei.value)

    u = connect(url, user, "Pw0:first", database=fresh_db_name)
    u.set(b"by-user", b"ok")
    assert connect(url, database=fresh_db_name).get(b"by-user").value == b"ok"

    users = {x.user.decode(): x for x in admin.listUsers().userlist.users}
    assert user in users and "immudb" in users
    perms = {(p.database, p.permission) for p in users[user].permissions}
    assert (fresh_db_name, constants.PERMISSION_RW) in perms
    assert users[user].active is True
    assert users[user].createdby == "immudb"

    # the superuser resets the user's password
    admin.changePassword(user, "Pw0:second", "Pw0:first")
    with pytest.raises(grpc.RpcError) as ei:
        connect(url, user, "Pw0:first", database=fresh_db_name)
    assert "invalid user name or password" in rpc_details(ei.value)
    u2 = connect(url, user, "Pw0:second", database=fresh_db_name)
    assert u2.get(b"by-user").value == b"ok"


def test_login_wrong_password_and_unknown_user(server):
    from immudb.client import ImmudbClient
    c = ImmudbClient(server.url)
    with pytest.raises(grpc.RpcError) as ei:
        c.login("immudb", "not-the-password")
    assert "invalid user name or password" in rpc_details(ei.value)
    with pytest.raises(grpc.RpcError) as ei:
        c.login(uniq("nouser"), "whatever")
    assert "invalid user name or password" in rpc_details(ei.value)


def test_default_password_warning(server):
    from immudb.client import ImmudbClient
    c = ImmudbClient(server.url)
    resp = c.login("immudb", "immudb")
    assert resp.token
    assert resp.warning == b"immudb user has the default password: please change it to ensure proper security"


def test_superuser_password_change_needs_old_password(admin):
    with pytest.raises(grpc.RpcError) as ei:
        admin.changePassword("immudb", "SomethingElse1!", "wrong-old-password")
    assert "old password is incorrect" in rpc_details(ei.value)
    # still the old password
    connect(admin._url)


def test_create_user_validation(admin, fresh_db_name):
    with pytest.raises(grpc.RpcError):
        admin.createUser(uniq("u"), "Pw0:x", 0, fresh_db_name)  # PERMISSION_NONE
    with pytest.raises(grpc.RpcError):
        admin.createUser(uniq("u"), "Pw0:x", 7, fresh_db_name)  # not a permission
    with pytest.raises(grpc.RpcError):
        admin.createUser(uniq("u"), "Pw0:x", constants.PERMISSION_RW, uniq("nodb"))
    with pytest.raises(grpc.RpcError):
        admin.createUser("bad-name!", "Pw0:x", constants.PERMISSION_RW, fresh_db_name)
    with pytest.raises(grpc.RpcError):
        admin.createUser(uniq("u"), "", constants.PERMISSION_RW, fresh_db_name)


def test_change_permission_grant_revoke(admin):
    db1, db2 = uniq("pa"), uniq("pb")
    admin.createDatabase(db1.encode())
    admin.createDatabase(db2.encode())
    user = uniq("perm")
    admin.createUser(user, "Pw0:perm", constants.PERMISSION_RW, db1)

    def perms():
        for x in admin.listUsers().userlist.users:
            if x.user == user.encode():
                return {(p.database, p.permission) for p in x.permissions}
        raise AssertionError("user not listed")

    with pytest.raises(grpc.RpcError):
        connect(admin._url, user, "Pw0:perm", database=db2)

    admin.changePermission(schema_pb2.GRANT, user, db2, constants.PERMISSION_R)
    assert (db2, constants.PERMISSION_R) in perms()
    u = connect(admin._url, user, "Pw0:perm", database=db2)
    admin_db2 = connect(admin._url, database=db2)
    admin_db2.set(b"shared", b"s")
    assert u.get(b"shared").value == b"s"
    with pytest.raises(grpc.RpcError):
        u.set(b"nope", b"n")  # read-only there

    admin.changePermission(schema_pb2.REVOKE, user, db2, constants.PERMISSION_R)
    assert not any(d == db2 for d, _ in perms())
    assert (db1, constants.PERMISSION_RW) in perms()
    with pytest.raises(grpc.RpcError):
        connect(admin._url, user, "Pw0:perm", database=db2)


def test_set_active_user(admin, fresh_db_name):
    user = uniq("act")
    admin.createUser(user, "Pw0:act", constants.PERMISSION_R, fresh_db_name)
    connect(admin._url, user, "Pw0:act", database=fresh_db_name)
    assert admin.setActiveUser(False, user) is True
    users = {x.user.decode(): x for x in admin.listUsers().userlist.users}
    assert users[user].active is False
    from immudb.client import ImmudbClient
    with pytest.raises(grpc.RpcError):
        ImmudbClient(admin._url).login(user, "Pw0:act", database=fresh_db_name.encode())
    assert admin.setActiveUser(True, user) is True
    connect(admin._url, user, "Pw0:act", database=fresh_db_name)
    with pytest.raises(grpc.RpcError):
        admin.setActiveUser(False, uniq("ghost"))


def test_health_and_server_info(client):
    h = client.health()
    assert h.status is True
    assert h.version == "1.9.3"
    assert client.healthCheck() is True
    info = client.serverInfo()
    assert info.version == "1.9.3"


def test_server_info_counts(server, admin):
    before = admin.serverInfo()
    name = uniq("cnt")
    admin.createDatabase(name.encode())
    c = connect(server.url, database=name)
    c.set(b"a", b"1")
    c.set(b"b", b"2")
    after = admin.serverInfo()
    assert (after.numDatabases or 0) == (before.numDatabases or 0) + 1
    assert (after.numTransactions or 0) >= (before.numTransactions or 0) + 2
    assert (after.startedAt or 0) > 0


def test_database_health(fresh_db):
    c = fresh_db
    c.set(b"health", b"1")
    h = c.databaseHealth()
    assert h.lastRequestCompletedAt is not None and h.lastRequestCompletedAt > 0
    assert (h.pendingRequests or 0) >= 0
    import time
    assert abs(h.lastRequestCompletedAt / 1000 - time.time()) < 120  # unix milliseconds


def test_flush_index(client):
    resp = client.flushIndex(10.0, True)
    assert resp.database == "defaultdb"
    with pytest.raises(grpc.RpcError):
        client.flushIndex(101.0, True)
    with pytest.raises(grpc.RpcError):
        client.flushIndex(-1.0, True)
    resp = client.flushIndex(0.0, False)
    assert resp.database == "defaultdb"


def test_compact_index(fresh_db):
    c = fresh_db
    for i in range(20):
        c.set(b"compact", str(i).encode())
    try:
        assert c.compactIndex() is True
    except grpc.RpcError as e:
        # Go may decline a compaction of a tiny index; any other error is a failure.
        assert "compaction threshold not yet reached" in rpc_details(e), rpc_details(e)
    assert c.get(b"compact").value == b"19"
    assert len(c.history(b"compact", 0, 100, False)) == 20
