"""Fixtures: the real triplegate binary on 127.0.0.1 with ephemeral ports, and upstreams."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest

from upstream import Upstream

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("TRIPLEGATE_BIN", str(ROOT / ".build" / "debug" / "triplegate"))


def wait_for(what, condition, timeout=10.0):
    """Polls `condition` until it is truthy or `timeout` passes; no fixed sleeps."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Gateway:
    def __init__(self, tmp_path, config_text, extra_args=()):
        self.dir = tmp_path
        self.config = tmp_path / "triplegate.yaml"
        self.config.write_text(config_text)
        self.ready = tmp_path / "ready.json"
        self.log_path = tmp_path / "gateway.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", str(self.config), "--listen", "127.0.0.1:0",
             "--admin-listen", "127.0.0.1:0", "--ready-file", str(self.ready), *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        info = wait_for("gateway to listen", self._read_ready, timeout=30)
        self.port = int(info["data"].rsplit(":", 1)[1])
        self.admin_port = int(info["admin"].rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"

    def _read_ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited: {self.log_path.read_text()}")
        try:
            return json.loads(self.ready.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def logs(self):
        return self.log_path.read_text()

    def rss_peak_kib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def gateway(tmp_path):
    started = []

    def start(config_text, extra_args=()):
        where = tmp_path / f"gw{len(started)}"
        where.mkdir()
        g = Gateway(where, config_text, extra_args)
        started.append(g)
        return g

    yield start
    for g in started:
        g.stop()


@pytest.fixture
def upstreams():
    made = []

    def make(name="up"):
        u = Upstream(name)
        made.append(u)
        return u

    yield make
    for u in made:
        u.stop()


@pytest.fixture
def fake():
    """Fake LLM providers (fakeproviders.py), stopped after the test."""
    from fakeproviders import FakeProvider
    made = []

    def make(name="fake", tls=None):
        f = FakeProvider(name, tls=tls)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


def self_signed(tmp_path, name="cert", sans="DNS:localhost"):
    """A self-signed certificate for CN=localhost with `sans`, made by openssl: (cert, key) paths."""
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", f"subjectAltName={sans}"],
                   check=True, capture_output=True)
    return cert, key


def raw(port, data, timeout=5.0):
    """Sends raw bytes on a fresh connection; returns all bytes until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def request(port, method="GET", path="/", body=None, headers=None, timeout=10.0):
    """One request on a fresh connection with http.client; returns (status, headers, body)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def service(name, url, paths, **route):
    """A one-route service as YAML (flow style), for short test configs."""
    extra = "".join(f", {k}: {json.dumps(v)}" for k, v in route.items())
    return f"  - {{ name: {name}, upstream: {{ targets: [{{ url: {url} }}] }}, routes: [{{ paths: {json.dumps(paths)}{extra} }}] }}\n"


class RedisServer:
    """A real redis-server on 127.0.0.1 and a free port, with no persistence."""

    def __init__(self, tmp_path):
        from upstream import free_port
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("redis to answer PING", self.ping)
        self.url = f"redis://127.0.0.1:{self.port}"

    def ping(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
            s.sendall(b"PING\r\n")
            ok = s.recv(16).startswith(b"+PONG")
            s.close()
            return ok
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class PostgresServer:
    """A real PostgreSQL server, initdb'd into a fresh directory, on 127.0.0.1 and a free port:
    trust authentication, no fsync (the tests check behaviour, not the disk). As root, the server
    runs as the `postgres` user, as PostgreSQL requires."""

    def __init__(self):
        import glob
        import pwd
        import shutil
        import tempfile
        from upstream import free_port
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        self.bin = os.path.dirname(found[-1]) if found else os.path.dirname(shutil.which("initdb") or "/usr/bin/initdb")
        self.dir = tempfile.mkdtemp(prefix="triplegate-pg-", dir="/tmp")
        self.as_user = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = (pw.pw_uid, pw.pw_gid)
        data = os.path.join(self.dir, "data")
        init = subprocess.run([f"{self.bin}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
                              capture_output=True, text=True, cwd=self.dir, preexec_fn=self._drop)
        assert init.returncode == 0, init.stderr
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "postgres.log"), "wb")
        self.proc = subprocess.Popen(
            [f"{self.bin}/postgres", "-D", data, "-p", str(self.port), "-c", "listen_addresses=127.0.0.1", "-k", self.dir,
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir, preexec_fn=self._drop)
        wait_for("postgres to accept connections", self._ready, timeout=60)
        self.count = 0

    def _drop(self):
        if self.as_user:
            os.setgid(self.as_user[1])
            os.setuid(self.as_user[0])

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("postgres exited: " + open(os.path.join(self.dir, "postgres.log")).read())
        return subprocess.run([f"{self.bin}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                              capture_output=True).returncode == 0

    def psql(self, database, sql):
        """Runs SQL; returns the rows as lists of strings."""
        out = subprocess.run([f"{self.bin}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
                              "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def new_store(self):
        """A fresh, empty database, as a gateway's store."""
        self.count += 1
        name = f"t{self.count}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return Store(f"postgres://postgres@127.0.0.1:{self.port}/{name}?sslmode=disable", pg=self, database=name)

    def stop(self):
        import shutil
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """One server for the session; each test takes a database of its own (`new_store()`)."""
    pg = PostgresServer()
    yield pg
    pg.stop()


class Store:
    """A gateway's `store:` and a way to read its tables directly (values as strings; NULL as "")."""

    def __init__(self, spec, path=None, pg=None, database=None):
        self.spec, self.path, self.pg, self.database = spec, path, pg, database

    def rows(self, sql):
        if self.pg:
            return self.pg.psql(self.database, sql)
        import sqlite3
        with sqlite3.connect(self.path) as db:
            return [["" if v is None else str(v) for v in row] for row in db.execute(sql).fetchall()]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """The embedded SQLite file, then a PostgreSQL database: tests that take it run on both."""
    if request.param == "sqlite":
        return Store(f"sqlite:{tmp_path / 'keys.db'}", path=tmp_path / "keys.db")
    return request.getfixturevalue("postgres_server").new_store()


@pytest.fixture
def redis_server(tmp_path):
    r = RedisServer(tmp_path)
    yield r
    r.stop()
