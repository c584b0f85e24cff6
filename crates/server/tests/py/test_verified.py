"""Verified calls: immudb-py checks inclusion proofs, dual (consistency + linear) proofs and,
when it has the server's public key, the ECDSA signature of every new state."""
import pickle

import ecdsa
import grpc
import pytest

from immudb.exceptions import ErrCorruptedData
from immudb.rootService import PersistentRootService, State

from stele_harness import connect


def _pad(c, n, prefix=b"pad"):
    for i in range(n):
        c.set(prefix + str(i).encode(), b"x" * (i + 1))


def test_verified_calls_over_a_long_chain(fresh_db):
    c = fresh_db
    r1 = c.verifiedSet(b"vk", b"v1")
    assert r1.verified is True
    _pad(c, 25)
    g = c.verifiedGet(b"vk")
    assert g.verified is True
    assert (g.key, g.value, g.id) == (b"vk", b"v1", r1.id)

    _pad(c, 21, b"pad2-")
    r2 = c.verifiedSet(b"vk", b"v2")
    assert r2.verified is True and r2.id == r1.id + 47
    g = c.verifiedGet(b"vk")
    assert g.verified and g.value == b"v2" and g.revision == 2

    _pad(c, 22, b"pad3-")
    # verifiedGetAt an older tx: the trusted state is now ahead of the entry's tx
    g = c.verifiedGetAt(b"vk", r1.id)
    assert g.verified and g.value == b"v1" and g.id == r1.id
    g = c.verifiedGetSince(b"vk", r2.id)
    assert g.verified and g.value == b"v2"
    # by revision
    g = c.verifiedGet(b"vk", atRevision=1)
    assert g.verified and g.value == b"v1" and g.revision == 1
    g = c.verifiedGet(b"vk", atRevision=-1)
    assert g.verified and g.value == b"v1"
    with pytest.raises(grpc.RpcError, match="invalid key revision number"):
        c.verifiedGet(b"vk", atRevision=3)

    assert c.verifiedTxById(r1.id) == [b"vk"]
    assert c.verifiedTxById(r2.id) == [b"vk"]
    assert c.verifiedTxById(r2.id + 10000) is None

    _pad(c, 20, b"pad4-")
    ref = c.verifiedSetReference(b"vk", b"vref")
    assert ref.verified is True
    g = c.verifiedGet(b"vref")
    assert g.verified and g.key == b"vk" and g.value == b"v2" and g.refkey == b"vref"

    _pad(c, 20, b"pad5-")
    z = c.verifiedZAdd(b"vzset", 2.5, b"vk")
    assert z.verified is True
    resp = c.zScan(b"vzset", b"", 0, 0, True, 10, False, 0.0, 10.0, None)
    assert [(e.key, e.score) for e in resp.entries] == [(b"vk", 2.5)]

    # the trusted state followed the verified calls
    st = c._rs.get()
    assert st.txId == z.id


def test_verified_get_at_wrong_tx_fails(fresh_db):
    c = fresh_db
    c.verifiedSet(b"a", b"1")
    t = c.set(b"b", b"2").id
    with pytest.raises(grpc.RpcError):
        c.verifiedGetAt(b"a", t)  # key a is not in tx t


def test_verified_get_missing_key_fails(fresh_db):
    fresh_db.verifiedSet(b"there", b"1")
    with pytest.raises(grpc.RpcError) as ei:
        fresh_db.verifiedGet(b"not-there")
    assert "key not found" in ei.value.details()


def test_verified_tx_by_id_of_multi_entry_tx(fresh_db):
    c = fresh_db
    c.verifiedSet(b"start", b"0")
    r = c.setAll({b"m1": b"1", b"m2": b"2", b"m3": b"3"})
    _pad(c, 5)
    assert sorted(c.verifiedTxById(r.id)) == [b"m1", b"m2", b"m3"]


def test_signed_client_verifies(server, fresh_db_name, keys):
    c = connect(server.url, publicKeyFile=keys.public_key)
    c.useDatabase(fresh_db_name.encode())
    r = c.verifiedSet(b"signed", b"yes")
    assert r.verified
    _pad(c, 21)
    g = c.verifiedGet(b"signed")
    assert g.verified and g.value == b"yes"
    assert c.verifiedTxById(r.id) == [b"signed"]
    assert c.verifiedSetReference(b"signed", b"signedref").verified
    assert c.verifiedZAdd(b"signedset", 1.0, b"signed").verified
    g = c.verifiedGetAt(b"signed", r.id)
    assert g.verified
    # the state the client now trusts carries a signature that verifies with our key
    st = c._rs.get()
    st.Verify(keys.verifying_key)


