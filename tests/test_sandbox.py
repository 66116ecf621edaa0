"""The sandboxed grading kernel: what student code can and cannot reach (the threat model)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import cgroups, sandbox
from conftest import REPO

@pytest.fixture(scope="module", params=["root", "user"])
def probe(request, grader_user):
    """What a cell could reach in the sandbox, with the grader running as root or as a normal
    user (a user namespace then gives the kernel a uid of its own)."""
    user = "root" if request.param == "root" else grader_user
    folder = Path(tempfile.mkdtemp(prefix=f"normlab-probe-{request.param}-"))
    command = [sys.executable, str(REPO / "tests" / "sandbox_probe.py"), str(folder / "work"), str(REPO)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(folder)}
    if user != "root":
        shutil.chown(folder, user)
        command = ["runuser", "-u", user, "--"] + command
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    line = next((line for line in result.stdout.splitlines() if line.startswith("PROBE ")), None)
    assert line, f"the probe did not run ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    report = json.loads(line[len("PROBE "):])
    assert not report["errors"], report["errors"]
    assert report["mode"] == request.param
    return report


# Modules a Python started in the submission's folder would import first (a fresh interpreter's
# and the usual suspects), and the packages of the grader: if anything started the kernel through
# Python outside the sandbox, files of these names beside the notebook would get imported there.
STARTUP_MODULES = sorted(set(json.loads(subprocess.run(
    [sys.executable, "-I", "-c", "import sys, json; print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"],
    capture_output=True, text=True, check=True).stdout)) | {"random", "json", "subprocess", "ctypes", "resource",
                                                            "autograder", "nbgrader", "nbclient", "jupyter_client",
                                                            "zmq", "traitlets", "sitecustomize", "usercustomize"})


def _plant_hostile_modules(folder, markers):
    """Files named after every module in STARTUP_MODULES, and a fake `autograder` package, each
    of which would leave a marker file if it were ever imported outside the sandbox."""
    payload = (f"import os\ntry:\n    open(os.path.join({str(markers)!r}, __name__), 'w').close()\n"
               "except OSError:\n    pass\n")
    for name in STARTUP_MODULES:
        if name in ("builtins", "sys", "marshal", "posix", "_io", "_imp", "_thread", "_warnings", "_weakref"):
            continue  # built into the interpreter: never looked up on disk
        (folder / f"{name}.py").write_text(payload)
    package = folder / "autograder"
    package.mkdir(exist_ok=True)
    for module in ("__init__", "sandbox", "hidden", "calls", "wire"):
        (package / f"{module}.py").write_text(payload)


def _launch(argv, folder, seconds=20):
    """Run a kernel start command in folder until it has become bubblewrap (or ended)."""
    process = subprocess.Popen(argv, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and process.poll() is None:
            command = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[0]
            if command.endswith(b"bwrap"):
                break
            time.sleep(0.01)
    finally:
        process.kill()
        process.wait()


def test_no_python_runs_outside_the_sandbox_and_nothing_beside_the_notebook_is_imported(tmp_path):
    """The kernel's start command is sh and prlimit until bubblewrap: files beside the notebook
    (a random.py, an `autograder/` package) are never imported outside the sandbox. (Control: a
    Python started in that folder imports them.) The Python that confines the kernel inside the
    sandbox runs `-I` from the bridge folder, not from the notebook's."""
    folder, job_dir = tmp_path / "notebook", tmp_path / "job"
    (job_dir / "check").mkdir(parents=True)
    folder.mkdir()
    env, job = sandbox.prepare(job_dir, check_dir=job_dir / "check")
    try:
        connection = Path(job.runtime_dir) / "kernel-1.json"
        connection.write_text(json.dumps({"ip": f"{job.runtime_dir}/kernel", "transport": "ipc"}))
        argv = sandbox.kernel_command(job_dir / "job.json", connection, folder)
        before = argv[:argv.index("bwrap")]
        programs = [Path(a).name for a in before if a.startswith("/") and os.access(a, os.X_OK) and Path(a).is_file()]
        assert Path(argv[0]).name == "sh" and "prlimit" in before, argv[:8]
        assert not any(name.startswith("python") for name in programs), programs
        confine = argv.index(f"{job.bridge_dir}/{sandbox.CONFINE}")
        assert argv[confine - 1] == "-I" and Path(argv[confine - 2]).name.startswith("python")
        for name, command in (("kernel", argv), ("control", [sys.executable, "-c", "import json"])):
            markers = tmp_path / f"markers-{name}"
            markers.mkdir()
            _plant_hostile_modules(folder, markers)
            _launch(command, folder)
            planted = sorted(p.name for p in markers.iterdir())
            if name == "kernel":
                assert planted == [], f"imported from the submission folder outside the sandbox: {planted}"
            else:
                assert planted, "the control should import the planted modules (the test would prove nothing)"
    finally:
        sandbox.release(job_dir)


