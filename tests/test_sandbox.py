"""The sandboxed grading kernel: what student code can and cannot reach (the threat model)."""
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

from autograder import sandbox
from conftest import REPO

pytestmark = pytest.mark.skipif(not sandbox.available()[0], reason=sandbox.available()[1])

PROBE = textwrap.dedent('''
    import json, os, socket, subprocess, sys
    report = {"uid": os.getuid(), "cwd": os.getcwd()}
    status = open("/proc/self/status").read()
    report["capabilities"] = [l.split()[1] for l in status.splitlines() if l.startswith("CapEff")][0]

    def attempt(action):
        try:
            return ["ok", str(action())[:200]]
        except BaseException as error:
            return ["refused", type(error).__name__]

    report["read_reference"] = attempt(lambda: open(REPO + "/autograder/reference.py").read())
    report["read_source"] = attempt(lambda: open(REPO + "/source/normalization/normalization.ipynb").read())
    report["read_gradebook"] = attempt(lambda: open(SECRET_FILE).read())
    report["list_course"] = attempt(lambda: sorted(os.listdir(REPO)))
    report["import_reference"] = attempt(lambda: __import__("autograder.reference"))
    report["import_checks"] = attempt(lambda: __import__("autograder.checks"))
    report["import_torch"] = attempt(lambda: __import__("torch"))
    report["write_cwd"] = attempt(lambda: open("written.txt", "w").write("x"))
    report["write_tmp"] = attempt(lambda: open("/tmp/small.txt", "w").write("x" * 1000))
    report["fill_tmp"] = attempt(lambda: open("/tmp/big.bin", "wb").write(b"x" * (300 * 2**20)))
    report["secret_env"] = os.environ.get("NORMLAB_TEST_SECRET")
    report["tcp_to_host"] = attempt(lambda: socket.create_connection(("127.0.0.1", HOST_PORT), timeout=2))
    report["internet"] = attempt(lambda: socket.create_connection(("1.1.1.1", 80), timeout=2))
    report["allocate_8_gib"] = attempt(lambda: bytearray(8 * 2**30))
    children = []
    def spawn_many():
        for _ in range(300):
            children.append(subprocess.Popen(["sleep", "5"]))
        return len(children)
    report["spawn_300"] = attempt(spawn_many)
    report["spawned"] = len(children)
    for child in children:
        child.kill()
    print(json.dumps(report))
''')


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox")
    notebook_dir = root / "autograded" / "someone" / "normalization"
    notebook_dir.mkdir(parents=True)
    secret = root / "gradebook.db"
    secret.write_text("grades")
    job_dir = root / "job"
    job_dir.mkdir()
    check_dir = job_dir / "check"
    check_dir.mkdir()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    os.environ["NORMLAB_TEST_SECRET"] = "do-not-leak"
    env, job = sandbox.prepare(job_dir, check_dir=check_dir)
    os.environ.update(env)
    source = (PROBE.replace("REPO", repr(str(REPO))).replace("SECRET_FILE", repr(str(secret)))
              .replace("HOST_PORT", str(listener.getsockname()[1])))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = f"{job.runtime_dir}/kernel"
    try:
        NotebookClient(notebook, timeout=120, kernel_name=sandbox.KERNEL_NAME, config=config,
                       resources={"metadata": {"path": str(notebook_dir)}}).execute()
    finally:
        for key in env:
            os.environ.pop(key, None)
        os.environ.pop("NORMLAB_TEST_SECRET", None)
        listener.close()
    text = "".join(o.get("text", "") for o in notebook.cells[0].outputs if o.output_type == "stream")
    errors = [o for o in notebook.cells[0].outputs if o.output_type == "error"]
    assert not errors, errors
    return json.loads(text.strip().splitlines()[-1])


# Modules the kernel launcher imports before the sandbox exists (as root), and the packages of
# the grader: a submission folder holding files of these names must not get them imported.
LAUNCHER_MODULES = sorted(set(json.loads(subprocess.run(
    [sys.executable, "-I", "-c", "import sys, json; sys.argv = ['x']; "
     f"exec(open({str(REPO / 'autograder' / 'sandbox.py')!r}).read().replace('__main__', '_')); "
     "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"],
    capture_output=True, text=True, check=True).stdout)) | {"autograder", "nbgrader", "nbclient", "jupyter_client",
                                                            "zmq", "traitlets", "sitecustomize", "usercustomize"})


