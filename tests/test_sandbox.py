"""The sandboxed grading kernel: what student code can and cannot reach (the threat model)."""
import json
import os
import socket
import sys
import textwrap

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