def test_the_kernel_joins_its_control_groups_and_logs_to_the_job(tmp_path):
    """kernel_command's sh puts the kernel in every control group of its job before bubblewrap
    starts, and sends what the kernel prints outside the notebook to the job's log (private)."""
    groups = [tmp_path / "group-a", tmp_path / "group-b"]
    for group in groups:
        group.mkdir()
    job_dir = tmp_path / "job"
    (job_dir / "check").mkdir(parents=True)
    env, job = sandbox.prepare(job_dir, check_dir=job_dir / "check")
    real_groups = job.cgroups
    try:
        job.cgroups = [str(g) for g in groups]  # plain folders stand for the control groups here
        job.save(job_dir / "job.json")
        connection = Path(job.runtime_dir) / "kernel-2.json"
        connection.write_text(json.dumps({"ip": f"{job.runtime_dir}/kernel", "transport": "ipc"}))
        argv = sandbox.kernel_command(job_dir / "job.json", connection, tmp_path)
        script = argv[:argv.index("prlimit")] + ["sh", "-c", "echo started $$"]
        process = subprocess.run(script, capture_output=True, text=True, timeout=20)
        assert process.returncode == 0 and process.stdout == "", (process.stdout, process.stderr)
        pids = {(g / "cgroup.procs").read_text().strip() for g in groups}
        log = job_dir / "kernel.log"
        assert log.read_text() == f"started {pids.pop()}\n" and not pids
        assert log.stat().st_mode & 0o077 == 0
        inside = json.loads((Path(job.runtime_dir) / "connection-kernel-2.json").read_text())
        assert inside["ip"] == f"{sandbox.INSIDE_RUNTIME}/kernel"
    finally:
        cgroups.remove(real_groups)


def test_controllers_mounted_together_get_one_group_with_every_limit(tmp_path, monkeypatch):
    """cgroup v1 with cpu and cpuacct mounted together (cpu,cpuacct; cpu and cpuacct are links to
    it): the kernel's group is made once and keeps its CPU limit (plain folders stand in here)."""
    (tmp_path / "cpu,cpuacct" / "grader").mkdir(parents=True)
    (tmp_path / "pids" / "grader").mkdir(parents=True)
    for name in ("cpu", "cpuacct"):
        (tmp_path / name).symlink_to(tmp_path / "cpu,cpuacct")
    for order in (("cpu", "cpuacct", "pids"), ("cpuacct", "cpu", "pids")):
        monkeypatch.setattr(cgroups, "_own_groups", lambda: {c: tmp_path / c / "grader" for c in order})
        made = cgroups.create(f"kernel-{order[0]}", 2**30, 16)
        assert [Path(f).resolve().parent.parent.name for f in made] == ["cpu,cpuacct", "pids"], made
        assert (Path(made[0]) / "cpu.cfs_quota_us").read_text() == str(cgroups.PERIOD)
        assert (Path(made[1]) / "pids.max").read_text() == "16"


