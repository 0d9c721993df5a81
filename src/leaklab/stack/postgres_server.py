"""A throw-away PostgreSQL cluster: initdb, postgres on loopback, roles, schema."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from leaklab.stack.process import OsUser, StackError, start, wait_until_ready
from webapp.schema import ensure_schema

APP_ROLE = "leaklab"
APP_DB = "leaklab"
STOP_SIGNAL = signal.SIGINT  # "fast" shutdown: the leaky app's clients never disconnect


@dataclass(frozen=True)
class PostgresInstance:
    pid: int
    port: int
    admin_url: str
    app_url: str
    data_dir: Path


def find_bindir() -> Path:
    """Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    raise StackError(
        "PostgreSQL server binaries (initdb, postgres) not found. Install them: "
        "Debian/Ubuntu 'sudo apt-get install postgresql', macOS 'brew install postgresql@15'"
    )


def server_user(preferred: str = "") -> OsUser | None:
    """None when we are not root; otherwise an unprivileged account, created if need be."""
    if os.geteuid() != 0:
        return None
    names = [preferred] if preferred else ["postgres", "leaklab"]
    for name in names:
        try:
            entry = pwd.getpwnam(name)
            return OsUser(name, entry.pw_uid, entry.pw_gid)
        except KeyError:
            continue
    name = names[-1]
    created = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if created.returncode != 0:
        raise StackError(
            f"PostgreSQL refuses to run as root and no user {name!r} could be created "
            f"({created.stderr.strip()}); set LEAKLAB_POSTGRES_OS_USER to an existing user"
        )
    entry = pwd.getpwnam(name)
    return OsUser(name, entry.pw_uid, entry.pw_gid)


def _reachable_by(user: OsUser, path: Path) -> bool:
    probe = subprocess.run(
        ["test", "-x", str(path)], user=user.uid, group=user.gid, extra_groups=[], check=False
    )
    return probe.returncode == 0


def cluster_dir(run_dir: Path, user: OsUser | None) -> Path:
    """Where the cluster lives: in the run directory when the server's user can reach it."""
    home = run_dir / "postgres"
    if user is None or _reachable_by(user, run_dir):
        home.mkdir(parents=True, exist_ok=True)
    else:
        # e.g. a clone under /root or mktemp -d: the server's user cannot traverse it
        home = Path(tempfile.mkdtemp(prefix="leaklab-postgres-"))
    if user is not None:
        os.chown(home, user.uid, user.gid)
    return home


def init_and_start(
    run_dir: Path, port: int, max_connections: int, os_user: str = ""
) -> tuple[PostgresInstance, subprocess.Popen[bytes]]:
    """initdb a fresh cluster, start it on 127.0.0.1:port, create the app's role and schema."""
    bindir = find_bindir()
    user = server_user(os_user)
    home = cluster_dir(run_dir, user)
    data = home / "data"
    if data.exists():
        shutil.rmtree(data)
    log = run_dir / "logs" / "postgres.log"
    admin_pw, app_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    pwfile = home / "pwfile"
    pwfile.write_text(admin_pw + "\n")
    if user is not None:
        os.chown(pwfile, user.uid, user.gid)
    pwfile.chmod(0o600)
    initdb = start(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            f"--pwfile={pwfile}",
            "--no-sync",
            "--no-instructions",
        ],
        log,
        cwd=home,
        user=user,
    )
    if initdb.wait(timeout=120) != 0:
        raise StackError(f"initdb failed; see {log}")
    pwfile.unlink()
    proc = start(
        [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            f"max_connections={max_connections}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        log,
        cwd=home,
        user=user,
    )
    admin_url = f"postgresql://postgres:{admin_pw}@127.0.0.1:{port}/postgres"
    wait_until_ready("PostgreSQL", proc, lambda: _connects(admin_url), log)
    app_url = bootstrap(admin_url, app_pw)
    return PostgresInstance(proc.pid, port, admin_url, app_url, home), proc


def _connects(url: str) -> bool:
    psycopg2.connect(url, connect_timeout=2, application_name="leaklab-launcher").close()
    return True


def bootstrap(admin_url: str, app_password: str) -> str:
    """Create the app's (non-superuser) role and database, then the seeded schema."""
    conn = psycopg2.connect(admin_url, application_name="leaklab-launcher")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(f"{verb} ROLE {APP_ROLE} LOGIN PASSWORD %s", (app_password,))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DB,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {APP_DB} OWNER {APP_ROLE}")
    finally:
        conn.close()
    host_part = admin_url.rsplit("@", 1)[1].rsplit("/", 1)[0]
    app_url = f"postgresql://{APP_ROLE}:{app_password}@{host_part}/{APP_DB}"
    prepare(app_url)
    return app_url


def prepare(app_url: str) -> None:
    """Create and seed the schema the endpoints query (idempotent)."""
    conn = psycopg2.connect(app_url, application_name="leaklab-launcher")
    try:
        ensure_schema(conn)
    finally:
        conn.close()


def connections_by_app(admin_url: str) -> dict[str, int]:
    """Server-side truth: backends per application_name, in every state."""
    conn = psycopg2.connect(admin_url, application_name="leaklab-probe", connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT application_name, count(*) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' GROUP BY application_name"
            )
            return {name: int(n) for name, n in cur.fetchall()}
    finally:
        conn.close()


def cleanup(data_home: Path, run_dir: Path) -> None:
    """Remove the cluster (it holds nothing worth keeping between runs)."""
    shutil.rmtree(data_home / "data", ignore_errors=True)
    if not data_home.is_relative_to(run_dir):
        shutil.rmtree(data_home, ignore_errors=True)
