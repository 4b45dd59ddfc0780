"""A throwaway MariaDB server on 127.0.0.1 for the MySQL-tap tests.

Started from the Debian binaries (``apt-get install mariadb-server``) in a temp data dir on a
free port, with row-based binary logging (for log-based reads) and a password user over TCP;
stopped (and its files removed) by ``stop()``. Runs as the ``mysql`` user when tests run as root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

USER, PASSWORD = "bridge", "my-secret-pw-4711"
MARIADBD = Path("/usr/sbin/mariadbd")
INSTALL_DB = Path("/usr/bin/mariadb-install-db")
CLIENT = Path("/usr/bin/mariadb")


def mariadb_installed() -> bool:
    return MARIADBD.exists() and INSTALL_DB.exists() and CLIENT.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MariaDBServer:
    base: Path
    port: int
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket_path(self) -> Path:
        return self.base / "mysqld.sock"

    def start(self) -> None:
        data = self.base / "data"
        data.mkdir(parents=True)
        owner = ["--user=mysql"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.base, "mysql")
            shutil.chown(data, "mysql")
        install = [str(INSTALL_DB), "--no-defaults", f"--datadir={data}", *owner]
        install += ["--auth-root-authentication-method=normal", "--skip-test-db"]
        subprocess.run(install, check=True, capture_output=True)
        argv = [
            str(MARIADBD),
            "--no-defaults",
            f"--datadir={data}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.socket_path}",
            f"--pid-file={self.base / 'mysqld.pid'}",
            f"--log-error={self.base / 'error.log'}",
            f"--log-bin={self.base / 'binlog'}",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--server-id=1",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            "--performance-schema=OFF",
            *owner,
        ]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while not self._ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.base / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"MariaDB did not start: {log}")
            time.sleep(0.2)
        self.sql(
            f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}';"
            f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'%';"
            f"CREATE USER '{self.user}'@'localhost' IDENTIFIED BY '{self.password}';"
            f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'localhost';",
            as_root=True,
        )

    def _ping(self) -> bool:
        if not self.socket_path.exists():
            return False
        argv = [
            str(CLIENT),
            "--no-defaults",
            "-S",
            str(self.socket_path),
            "-uroot",
            "-e",
            "SELECT 1",
        ]
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)

    def sql(self, statements: str, database: str | None = None, as_root: bool = False) -> str:
        argv = [str(CLIENT), "--no-defaults", "-N", "-B"]
        if as_root:
            argv += ["-S", str(self.socket_path), "-uroot"]
        else:
            argv += ["-h", self.host, "-P", str(self.port), "-u", self.user]
        if database:
            argv.append(database)
        env = {**os.environ, "MYSQL_PWD": self.password} if not as_root else None
        result = subprocess.run(
            [*argv, "-e", statements],
            env=env,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            check=True,
        )
        return result.stdout


def start_mariadb() -> MariaDBServer:
    if not mariadb_installed():
        raise RuntimeError("MariaDB binaries not found: apt-get install mariadb-server")
    for attempt in range(3):  # a free port can be taken between choosing and binding
        base = Path(tempfile.mkdtemp(prefix="sb-my-"))
        os.chmod(base, 0o755)
        server = MariaDBServer(base=base, port=_free_port())
        try:
            server.start()
            return server
        except (RuntimeError, subprocess.CalledProcessError):
            server.stop()
            if attempt == 2:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


# 19.99 and 27.775 are no multiples of the tap's multipleOf (0.01, 0.001) in binary floats.
SEED_SQL = """
CREATE TABLE users (
    id BIGINT PRIMARY KEY, name VARCHAR(20), balance DECIMAL(14, 2), small TINYINT UNSIGNED,
    ratio DOUBLE, born DATE, tags JSON, vip TINYINT(1), raw VARBINARY(4),
    updated_at DATETIME(6) NOT NULL
);
CREATE TABLE line_items (
    order_id INT, line INT, qty DECIMAL(10, 3), note TEXT, updated_at DATETIME NOT NULL,
    PRIMARY KEY (order_id, line)
);
INSERT INTO users VALUES
    (1, 'Ada', 1234.50, 255, 27.775, '1815-12-10', '["a", null]', 1, X'00FF', '2024-01-01'),
    (2, 'Bob', NULL, 0, NULL, NULL, NULL, 0, NULL, '2024-01-02'),
    (3, 'Cy', 19.99, 42, -1e-7, '2000-02-29', '{"k": 1.50}', NULL, X'', '2024-01-03');
INSERT INTO line_items VALUES
    (1, 1, 27.775, 'first', '2024-01-01'),
    (1, 2, 1, NULL, '2024-01-01 00:05:00'),
    (2, 1, 10.125, 'bulk', '2024-01-02');
"""