def test_student_code_runs_unprivileged_in_its_own_folder(probe):
    assert probe["uid"] == probe["job_uid"] and sandbox.UID_RANGE[0] <= probe["uid"] < sandbox.UID_RANGE[1]
    assert int(probe["capabilities"], 16) == 0
    assert probe["cwd"].endswith("autograded/someone/normalization")


def test_student_code_cannot_read_the_course_the_reference_or_the_gradebook(probe):
    for key in ("read_reference", "read_source", "read_gradebook", "import_reference", "import_checks"):
        assert probe[key][0] == "refused", (key, probe[key])
    assert probe["list_course"][0] == "refused" or "autograder" not in probe["list_course"][1]


def test_student_code_cannot_use_a_deep_learning_library(probe):
    assert probe["import_torch"] == ["refused", "ImportError"]


def test_the_grading_kernel_starts_without_the_debugger(probe):
    # ipykernel loads debugpy whenever it can (a sixth of its start-up); grading never debugs
    assert probe["import_debugpy"] == ["refused", "ImportError"]
    assert probe["debugger_loaded"] is False


def test_the_grading_kernel_keeps_no_history_database_but_still_the_inputs(probe):
    # a file in the sandbox's throwaway /tmp that IPython wrote after every cell (1.2 ms each)
    assert probe["history_saved"] is False
    assert probe["inputs_kept"] is True


def test_student_code_writes_only_a_small_private_tmp(probe):
    assert probe["write_cwd"][0] == "refused"
    assert probe["write_tmp"][0] == "ok"
    assert probe["fill_tmp"][0] == "refused"
    # the one host folder it shares with the grader: its sockets only (Landlock; in a user
    # namespace the kernel owns that folder, so permissions could not stop it)
    assert probe["write_runtime"][0] == "refused" and probe["mkdir_runtime"][0] == "refused"


def test_student_code_has_no_network_and_no_grader_secrets(probe):
    assert probe["tcp_to_host"][0] == "refused"
    assert probe["internet"][0] == "refused"
    assert probe["secret_env"] is None


def test_memory_and_processes_are_limited(probe):
    assert probe["allocate_8_gib"] == ["refused", "MemoryError"]
    assert probe["spawn_300"][0] == "refused"
    assert probe["spawned"] < sandbox.Limits().processes
    if probe["mode"] == "root":  # the kernel ran inside its control groups, which are gone now
        assert probe["cgroup_peak_bytes"] and probe["cgroup_peak_bytes"] > 20 * 2**20
    assert probe["cgroups_left"] == []


def test_a_machine_without_user_namespaces_gets_a_clear_message(monkeypatch):
    """As a normal user the sandbox needs unprivileged user namespaces; without them, grading
    refuses with a sentence that says what to do."""
    monkeypatch.setattr(sandbox, "mode", lambda: "user")
    monkeypatch.setattr(sandbox.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 1, "", "bwrap: setting up uid map: Permission denied"))
    ok, reason = sandbox.available()
    assert not ok and "unprivileged user namespaces are not available" in reason and "grade as root" in reason


