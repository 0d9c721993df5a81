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
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg2

from leaklab.settings import AppSettings, StackSettings
from leaklab.stack.executor import Executor, External, Launched, Up
from leaklab.stack.ownership import postmaster
from leaklab.stack.process import OsUser, StackError, start
from leaklab.stack.state import RunState, Service

APP_ROLE = "leaklab"  # owns the database and its tables; no login
APP_DB = "leaklab"
MONITOR_ROLE = "leaklab_monitor"  # postgres_exporter: pg_monitor, not the superuser
STOP_SIGNAL = signal.SIGINT  # "fast" shutdown: the leaky app's clients never disconnect
SUPERUSER_RESERVED = 3  # PostgreSQL's default superuser_reserved_connections
MONITOR_BUDGET = 3  # the exporter holds one; a scrape may briefly open another


def app_role(variant: str) -> str:
    """Each app logs in as its own role, with its own CONNECTION LIMIT."""
    return f"{APP_ROLE}_{variant}"


def connection_budgets(
    max_connections: int, workers: int, db_pool_max: int, tenant_pool_max: int
) -> dict[str, int]:
    """Split max_connections the way production does: each app its own CONNECTION LIMIT.

    The fixed app gets what its pools can hold (psycopg2's and SQLAlchemy's) plus one
    /ready check per worker and a margin; the leaky app gets the rest, so however much it
    leaks, the fixed app keeps its share (a cold pool included). The superuser's reserved
    slots stay for probes.
    """
    fixed = workers * (db_pool_max + tenant_pool_max + 1) + 2
    leaky = max_connections - SUPERUSER_RESERVED - MONITOR_BUDGET - fixed
    if leaky < 5:
        raise StackError(
            f"LEAKLAB_PG_MAX_CONNECTIONS={max_connections} leaves the leaky app {leaky} "
            f"connections once the fixed app has its {fixed} ({AppSettings.variable('workers')}="
            f"{workers} x ({AppSettings.variable('db_pool_max')}={db_pool_max} + "
            f"{AppSettings.variable('tenant_pool_max')}={tenant_pool_max} + 1) + 2): "
            f"raise it to at least {max_connections - leaky + 5}"
        )
    return {"leaky": leaky, "fixed": fixed}


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


