"""The sandboxed grading kernel: bubblewrap, a uid of its own, Landlock and resource limits.

`make grade` runs nbgrader with a kernelspec of its own (KERNEL_NAME). Its kernel manager
(autograder.execute.GradingKernelManager) starts the kernel with kernel_command():
`sh` joins the job's control groups and becomes
`prlimit ... bwrap ... [setpriv ...] python confine.py ... python -m ipykernel_launcher`, so no
Python runs outside the sandbox, and the student's code:

- sees only the Python environment (read-only; deep-learning libraries and the debugger masked), the system's
  /usr, /etc and libraries (read-only), its own autograded folder (read-only), a private /tmp,
  and the two folders the kernel needs to talk to the grader;
- has no network (a new network namespace; the kernel speaks ZeroMQ over IPC sockets);
- runs as a uid of its own with no capabilities, in new pid/ipc/uts namespaces: as root, a
  fresh unprivileged uid (setpriv); as a normal user, a uid inside a new user namespace;
- writes new files only in its capped /tmp, and in its runtime folder only its sockets
  (autograder/confine.py, Landlock);
- is limited in address space, CPU time, processes, file size and /tmp size.

Everything a job needs is in a JSON file whose path the kernelspec's environment holds
(NORMLAB_SANDBOX_JOB).
"""
import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

KERNEL_NAME = "normlab-sandbox"
JOB_ENV = "NORMLAB_SANDBOX_JOB"
# Each sandboxed kernel runs as its own uid, drawn from this range (no user has these): limits
# per uid (processes) never mix two submissions, even across concurrent grading runs.
UID_RANGE = (200_000, 2_000_000)
# Packages masked in the sandbox (importing one raises ImportError with the reason): libraries the
# student must not call instead of writing the code, and the debugger, which ipykernel loads at
# start when it can (0.15 s of CPU per submission) and grading never uses.
NUMPY_ONLY = "the assignment is numpy only"
MASKED_PACKAGES = {"torch": NUMPY_ONLY, "torchgen": NUMPY_ONLY, "functorch": NUMPY_ONLY, "jax": NUMPY_ONLY,
                   "jaxlib": NUMPY_ONLY, "tensorflow": NUMPY_ONLY, "debugpy": "grading runs no debugger"}
BRIDGE_MODULES = ("__init__.py", "wire.py", "calls.py", "hidden.py")
CONFINE = "normlab_confine.py"  # autograder/confine.py, in the bridge folder
# inside the sandbox: matplotlib's config and cache folder (in the capped /tmp), and where the
# kernel's runtime folder (its connection file and sockets) appears: outside /tmp, so that
# Landlock can tell the two apart
MPLCONFIGDIR = "/tmp/matplotlib"
INSIDE_RUNTIME = "/run/normlab-kernel"


@dataclass
class Limits:
    """Resource limits of one grading kernel."""

    address_space: int = 3 * 2**30   # bytes of virtual memory
    cpu_seconds: int = 120           # CPU time of the whole kernel
    processes: int = 64              # tasks (processes and threads) of the sandbox uid
    file_size: int = 64 * 2**20      # largest file the kernel may write
    tmp_size: int = 128 * 2**20      # size of the private /tmp


@dataclass
class Job:
    """What one sandboxed kernel needs: where things are, and who it runs as.

    - mode: "root" (the grader is root: setpriv to `uid`) or "user" (a user namespace in which
      the kernel is `uid`)
    """

    uid: int
    runtime_dir: str     # Jupyter's connection file and IPC sockets
    check_dir: str       # the grader's check socket (read-only inside)
    bridge_dir: str      # the `autograder` stub package the hidden cells import
    mode: str = "root"
    font_cache: str = ""  # the grader's matplotlib font list, read-only in the sandbox's /tmp
    env: dict = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    cgroups: list = field(default_factory=list)  # the kernel's control groups (autograder.cgroups)

    def save(self, path):
        Path(path).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path):
        data = json.loads(Path(path).read_text())
        data["limits"] = Limits(**data["limits"])
        return cls(**data)


def mode():
    """How this grader isolates kernels: "root" (a fresh uid) or "user" (a user namespace)."""
    return "root" if os.geteuid() == 0 else "user"