def test_grading_refuses_when_the_sandbox_cannot_start(monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    ok, reason = sandbox.available()
    assert not ok and "not installed" in reason


def test_what_a_sandbox_started_in_its_own_session_dies_with_the_job():
    """Jupyter stops a kernel by killing the process it started; processes inside the sandbox's
    pid namespace (here one in a session of its own) are then ended by the job's reaper."""
    from autograder import kernel

    def alive():
        found = subprocess.run(["pgrep", "-f", "sleep 3031"], capture_output=True, text=True).stdout.split()
        return [pid for pid in found if pid != str(os.getpid())]

    outer = subprocess.Popen(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-pid", "--new-session",
                              "sh", "-c", "setsid sleep 3031 & exec sleep 3031"])
    try:
        deadline = time.monotonic() + 10
        while len(alive()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        with kernel.namespace_reaper() as reaper:
            reaper.note(outer.pid)
            outer.kill()
            outer.wait()
            assert alive(), "the sandbox's own processes outlived the process Jupyter started"
        deadline = time.monotonic() + 10
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive()
    finally:
        outer.kill()
        subprocess.run(["pkill", "-KILL", "-f", "sleep 3031"])


def test_a_submission_shares_one_memory_and_task_budget_across_its_processes(tmp_path):
    """prlimit bounds each process; the kernel's control groups bound their sum (here 300 MB and
    24 tasks for the test): three children of 150 MB each cannot all live, and forking goes no
    further than the task budget."""
    from autograder import cgroups

    folders = cgroups.create(f"normlab-test-{os.getpid()}", 300 * 2**20, 24)
    assert folders, "no control group could be created (the grader runs as root here)"
    program = tmp_path / "greedy.py"
    program.write_text(
        "import os, sys, time\n"
        "for folder in sys.argv[1:]:\n"
        "    open(os.path.join(folder, 'cgroup.procs'), 'w').write(str(os.getpid()))\n"
        "children = []\n"
        "for _ in range(3):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = bytearray(150 * 2**20)\n"
        "        for i in range(0, len(block), 4096): block[i] = 1\n"
        "        time.sleep(2); os._exit(0)\n"
        "    children.append(pid)\n"
        "killed = sum(os.waitpid(pid, 0)[1] & 0x7f == 9 for pid in children)\n"
        "forked, refused = [], 0\n"
        "for _ in range(40):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except BlockingIOError:\n"
        "        refused += 1\n"
        "        continue\n"
        "    if pid == 0:\n"
        "        time.sleep(1); os._exit(0)\n"
        "    forked.append(pid)\n"
        "for pid in forked: os.waitpid(pid, 0)\n"
        "print('KILLED', killed, 'FORKED', len(forked), 'REFUSED', refused)\n")
    try:
        result = subprocess.run([sys.executable, str(program), *folders], capture_output=True, text=True,
                                timeout=120)
    finally:
        cgroups.remove(folders)
    words = result.stdout.split()
    assert words[:1] == ["KILLED"], result.stdout + result.stderr
    killed, forked, refused = int(words[1]), int(words[3]), int(words[5])
    assert killed >= 1 and forked < 24 and refused > 0
    assert not any(Path(folder).exists() for folder in folders)


def test_cpu_of_children_nobody_waited_for_still_counts(tmp_path):
    """A process that ignores SIGCHLD has its children reaped by the kernel: their CPU time reaches
    no one's /proc totals, but the control group's CPU accounting keeps it."""
    from autograder import cgroups, kernel

    folders = cgroups.create(f"normlab-cpu-test-{os.getpid()}", 2**30, 32)
    assert folders, "no control group could be created (the grader runs as root here)"
    program = tmp_path / "hide.py"
    program.write_text(
        "import os, signal, sys, time\n"
        "for folder in sys.argv[1:]:\n"
        "    open(os.path.join(folder, 'cgroup.procs'), 'w').write(str(os.getpid()))\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
        "for _ in range(2):\n"
        "    if os.fork() == 0:\n"
        "        end = time.process_time() + 0.6\n"
        "        while time.process_time() < end: pass\n"
        "        os._exit(0)\n"
        "time.sleep(2.5)\n"
        "print('done', flush=True)\n"
        "time.sleep(30)\n")
    process = subprocess.Popen([sys.executable, str(program), *folders], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "done"
        from_proc = kernel.cpu_clock(process.pid)()
        from_groups = kernel.cpu_clock(process.pid, folders)()
        assert from_proc < 0.6, "the /proc totals should have lost the children (the test would prove nothing)"
        assert from_groups >= 1.1
    finally:
        process.kill()
        process.wait()
        cgroups.remove(folders)
