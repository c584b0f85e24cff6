"""Test harness: real `stele serve` processes driven by the unmodified immudb-py client.

Run:  STELE_BIN=/path/to/stele /path/to/venv/bin/python -m pytest crates/server/tests/py -q
The venv needs immudb-py 1.5.0 (which brings grpcio, protobuf and ecdsa) and pytest.

Every server started here runs on a fresh temporary data directory, binds 127.0.0.1:0 and is
found by the `addr=127.0.0.1:PORT` line it logs. Every server is stopped at teardown; an atexit
hook kills any that a crashed test left behind.
"""
import atexit
import collections
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import grpc
from google.protobuf import empty_pb2

from immudb.client import ImmudbClient
from immudb.grpc import schema_pb2, schema_pb2_grpc

STELE_BIN = os.environ.get(
    "STELE_BIN", os.path.expanduser("~/.cache/stele/target/debug/stele"))
START_TIMEOUT = float(os.environ.get("STELE_START_TIMEOUT", "60"))
# Deadline (seconds) put on every call made by the clients the fixtures build, so that a hung
# server fails a test instead of hanging the suite.
CALL_TIMEOUT = float(os.environ.get("STELE_CALL_TIMEOUT", "120"))

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ADDR = re.compile(r"(?<![\w])addr=(?:\"?)(\d{1,3}(?:\.\d{1,3}){3}):(\d+)")
_DCB_ADDR = re.compile(r"dcb_addr=(?:\"?)(\d{1,3}(?:\.\d{1,3}){3}):(\d+)")

_LIVE = set()


def _kill_leftovers():
    for srv in list(_LIVE):
        try:
            srv.kill9()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


atexit.register(_kill_leftovers)


class SteleServer:
    """One `stele serve` process on its own data directory."""

    def __init__(self, signing_key=None, admin_password=None, extra_args=()):
        self.base = tempfile.mkdtemp(prefix="stele-py-")
        self.data_dir = os.path.join(self.base, "data")
        os.makedirs(self.data_dir)
        self.signing_key = signing_key
        self.admin_password = admin_password
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.dcb_port = None
        self.log = collections.deque(maxlen=400)
        self._log_path = os.path.join(self.base, "server.log")
        self._reader = None
        self.starts = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        if not os.path.exists(STELE_BIN):
            raise RuntimeError(f"stele binary not found at {STELE_BIN} (set STELE_BIN)")
        args = [STELE_BIN, "serve", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
                "--dcb-listen", "127.0.0.1:0"]
        if self.signing_key:
            args += ["--signing-key", self.signing_key]
        if self.admin_password:
            args += ["--admin-password", self.admin_password]
        args += self.extra_args
        env = dict(os.environ)
        env.setdefault("NO_COLOR", "1")
        self.port = None
        found = threading.Event()
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env)
        _LIVE.add(self)
        self.starts += 1
        proc = self.proc
        logf = open(self._log_path, "ab")
        logf.write(f"==== start #{self.starts}: {' '.join(args)}\n".encode())

        def reader():
            try:
                for raw in iter(proc.stdout.readline, b""):
                    logf.write(raw)
                    logf.flush()
                    line = _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip("\n")
                    self.log.append(line)
                    d = _DCB_ADDR.search(line)
                    if d:
                        self.dcb_port = int(d.group(2))
                    if self.port is None:
                        m = _ADDR.search(line)
                        if m:
                            self.port = int(m.group(2))
                            found.set()
            finally:
                logf.close()
                found.set()

        self._reader = threading.Thread(target=reader, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if found.wait(0.2) and self.port is not None:
                break
            if proc.poll() is not None and self.port is None:
                self._reader.join(2)
                _LIVE.discard(self)
                raise RuntimeError(
                    f"stele exited with {proc.returncode} before listening:\n{self.tail()}")
        if self.port is None:
            self.kill9()
            raise RuntimeError(
                f"stele did not log addr=... within {START_TIMEOUT}s:\n{self.tail()}")
        self._wait_ready()
        return self

    def _wait_ready(self):
        """The addr line is logged just before serving: wait until a Health call answers."""
        deadline = time.monotonic() + 20
        last = None
        while time.monotonic() < deadline:
            ch = grpc.insecure_channel(self.url)
            try:
                schema_pb2_grpc.ImmuServiceStub(ch).Health(empty_pb2.Empty(), timeout=2)
                return
            except grpc.RpcError as e:
                last = e
                time.sleep(0.1)
            finally:
                ch.close()
        raise RuntimeError(f"server at {self.url} never answered Health: {last}\n{self.tail()}")

    @property
    def url(self):
        return f"127.0.0.1:{self.port}"

    @property
    def dcb_url(self):
        """The DCB service's address as UmaDB's client takes it."""
        return f"http://127.0.0.1:{self.dcb_port}"

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=60):
        return "\n".join(list(self.log)[-n:])

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL
        self.proc.wait(30)
        if self._reader:
            self._reader.join(5)
        _LIVE.discard(self)

    def stop(self, timeout=30):
        """SIGTERM, then wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
                if self._reader:
                    self._reader.join(5)
                _LIVE.discard(self)
                raise RuntimeError(f"stele ignored SIGTERM for {timeout}s:\n{self.tail()}")
        if self._reader:
            self._reader.join(5)
        _LIVE.discard(self)
        return self.proc.returncode

    def restart(self):
        """Same data directory, new process and (usually) a new port."""
        if self.running:
            self.stop()
        return self.start()

    def close(self):
        try:
            if self.running:
                try:
                    self.stop()
                except RuntimeError:
                    pass
        finally:
            self.kill9()
            if os.environ.get("STELE_KEEP_DATA") != "1":
                shutil.rmtree(self.base, ignore_errors=True)


def pem64(pem):
    """Re-wraps a PEM document's base64 body at 64 columns (RFC 7468 / openssl layout)."""
    import base64
    import textwrap
    lines = pem.decode().strip().splitlines()
    body = base64.b64decode("".join(lines[1:-1]))
    wrapped = "\n".join(textwrap.wrap(base64.b64encode(body).decode(), 64))
    return f"{lines[0]}\n{wrapped}\n{lines[-1]}\n".encode()


# -- helpers used by the tests --------------------------------------------------------------

def uniq(prefix="t"):
    """A lower-case, letters-and-digits name that no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def connect(url, user="immudb", password="immudb", database=None, **kw):
    """An ImmudbClient logged in as `user`, switched to `database` (bytes or str) if given."""
    kw.setdefault("timeout", CALL_TIMEOUT)
    c = ImmudbClient(url, **kw)
    if database is None:
        c.login(user, password)
    else:
        db = database.encode() if isinstance(database, str) else database
        c.login(user, password, database=db)
    return c


def raw_stub(url):
    ch = grpc.insecure_channel(url)
    return ch, schema_pb2_grpc.ImmuServiceStub(ch)


def raw_token(url, user="immudb", password="immudb", database=None):
    """Raw Login (+ UseDatabase when `database` is given). Returns the bearer token."""
    ch, stub = raw_stub(url)
    try:
        tok = stub.Login(schema_pb2.LoginRequest(user=user.encode(), password=password.encode()),
                         timeout=CALL_TIMEOUT).token
        if database is not None:
            tok = stub.UseDatabase(schema_pb2.Database(databaseName=database),
                                   metadata=[("authorization", "Bearer " + tok)],
                                   timeout=CALL_TIMEOUT).token
        return tok
    finally:
        ch.close()


def bearer(token):
    return [("authorization", "Bearer " + token)]


def rpc_details(exc):
    try:
        return exc.details() or ""
    except Exception:  # noqa: BLE001
        return str(exc)