def available():
    """Return (True, '') when a sandbox can start here, else (False, reason)."""
    if sys.platform != "linux":
        return False, f"bubblewrap sandboxes need Linux (this is {sys.platform})"
    for tool in ("bwrap", "prlimit") + (("setpriv",) if mode() == "root" else ()):
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed (Debian/Ubuntu: apt-get install bubblewrap util-linux)"
    probe = subprocess.run(_prefix(Limits(), mode(), UID_RANGE[0]) + ["--ro-bind", "/", "/", "true"],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        return True, ""
    if mode() == "user":
        return False, ("unprivileged user namespaces are not available on this machine "
                       f"({probe.stderr.strip()}): grade as root, or enable them "
                       "(sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0)")
    return False, f"bwrap cannot start here: {probe.stderr.strip()}"


def matplotlib_cache():
    """The grader's matplotlib font list (built once), to seed each sandbox's config folder.

    A kernel with an empty MPLCONFIGDIR rebuilds the font list on its first plot; copying the
    grader's list saves that on every submission.
    """
    import matplotlib
    import matplotlib.font_manager  # noqa: F401  (builds the list when missing)

    lists = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    return lists[-1] if lists else None


def prepare(job_dir, check_dir, extra_env=None, limits=None):
    """Create the folders and kernelspec of one sandboxed job.

    Inputs:
    - job_dir: a fresh private folder for this job
    - check_dir: folder holding the grader's check socket
    - extra_env: environment variables for the kernel

    Returns (env, job): the environment for the nbgrader process, and the Job.
    """
    job_dir = Path(job_dir)
    uid = random.SystemRandom().randrange(*UID_RANGE)
    runtime = job_dir / "runtime"
    runtime.mkdir()
    if mode() == "root":  # the kernel's uid may create its sockets here (owner root, group the uid)
        os.chown(runtime, 0, uid)
        runtime.chmod(0o770)
    bridge = job_dir / "bridge" / "autograder"
    bridge.mkdir(parents=True)
    here = Path(__file__).resolve().parent
    for name in BRIDGE_MODULES:
        (bridge / name).write_text((here / name).read_text() if name != "__init__.py" else "")
    shutil.copyfile(here / "confine.py", job_dir / "bridge" / CONFINE)
    for package, reason in MASKED_PACKAGES.items():  # found before site-packages: `import torch` fails loudly
        blocker = job_dir / "bridge" / package
        blocker.mkdir()
        (blocker / "__init__.py").write_text(f"raise ImportError('{package} is not available while grading: {reason}')\n")
    for path in (job_dir, *(job_dir / "bridge").rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)

    fonts = matplotlib_cache()
    from autograder import cgroups

    limits = limits or Limits()
    groups = cgroups.create(f"normlab-{job_dir.name}-{uid}", limits.address_space, limits.processes)
    job = Job(uid=uid, runtime_dir=str(runtime), check_dir=str(check_dir), bridge_dir=str(job_dir / "bridge"),
              mode=mode(), font_cache=str(fonts or ""), env={"MPLCONFIGDIR": MPLCONFIGDIR, **(extra_env or {})},
              limits=limits, cgroups=groups)
    job.save(job_dir / "job.json")

    kernels = job_dir / "jupyter" / "kernels" / KERNEL_NAME
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        # the grading kernel manager replaces this command with kernel_command(); started by
        # any other manager, the kernel only says so
        "argv": [sys.executable, "-I", "-c", f"raise SystemExit({NOT_THIS_WAY!r})", "{connection_file}"],
        "display_name": "normlab sandbox",
        "language": "python",
        "interrupt_mode": "message",
        "env": {JOB_ENV: str(job_dir / "job.json")},
    }))
    env = {"JUPYTER_PATH": str(job_dir / "jupyter"), "JUPYTER_RUNTIME_DIR": str(runtime)}
    return env, job


def release(job_dir):
    """After the job: end whatever the kernel left running in its control groups, remove them."""
    from autograder import cgroups

    path = Path(job_dir) / "job.json"
    if path.exists():
        try:
            cgroups.remove(Job.load(path).cgroups)
        except (OSError, ValueError, TypeError, KeyError):
            pass


def lock(job):
    """After the kernel has made its sockets (root mode): its uid can no longer create anything in
    the runtime folder (Landlock already refuses all but sockets; this holds without it too)."""
    if job.mode == "root":
        os.chmod(job.runtime_dir, 0o750)


