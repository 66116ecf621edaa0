"""Real servers the tests start and stop: a throw-away PostgreSQL cluster (Debian's postgresql,
`make db-tools`) and a Dask scheduler with its workers (dask's own command line tools)."""
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin():
    """The folder of initdb and pg_ctl (Debian keeps them under /usr/lib/postgresql/<version>/bin)."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_owner(owner, command, **kwargs):
    """Run a command as owner (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", owner, "--"] + command
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


@contextlib.contextmanager
def postgres():
    """A PostgreSQL server of its own in a fresh folder under /tmp, on a free port; yields the
    SQLAlchemy URL of an empty database. The folder goes when the server stops."""
    binaries = postgres_bin()
    assert binaries, "PostgreSQL is not installed (make db-tools installs Debian's postgresql)"
    owner = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    folder = Path(tempfile.mkdtemp(prefix="normlab-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, owner)
    _as_owner(owner, [str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
    port = free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    _as_owner(owner, [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
                      "-o", options, "-w", "start"])
    try:
        _as_owner(owner, [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                          "normlab"])
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/normlab"
    finally:
        subprocess.run((["runuser", "-u", owner, "--"] if os.geteuid() == 0 else [])
                       + [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {seconds} s")


class DaskCluster:
    """A Dask scheduler and single-threaded workers on localhost, as separate processes.

    Inputs:
    - env: the environment of the workers (NORMLAB_COURSE_ROOT of their course copy, PATH, ...)
    - cwd: the workers' working folder
    """

    def __init__(self, env, cwd, workers=2):
        self.env, self.cwd = env, cwd
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.processes, self.workers = [], []
        self.scheduler = self._start([str(VENV_BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                                      "--port", str(self.port), "--no-dashboard"])
        for _ in range(workers):
            self.add_worker()

    def _start(self, command):
        process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(process)
        return process

    def add_worker(self):
        """Start one more `dask worker --nthreads 1` (no nanny: a killed worker stays dead)."""
        worker = self._start([str(VENV_BIN / "dask"), "worker", self.address, "--nthreads", "1",
                              "--nworkers", "1", "--no-nanny", "--no-dashboard"])
        self.workers.append(worker)
        _wait_for(lambda: self.count() >= len([w for w in self.workers if w.poll() is None]), 120,
                  "a Dask worker joining the scheduler")
        return worker

    def count(self):
        """Workers the scheduler knows."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            return len(client.scheduler_info()["workers"])

    def kill(self, worker):
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    def close(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