def _plant_hostile_modules(folder, markers):
    """Files named after every module the launcher imports, and a fake `autograder` package,
    each of which would leave a marker file if it were ever imported outside the sandbox."""
    payload = (f"import os\ntry:\n    open(os.path.join({str(markers)!r}, __name__), 'w').close()\n"
               "except OSError:\n    pass\n")
    for name in LAUNCHER_MODULES:
        if name in ("builtins", "sys", "marshal", "posix", "_io", "_imp", "_thread", "_warnings", "_weakref"):
            continue  # built into the interpreter: never looked up on disk
        (folder / f"{name}.py").write_text(payload)
    package = folder / "autograder"
    package.mkdir(exist_ok=True)
    for module in ("__init__", "sandbox", "hidden", "wire"):
        (package / f"{module}.py").write_text(payload)


def _launch(argv, folder, env, seconds=20):
    """Run a kernel launcher command in folder until it has become bubblewrap (or ended)."""
    process = subprocess.Popen(argv, cwd=folder, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and process.poll() is None:
            command = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[0]
            if command.endswith((b"prlimit", b"bwrap")):
                break
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()


def test_files_in_the_submission_folder_are_never_imported_outside_the_sandbox(tmp_path):
    """The launcher runs as root before bubblewrap starts: `python -I` from a script path keeps
    the notebook's folder off sys.path, so a planted random.py or autograder/ package is inert.
    (Control: the launcher started as `python -m autograder.sandbox` imports them.)"""
    assert {"random", "json", "subprocess", "autograder"} <= set(LAUNCHER_MODULES)
    folder, job_dir = tmp_path / "notebook", tmp_path / "job"
    (job_dir / "check").mkdir(parents=True)
    folder.mkdir()
    env, job = sandbox.prepare(job_dir, check_dir=job_dir / "check")
    connection = job_dir / "connection.json"
    connection.write_text("{}")
    kernelspec = json.loads((Path(env["JUPYTER_PATH"]) / "kernels" / sandbox.KERNEL_NAME / "kernel.json").read_text())
    argv = [a.replace("{connection_file}", str(connection)) for a in kernelspec["argv"]]
    for name, command in (("kernelspec", argv), ("control", [sys.executable, "-m", "autograder.sandbox", str(connection)])):
        markers = tmp_path / f"markers-{name}"
        markers.mkdir()
        _plant_hostile_modules(folder, markers)
        _launch(command, folder, {**env, **kernelspec["env"]})
        planted = sorted(p.name for p in markers.iterdir())
        if name == "kernelspec":
            assert planted == [], f"imported from the submission folder outside the sandbox: {planted}"
        else:
            assert planted, "the control should import the planted modules (the test would prove nothing)"


def test_student_code_runs_unprivileged_in_its_own_folder(probe):
    assert sandbox.UID_RANGE[0] <= probe["uid"] < sandbox.UID_RANGE[1]
    assert int(probe["capabilities"], 16) == 0
    assert probe["cwd"].endswith("autograded/someone/normalization")


def test_student_code_cannot_read_the_course_the_reference_or_the_gradebook(probe):
    for key in ("read_reference", "read_source", "read_gradebook", "import_reference", "import_checks"):
        assert probe[key][0] == "refused", (key, probe[key])
    assert probe["list_course"][0] == "refused" or "autograder" not in probe["list_course"][1]


def test_student_code_cannot_use_a_deep_learning_library(probe):
    assert probe["import_torch"] == ["refused", "ImportError"]


def test_student_code_writes_only_a_small_private_tmp(probe):
    assert probe["write_cwd"][0] == "refused"
    assert probe["write_tmp"][0] == "ok"
    assert probe["fill_tmp"][0] == "refused"


def test_student_code_has_no_network_and_no_grader_secrets(probe):
    assert probe["tcp_to_host"][0] == "refused"
    assert probe["internet"][0] == "refused"
    assert probe["secret_env"] is None


def test_memory_and_processes_are_limited(probe):
    assert probe["allocate_8_gib"] == ["refused", "MemoryError"]
    assert probe["spawn_300"][0] == "refused"
    assert probe["spawned"] < sandbox.Limits().processes


def test_grading_refuses_when_the_sandbox_cannot_start(monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    ok, reason = sandbox.available()
    assert not ok and "not installed" in reason