def _prefix(limits, how, uid):
    """prlimit and bubblewrap's namespaces (the process limit is set inside: confine.py)."""
    identity = (["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if how == "root"
                else ["--unshare-user", "--uid", str(uid), "--gid", str(uid)])
    return ["prlimit", f"--as={limits.address_space}", f"--cpu={limits.cpu_seconds}",
            f"--fsize={limits.file_size}", "--core=0",
            "bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", *identity]


def _parents(path):
    """bwrap options that create the parents of path, traversable by anyone."""
    options, current = [], Path("/")
    for part in Path(path).parts[1:-1]:
        current = current / part
        options += ["--perms", "0755", "--dir", str(current)]
    return options


# IPython writes every cell to its history database, here a file in the sandbox's throwaway /tmp
# (nbclient gives only kernels named python3 an in-memory one): about 1 ms of the kernel's CPU per
# cell, measured with a tmpfs home, for a file nobody reads (In and Out still work).
KERNEL_OPTIONS = ("--HistoryManager.enabled=False",)


def command(job, connection_file, cwd):
    """The full command line that starts the sandboxed kernel (connection_file: its inside path)."""
    limits = job.limits
    args = _prefix(limits, job.mode, job.uid)
    for system_dir in ("/usr", "/etc", "/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.isdir(system_dir) and not os.path.islink(system_dir):
            args += ["--ro-bind", system_dir, system_dir]
        elif os.path.islink(system_dir):
            args += ["--symlink", os.readlink(system_dir), system_dir]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp",
             "--perms", "1777", "--dir", MPLCONFIGDIR]
    if job.font_cache:
        args += ["--ro-bind", job.font_cache, f"{MPLCONFIGDIR}/{Path(job.font_cache).name}"]
    site = Path(sys.prefix)
    read_only = [sys.base_prefix, sys.prefix, cwd, job.bridge_dir, job.check_dir]
    # each folder at its real path, and also at the path it is known by when that is a symbolic
    # link (a course environment .venv -> /opt/envs/course runs as .venv/bin/python inside too)
    for path in dict.fromkeys(p for q in read_only for p in (str(Path(q).resolve()), os.path.abspath(q))):
        if not any(path == d or path.startswith(d + "/") for d in ("/usr", "/etc")):
            args += _parents(path) + ["--ro-bind", str(Path(path).resolve()), path]
    args += _parents(INSIDE_RUNTIME) + ["--bind", job.runtime_dir, INSIDE_RUNTIME]
    for package in MASKED_PACKAGES:
        for masked in site.glob(f"lib/python*/site-packages/{package}"):
            args += ["--tmpfs", str(masked)]
    env = {
        "HOME": "/tmp",
        "PATH": f"{sys.prefix}/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "template",  # figures are not drawn while grading (plt.show() does nothing)
        "PYTHONPATH": job.bridge_dir,
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": "autograde",
        **job.env,
    }
    args += ["--chdir", cwd, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    if job.mode == "root":
        args += ["setpriv", f"--reuid={job.uid}", f"--regid={job.uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    python = f"{sys.prefix}/bin/python"
    return args + [python, "-I", f"{job.bridge_dir}/{CONFINE}", INSIDE_RUNTIME, str(limits.processes), "--",
                   python, "-m", "ipykernel_launcher", "-f", connection_file, *KERNEL_OPTIONS]


def kernel_command(job_file, connection_file, cwd):
    """The command that starts the sandboxed kernel of one job (run from the grader, no Python).

    Jupyter has written the connection file for the grader's side; the kernel gets a copy in
    its runtime folder that names the folder as the sandbox shows it. The command is `sh`, which
    joins the job's control groups (everything the kernel starts shares one memory and task
    budget), sends the kernel's own chatter to the job's log, and becomes prlimit and bubblewrap.

    Inputs:
    - job_file: the job's JSON file (NORMLAB_SANDBOX_JOB in the kernelspec's environment)
    - connection_file: where Jupyter wrote the connection file
    - cwd: the notebook's folder, the kernel's working directory

    Returns the command as a list of strings.
    """
    job = Job.load(job_file)
    info = json.loads(Path(connection_file).read_text())
    info["ip"] = info.get("ip", "").replace(job.runtime_dir, INSIDE_RUNTIME, 1)
    name = f"connection-{Path(connection_file).stem}.json"
    inside = Path(job.runtime_dir) / name
    inside.write_text(json.dumps(info))
    if job.mode == "root":
        os.chown(inside, 0, job.uid)
    inside.chmod(0o640 if job.mode == "root" else 0o600)  # the kernel reads it
    log = Path(job.runtime_dir).parent / "kernel.log"
    return (["/bin/sh", "-c", _JOIN_AND_START, "normlab-kernel", str(log), str(len(job.cgroups)), *job.cgroups]
            + command(job, f"{INSIDE_RUNTIME}/{name}", str(cwd)))


# sh -c _JOIN_AND_START normlab-kernel LOG N GROUP_1 .. GROUP_N COMMAND ARG...
_JOIN_AND_START = (
    'umask 077; log=$1; n=$2; shift 2; exec >>"$log" 2>&1; '
    'while [ "$n" -gt 0 ]; do echo $$ >"$1/cgroup.procs" || exit 1; shift; n=$((n - 1)); done; '
    'exec "$@"')
NOT_THIS_WAY = "normlab sandbox: this kernel is started by autograder.execute.GradingKernelManager"
