#!/usr/bin/env python3
"""Runs an acceptance script of ../shared/acceptance against a fresh `stele serve`.

Usage: acceptance.py STELE_BIN SCRIPT
The server gets a temporary data directory and a free loopback port (it is started with
--listen 127.0.0.1:0 and the port is read from its start-up log line); the script gets the
address in STELE_URL (and the DCB service's, as http://HOST:PORT, in STELE_DCB_URL). Exits with the script's status; the server is always stopped.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading


def main():
    stele, script = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [stele, "serve", "--data-dir", data, "--listen", "127.0.0.1:0",
             "--dcb-listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        found = threading.Event()
        addr, dcb_addr = [], []

        def read_log():
            for line in server.stderr:
                d = re.search(r"dcb_addr=(\S+)", line)
                if d and not dcb_addr:
                    dcb_addr.append(d.group(1))
                m = re.search(r"(?<![\w])addr=(\S+)", line)
                if m and not addr:
                    addr.append(m.group(1))
                    found.set()
            found.set()

        threading.Thread(target=read_log, daemon=True).start()
        try:
            if not found.wait(120) or not addr:
                print("acceptance: the server did not start", file=sys.stderr)
                return 1
            env = dict(os.environ, STELE_URL=addr[0])
            if dcb_addr:
                env["STELE_DCB_URL"] = "http://" + dcb_addr[0]
            return subprocess.call([sys.executable, script], env=env)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