def test_current_state_is_signed(server, fresh_db, keys):
    c = fresh_db
    c.set(b"k", b"v")
    st = c.currentState()
    assert st.signature, "CurrentState carries no signature although --signing-key is set"
    st.Verify(keys.verifying_key)  # raises BadSignatureError on mismatch
    with pytest.raises(ecdsa.BadSignatureError):
        st.Verify(keys.wrong_verifying_key)
    # Go sends the 65-byte uncompressed SEC1 point of the signing key
    assert st.publicKey == b"\x04" + keys.verifying_key.to_string()


def test_wrong_public_key_fails_verification(server, fresh_db_name, keys):
    c = connect(server.url, publicKeyFile=keys.wrong_public_key)
    c.useDatabase(fresh_db_name.encode())
    with pytest.raises(ecdsa.BadSignatureError):
        c.verifiedSet(b"k", b"v")
    c.set(b"k2", b"v2")
    with pytest.raises(ecdsa.BadSignatureError):
        c.verifiedGet(b"k2")


def test_persisted_state_across_clients(server, fresh_db_name, tmp_path):
    path = str(tmp_path / "immudb.state")
    db = fresh_db_name.encode()
    c1 = connect(server.url, rs=PersistentRootService(path))
    c1.useDatabase(db)
    r = c1.verifiedSet(b"persist", b"1")
    assert r.verified
    _pad(c1, 20)
    assert c1.verifiedGet(b"persist").verified
    with open(path, "rb") as f:
        saved = pickle.load(f)
    assert saved[db].txId == r.id
    assert saved[db].db == fresh_db_name

    # a second client trusts the first one's state and proves consistency from it
    c2 = connect(server.url, rs=PersistentRootService(path))
    c2.useDatabase(db)
    assert c2._rs.get().txId == r.id
    _pad(c2, 20, b"more")
    r2 = c2.verifiedSet(b"persist", b"2")
    assert r2.verified and r2.id > r.id + 20
    g = c2.verifiedGet(b"persist")
    assert g.verified and g.value == b"2"
    with open(path, "rb") as f:
        saved = pickle.load(f)
    assert saved[db].txId == r2.id

    # a tampered trusted state (right tx id, wrong hash) must make verification fail
    saved[db] = State(db=saved[db].db, txId=saved[db].txId, txHash=bytes(32),
                      publicKey=saved[db].publicKey, signature=saved[db].signature)
    with open(path, "wb") as f:
        pickle.dump(saved, f)
    c3 = connect(server.url, rs=PersistentRootService(path))
    c3.useDatabase(db)
    assert c3._rs.get().txHash == bytes(32)
    with pytest.raises(ErrCorruptedData):
        c3.verifiedSet(b"persist", b"3")


def test_persisted_state_from_the_future_is_refused(server, fresh_db_name, tmp_path):
    path = str(tmp_path / "future.state")
    db = fresh_db_name.encode()
    c1 = connect(server.url, rs=PersistentRootService(path))
    c1.useDatabase(db)
    c1.verifiedSet(b"f", b"1")
    with open(path, "rb") as f:
        saved = pickle.load(f)
    saved[db] = State(db=saved[db].db, txId=saved[db].txId + 1000, txHash=saved[db].txHash,
                      publicKey=b"", signature=b"")
    with open(path, "wb") as f:
        pickle.dump(saved, f)
    c2 = connect(server.url, rs=PersistentRootService(path))
    c2.useDatabase(db)
    with pytest.raises((grpc.RpcError, ErrCorruptedData)):
        c2.verifiedGet(b"f")


def test_verified_set_deleted_metadata_is_rejected_by_client(fresh_db):
    """A Set whose metadata says deleted: immudb-py must refuse it during verifiedSet."""
    from immudb.embedded.store import KVMetadata
    from immudb.handler import verifiedSet as vs
    c = fresh_db
    c.set(b"before", b"x")
    md = KVMetadata()
    md.AsDeleted(True)
    with pytest.raises((ErrCorruptedData, grpc.RpcError)):
        vs.call(c._stub, c._rs, b"tombstone", b"", None, md)


def test_signing_key_pem_with_76_column_lines(keys):
    """python-ecdsa's SigningKey.to_pem() wraps base64 at 76 columns; Go's pem.Decode (and so
    immudb's --signingKey) accepts it. The server must start with it and sign with it."""
    from stele_harness import SteleServer
    srv = SteleServer(signing_key=keys.signing_key_ecdsa76)
    try:
        srv.start()
        c = connect(srv.url, publicKeyFile=keys.public_key)
        assert c.verifiedSet(b"k", b"v").verified
        c.currentState().Verify(keys.verifying_key)
    finally:
        srv.close()
