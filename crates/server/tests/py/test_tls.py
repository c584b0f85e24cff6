"""TLS: with --tls-cert and --tls-key the server speaks gRPC over TLS (rustls) and nothing else."""
import subprocess
import time

import grpc
import pytest
from google.protobuf import empty_pb2
from immudb.grpc import schema_pb2, schema_pb2_grpc

from stele_harness import SteleServer


class TlsServer(SteleServer):
    """Waits for readiness over TLS (the harness's own check uses plaintext)."""

    def __init__(self, cert, key):
        super().__init__(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
        self.cert = cert

    def channel(self):
        creds = grpc.ssl_channel_credentials(root_certificates=self.cert.read_bytes())
        return grpc.secure_channel(self.url, creds)

    def _wait_ready(self):
        deadline = time.monotonic() + 20
        while True:
            with self.channel() as ch:
                try:
                    schema_pb2_grpc.ImmuServiceStub(ch).Health(empty_pb2.Empty(), timeout=2)
                    return
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


def test_tls_serves_the_protocol_and_refuses_plaintext(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    srv = TlsServer(cert, key)
    try:
        srv.start()
        with srv.channel() as ch:
            stub = schema_pb2_grpc.ImmuServiceStub(ch)
            assert stub.Health(empty_pb2.Empty(), timeout=30).version == "1.9.3"
            login = stub.Login(schema_pb2.LoginRequest(user=b"immudb", password=b"immudb"),
                               timeout=30)
            md = [("authorization", "Bearer " + login.token)]
            stub.UseDatabase(schema_pb2.Database(databaseName="defaultdb"), metadata=md,
                             timeout=30)
            hdr = stub.Set(schema_pb2.SetRequest(KVs=[schema_pb2.KeyValue(key=b"k", value=b"v")]),
                           metadata=md, timeout=30)
            assert hdr.id >= 1
        with grpc.insecure_channel(srv.url) as ch:
            with pytest.raises(grpc.RpcError):
                schema_pb2_grpc.ImmuServiceStub(ch).Health(empty_pb2.Empty(), timeout=5)
    finally:
        srv.close()
