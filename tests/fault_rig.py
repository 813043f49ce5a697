"""Private, throwaway services for fault tests: a Redis Cluster with replicas, a PostgreSQL cluster."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")


class ReplicatedRedisCluster:
    """Three masters, each with a replica, so that losing a master fails over instead of going down."""

    def __init__(self, root: Path, base_port: int):
        self.root = root
        self.ports = [base_port + i for i in range(6)]

    def _cli(self, port, *args, timeout=10):
        return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                              timeout=timeout).stdout

    def start(self):
        for port in self.ports:
            d = self.root / str(port)
            d.mkdir(parents=True, exist_ok=True)
            subprocess.run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                            "--cluster-config-file", str(d / "nodes.conf"), "--dir", str(d), "--save", "",
                            "--appendonly", "no", "--daemonize", "yes", "--cluster-node-timeout", "1500",
                            "--cluster-replica-validity-factor", "0",
                            "--logfile", str(d / "log")], check=True)
        wait_for(lambda: all("PONG" in self._cli(p, "ping") for p in self.ports), 10)
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                        "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        wait_for(self.healthy, 30)
        return self

    def healthy(self) -> bool:
        """Every live node says the cluster is ok and every slot's master is alive. (Right after a
        kill the others still say ok: they have not yet noticed the master is gone.)"""
        live = self.live_ports()
        if not all("cluster_state:ok" in self._cli(p, "cluster", "info") for p in live):
            return False
        for line in self._cli(live[0], "cluster", "nodes").splitlines():
            fields = line.split()
            if "master" in fields[2] and fields[8:]:  # a master holding slots
                port = int(fields[1].split(":")[1].split("@")[0])
                if port not in live or "fail" in fields[2]:  # dead, or suspected ("fail?")
                    return False
        return True

    def live_ports(self):
        return [p for p in self.ports if "PONG" in self._cli(p, "ping", timeout=2)]

    def masters(self) -> list[int]:
        out = self._cli(self.live_ports()[0], "cluster", "nodes")
        return [int(line.split()[1].split(":")[1].split("@")[0]) for line in out.splitlines()
                if "master" in line.split()[2] and "fail" not in line.split()[2]]

    def master_of(self, key: str) -> int:
        """The port of the master now serving ``key``'s hash slot."""
        port = self.live_ports()[0]
        slot = int(self._cli(port, "cluster", "keyslot", key))
        for line in self._cli(port, "cluster", "nodes").splitlines():
            fields = line.split()
            if "master" not in fields[2] or "fail" in fields[2]:
                continue
            for span in fields[8:]:
                lo, _, hi = span.partition("-")
                if not span.startswith("[") and int(lo) <= slot <= int(hi or lo):
                    return int(fields[1].split(":")[1].split("@")[0])
        raise LookupError(f"no live master serves {key!r} (slot {slot})")

    def command(self, *args) -> str:
        """One command through any live node, following the cluster's redirections."""
        return self._cli(self.live_ports()[0], "-c", *args).strip()

    def kill(self, port: int):
        self._cli(port, "shutdown", "nosave")

    def stop(self):
        for port in self.ports:
            self._cli(port, "shutdown", "nosave", timeout=5)


def pg_bin() -> str:
    found = shutil.which("pg_ctl")
    if found:
        return str(Path(found).parent)
    return sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]


class PrivatePostgres:
    """A PostgreSQL cluster of our own that a test may restart."""

    def __init__(self, root: Path, port: int):
        import tempfile

        # pytest's tmp folders are private to root; the postgres user needs a folder it can reach
        root = Path(tempfile.mkdtemp(prefix="camnet-pg-"))
        self.data = root / "pgdata"
        self.port = port
        self.bin = pg_bin()

    def _as_postgres(self, *cmd, **kw):
        if os.geteuid() == 0:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kw)

    def start(self):
        self.data.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data.parent, "postgres")
            os.chmod(self.data.parent, 0o755)
        self._as_postgres(f"{self.bin}/initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "--no-sync", "-E", "UTF8", "--locale=C")
        self.pg_ctl("start")
        self.psql("CREATE ROLE camnet LOGIN NOSUPERUSER NOBYPASSRLS", "CREATE DATABASE camnet OWNER camnet")
        return self

    def pg_ctl(self, action: str):
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "-l",
                          str(self.data.parent / "pg.log"), "-o",
                          f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off -k /tmp", action)

    def psql(self, *statements):
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)

    @property
    def app_url(self) -> str:
        return f"postgresql+psycopg://camnet@127.0.0.1:{self.port}/camnet"

    def stop(self):
        try:
            self.pg_ctl("stop")
        except subprocess.CalledProcessError:
            pass
