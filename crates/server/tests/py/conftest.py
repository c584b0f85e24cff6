"""pytest fixtures for the immudb-py suite against a real `stele serve` (see stele_harness.py).

Run:  STELE_BIN=/path/to/stele /path/to/venv/bin/python -m pytest crates/server/tests/py -q
"""
import ecdsa
import pytest

from stele_harness import SteleServer, connect, pem64, uniq

# -- fixtures -------------------------------------------------------------------------------

class Keys:
    pass


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """A P-256 signing key pair for the servers, plus an unrelated public key."""
    d = tmp_path_factory.mktemp("keys")
    k = Keys()
    sk = ecdsa.SigningKey.generate(curve=ecdsa.NIST256p)
    other = ecdsa.SigningKey.generate(curve=ecdsa.NIST256p)
    k.signing_key = str(d / "signing.key.pem")
    k.public_key = str(d / "signing.pub.pem")
    k.wrong_public_key = str(d / "other.pub.pem")
    with open(k.signing_key, "wb") as f:
        f.write(pem64(sk.to_pem()))  # SEC1 "EC PRIVATE KEY", 64-column lines as openssl writes
    # python-ecdsa's own to_pem() output (76-column lines), which Go's pem.Decode also reads
    k.signing_key_ecdsa76 = str(d / "signing.key.76.pem")
    with open(k.signing_key_ecdsa76, "wb") as f:
        f.write(sk.to_pem())
    with open(k.public_key, "wb") as f:
        f.write(sk.get_verifying_key().to_pem())
    with open(k.wrong_public_key, "wb") as f:
        f.write(other.get_verifying_key().to_pem())
    k.verifying_key = sk.get_verifying_key()
    k.wrong_verifying_key = other.get_verifying_key()
    return k


@pytest.fixture(scope="session")
def server(keys):
    srv = SteleServer(signing_key=keys.signing_key)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def make_server(keys):
    """Factory for dedicated servers (crash/restart tests); all are closed at teardown."""
    made = []

    def make(signing=True, **kw):
        srv = SteleServer(signing_key=keys.signing_key if signing else None, **kw)
        made.append(srv)
        return srv.start()

    yield make
    for srv in made:
        srv.close()


@pytest.fixture
def client(server):
    c = connect(server.url)
    yield c
    try:
        c.channel.close()
    except Exception:  # noqa: BLE001
        pass


@pytest.fixture
def admin(server):
    """A second superuser client on defaultdb, for creating databases and users."""
    c = connect(server.url)
    yield c
    try:
        c.channel.close()
    except Exception:  # noqa: BLE001
        pass


@pytest.fixture
def fresh_db_name(admin):
    name = uniq("db")
    admin.createDatabase(name.encode())
    return name


@pytest.fixture
def fresh_db(server, fresh_db_name):
    """A superuser client switched to a database created for this test only."""
    c = connect(server.url)
    c.useDatabase(fresh_db_name.encode())
    c.test_db_name = fresh_db_name
    yield c
    try:
        c.channel.close()
    except Exception:  # noqa: BLE001
        pass
