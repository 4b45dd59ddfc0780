"""A throwaway PostgreSQL server on 127.0.0.1 for the database-tap tests.

Started from the Debian binaries (``apt-get install postgresql``) in a temp data dir on a free
port, with password authentication over TCP; stopped (and its files removed) by ``stop()``.
Runs the server as the ``postgres`` user when the tests run as root, since it refuses root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD, DATABASE = "bridge", "pg-secret-pw-4711", "shop"


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD
    database: str = DATABASE

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.data_dir.parent / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.data_dir.parent, "postgres")
            shutil.chown(self.data_dir, "postgres")
            shutil.chown(pwfile, "postgres")
        initdb = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        subprocess.run(self._as_owner(initdb), check=True, capture_output=True)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=off"
        options += " -c wal_level=logical -c max_replication_slots=4 -c max_wal_senders=4"
        if self._knows_setting("output_plugin_libraries"):
            # PostgreSQL 15.20+ (and the matching minor releases) allow only the output plugins
            # listed here in replication slots; the log-based taps decode with wal2json
            options += " -c output_plugin_libraries=pgoutput,test_decoding,wal2json"
        pg_ctl = [
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.data_dir / "server.log"),
            "-w",
            "start",
        ]
        subprocess.run(self._as_owner(pg_ctl), check=True, capture_output=True)
        self.psql(f"CREATE DATABASE {self.database}", database="postgres")

    def _knows_setting(self, name: str) -> bool:
        described = subprocess.run(
            self._as_owner([str(self.bin_dir / "postgres"), "--describe-config"]),
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return any(line.split("\t", 1)[0] == name for line in described.splitlines())

    def stop(self) -> None:
        pg_ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"]
        subprocess.run(self._as_owner(pg_ctl), check=False, capture_output=True)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def psql(self, sql: str, database: str | None = None) -> str:
        env = {**os.environ, "PGPASSWORD": self.password}
        argv = [
            str(self.bin_dir / "psql"),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database or self.database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-c",
            sql,
        ]
        return subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout


def start_postgres() -> PostgresServer:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found: apt-get install postgresql")
    base = Path(tempfile.mkdtemp(prefix="sb-pg-"))
    os.chmod(base, 0o755)
    server = PostgresServer(bin_dir=bin_dir, data_dir=base / "data", port=_free_port())
    for attempt in range(3):  # a free port can be taken between choosing and binding
        try:
            server.start()
            return server
        except subprocess.CalledProcessError:
            server.stop()
            if attempt == 2:
                raise
            base = Path(tempfile.mkdtemp(prefix="sb-pg-"))
            os.chmod(base, 0o755)
            server = PostgresServer(bin_dir=bin_dir, data_dir=base / "data", port=_free_port())
            time.sleep(0.5)
    raise AssertionError("unreachable")


SEED_SQL = """
CREATE SCHEMA sales;
CREATE TABLE public.users (
    id bigint PRIMARY KEY, name text, balance numeric(14, 2), big bigint, vip boolean,
    updated_at timestamptz NOT NULL
);
CREATE TABLE public.line_items (
    order_id int, line int, qty numeric, note text, updated_at timestamptz NOT NULL,
    PRIMARY KEY (order_id, line)
);
CREATE TABLE sales.regions (code text PRIMARY KEY, label text, updated_at timestamptz NOT NULL);
INSERT INTO public.users VALUES
    (1, 'Ada', 1234.50, 9007199254740993, true, '2024-01-01T00:00:00Z'),
    (2, 'Bob', NULL, -1, false, '2024-01-02T00:00:00Z'),
    (3, 'Cy', 0.10, 42, NULL, '2024-01-03T00:00:00Z');
INSERT INTO public.line_items VALUES
    (1, 1, 2.5, 'first', '2024-01-01T00:00:00Z'),
    (1, 2, 1, NULL, '2024-01-01T00:05:00Z'),
    (2, 1, 10, 'bulk', '2024-01-02T00:00:00Z');
INSERT INTO sales.regions VALUES ('eu', 'Europe', '2024-01-01T00:00:00Z');
"""
