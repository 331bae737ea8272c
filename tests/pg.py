"""A throwaway PostgreSQL cluster for tests (initdb + pg_ctl on 127.0.0.1, a free port, a temp folder).

Shared by the serving tests (the service database) and the retraining tests (the MLflow backend store and the
service database). As root, the cluster runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL binaries (or a way to run them as a non-root user) are missing; tests skip."""


def pg_bin() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl`` (newest Debian install first), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session=True`` and every worker it forked, politely first."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster, yield its URL without a database name (``postgresql+psycopg://postgres@127.0.0.1:PORT``),
    stop it and delete its files afterwards. Raises ``PostgresUnavailableError`` when it cannot start one here."""
    bin_dir = pg_bin()
    if bin_dir is None:
        raise PostgresUnavailableError(
            "PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
        )
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="threatscore-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailableError(
                "running as root without runuser: cannot start PostgreSQL as the postgres user"
            )
        shutil.chown(root, user="postgres", group="postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    try:
        subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"],
            check=True,
            capture_output=True,
            env=env,
        )
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
            check=True,
            capture_output=True,
            env=env,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        if data.exists():
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                env=env,
            )
        shutil.rmtree(root, ignore_errors=True)


def create_pg_database(server_url: str) -> str:
    """A fresh, empty database on the throwaway server; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(f"{plain}/postgres", autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return f"{server_url}/{name}"