class PostgresServer(Executor):
    """A fresh cluster in the run directory: initdb, postgres on loopback, the apps' roles."""

    name, title, stop_signal = "postgres", "PostgreSQL", STOP_SIGNAL

    def launch(self, up: Up) -> Launched:
        s = up.settings
        budgets = connection_budgets(
            s.pg_max_connections, s.workers, s.db_pool_max, s.tenant_pool_max
        )
        port = up.port(s.postgres_port)
        bindir = find_bindir()
        user = server_user(s.postgres_os_user)
        home = cluster_dir(up.run_dir, user)
        data = home / "data"
        holder = postmaster(data)
        if holder is not None:
            raise StackError(
                f"PostgreSQL (pid {holder.pid}) still runs on {data}; leaklab will not delete a "
                "data directory a live server holds: stop it ('leaklab down') first"
            )
        if data.exists():
            shutil.rmtree(data)
        up.state.postgres_home = str(home)
        up.state.save(up.run_dir)  # now: if the start fails, `down` still finds the cluster
        admin_pw = secrets.token_urlsafe(18)
        self._initdb(bindir, home, user, admin_pw, up.run_dir)
        proc = start(
            self.command(bindir, data, port, s.pg_max_connections),
            self.log(up.run_dir),
            cwd=home,
            user=user,
            run_dir=up.run_dir,
        )
        up.state.database_admin_url = f"postgresql://postgres:{admin_pw}@127.0.0.1:{port}/postgres"
        up.state.connection_limits = dict(budgets)
        return Launched(up.state.database_admin_url, proc)

    def _initdb(
        self, bindir: Path, home: Path, user: OsUser | None, admin_pw: str, run_dir: Path
    ) -> None:
        log = self.log(run_dir)
        pwfile = home / "pwfile"
        pwfile.write_text(admin_pw + "\n")
        if user is not None:
            os.chown(pwfile, user.uid, user.gid)
        pwfile.chmod(0o600)
        initdb = start(
            [
                str(bindir / "initdb"),
                "-D",
                str(home / "data"),
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
            run_dir=run_dir,
        )
        if initdb.wait(timeout=120) != 0:
            raise StackError(f"initdb failed; see {log}")
        pwfile.unlink()

    @staticmethod
    def command(bindir: Path, data: Path, port: int, max_connections: int) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "max_connections": max_connections,
            "superuser_reserved_connections": SUPERUSER_RESERVED,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def ready(self, launched: Launched) -> bool:
        return _connects(launched.url)

    def settle(self, up: Up, launched: Launched) -> None:
        """Ready, then each app's role with its budget, and the exporter's."""
        self.wait(up, launched)
        app_urls, up.monitor_url = create_roles(launched.url, up.state.connection_limits)
        for variant, url in app_urls.items():
            up.state.app_urls.setdefault(variant, {})["postgres"] = url
        up.record(self, app_urls["fixed"], launched.proc)

    def check(self, url: str) -> str:
        psycopg2.connect(url, connect_timeout=3, application_name="leaklab-status").close()
        return "ok"

    def probe_url(self, state: RunState) -> str:
        """The superuser's reserved slots: the leak may hold every other connection."""
        return state.database_admin_url or state.url(self.name)

    def replacement(self, service: Service, state: RunState) -> psutil.Process | None:
        """The postmaster that holds the stack's data directory, whatever its port."""
        if state.postgres_home:
            return postmaster(Path(state.postgres_home) / "data")
        return super().replacement(service, state)

    def ours(self, service: Service, state: RunState) -> psutil.Process | None:
        return self.replacement(service, state)  # it holds our data: ours, healthy or not

    def clean(self, run_dir: Path, state: RunState | None, wipe: bool) -> str:
        if state is not None and state.postgres_home:
            return cleanup(Path(state.postgres_home), run_dir)
        if postmaster(run_dir / "postgres" / "data") is None:
            shutil.rmtree(run_dir / "postgres" / "data", ignore_errors=True)
        return ""


class ExternalPostgres(External, PostgresServer):
    """A PostgreSQL the user gives by URL: the schema made there, both apps share the URL."""

    def given(self, settings: StackSettings) -> str:
        return settings.database_url or ""

    def use(self, up: Up, url: str) -> None:
        prepare(url)
        up.state.database_admin_url = url


def _connects(url: str) -> bool:
    psycopg2.connect(url, connect_timeout=2, application_name="leaklab-launcher").close()
    return True


def _ensure_role(cur: psycopg2.extensions.cursor, role: str, options: str) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(f"{verb} ROLE {role} {options}")  # role and options are ours, never input


def create_roles(
    admin_url: str, budgets: Mapping[str, int], passwords: Mapping[str, str] | None = None
) -> tuple[dict[str, str], str]:
    """Every role the stack needs, natively and in compose's seed: each app's login with
    its budget, and the exporter's pg_monitor login. Returns the apps' DSNs and the monitor's.

    passwords (by variant, and "monitor") are generated when not given.
    """
    given = passwords or {}
    app_urls = {
        variant: bootstrap(admin_url, variant, limit, given.get(variant))
        for variant, limit in budgets.items()
    }
    return app_urls, create_monitor_role(admin_url, given.get("monitor"))


def bootstrap(
    admin_url: str, variant: str, connection_limit: int, password: str | None = None
) -> str:
    """The variant's login role (a member of the owner role, with its own connection budget),
    the database and the seeded schema; returns the variant's DSN."""
    password = password or secrets.token_urlsafe(18)
    role = app_role(variant)
    conn = psycopg2.connect(admin_url, application_name="leaklab-launcher")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            _ensure_role(cur, APP_ROLE, "NOLOGIN")
            _ensure_role(cur, role, f"LOGIN CONNECTION LIMIT {int(connection_limit)}")
            cur.execute(f"ALTER ROLE {role} PASSWORD %s", (password,))
            cur.execute(f"GRANT {APP_ROLE} TO {role}")
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DB,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {APP_DB} OWNER {APP_ROLE}")
    finally:
        conn.close()
    host_part = admin_url.rsplit("@", 1)[1].rsplit("/", 1)[0]
    app_url = f"postgresql://{role}:{quote(password, safe='')}@{host_part}/{APP_DB}"
    prepare(app_url)
    return app_url


def create_monitor_role(admin_url: str, password: str | None = None) -> str:
    """A pg_monitor login for postgres_exporter: it reads every backend, and can change nothing."""
    password = password or secrets.token_urlsafe(18)
    conn = psycopg2.connect(admin_url, application_name="leaklab-launcher")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            _ensure_role(cur, MONITOR_ROLE, f"LOGIN CONNECTION LIMIT {MONITOR_BUDGET}")
            cur.execute(f"ALTER ROLE {MONITOR_ROLE} PASSWORD %s", (password,))
            cur.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
    finally:
        conn.close()
    host_part = admin_url.rsplit("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://{MONITOR_ROLE}:{quote(password, safe='')}@{host_part}/postgres"


def prepare(app_url: str) -> None:
    """Create and seed the schema the endpoints query (idempotent), owned by the owner role
    in the database it owns (so both apps' roles read the same tables); elsewhere (a
    server the user gives) as the login itself."""
    conn = psycopg2.connect(app_url, application_name="leaklab-launcher")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            )
            owner = cur.fetchone()
            if owner is not None and owner[0] == APP_ROLE and _member_of(cur, APP_ROLE):
                cur.execute(f"SET ROLE {APP_ROLE}")  # the database is ours: so are its tables
        from webapp.schema import ensure_schema  # here: `leaklab status` needs no Flask

        ensure_schema(conn)
    finally:
        conn.close()


def _member_of(cur: psycopg2.extensions.cursor, role: str) -> bool:
    cur.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (role,))
    row = cur.fetchone()
    return bool(row and row[0])


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


def cleanup(data_home: Path, run_dir: Path) -> str:
    """Remove the cluster (it holds nothing worth keeping between runs), unless a live
    postmaster holds it; returns why it was kept ('' when removed)."""
    holder = postmaster(data_home / "data")
    if holder is not None:
        return f"kept {data_home / 'data'}: PostgreSQL pid {holder.pid} still holds it"
    shutil.rmtree(data_home / "data", ignore_errors=True)
    if not data_home.is_relative_to(run_dir):
        shutil.rmtree(data_home, ignore_errors=True)
    return ""
