"""Run a notebook cell in the grading sandbox and print what it could reach, as JSON.

    python tests/sandbox_probe.py FOLDER REPO

Used by tests/test_sandbox.py, as root and as a normal user (this script runs as either). FOLDER
is a fresh folder the user owns; REPO is the course whose files the cell must not read.
"""
import json
import os
import socket
import sys
import textwrap
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

from autograder import execute, sandbox

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
    report["import_debugpy"] = attempt(lambda: __import__("debugpy"))
    report["debugger_loaded"] = any(name.split(".")[0] in ("debugpy", "_pydevd_bundle") for name in sys.modules)
    shell = get_ipython()  # noqa: F821 - the probe runs as a notebook cell
    report["history_saved"] = bool(shell.history_manager.enabled)
    report["inputs_kept"] = len(shell.user_ns.get("In", [])) > 1
    report["write_cwd"] = attempt(lambda: open("written.txt", "w").write("x"))
    report["write_tmp"] = attempt(lambda: open("/tmp/small.txt", "w").write("x" * 1000))
    report["fill_tmp"] = attempt(lambda: open("/tmp/big.bin", "wb").write(b"x" * (300 * 2**20)))
    import ipykernel
    runtime = os.path.dirname(ipykernel.get_connection_file())
    report["write_runtime"] = attempt(lambda: open(os.path.join(runtime, "fill.bin"), "wb").write(b"x"))
    report["mkdir_runtime"] = attempt(lambda: os.mkdir(os.path.join(runtime, "more")))
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


def main(folder, repo):
    root = Path(folder)
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
    source = (PROBE.replace("REPO", repr(str(repo))).replace("SECRET_FILE", repr(str(secret)))
              .replace("HOST_PORT", str(listener.getsockname()[1])))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = f"{job.runtime_dir}/kernel"
    try:
        NotebookClient(notebook, timeout=120, kernel_name=sandbox.KERNEL_NAME, config=config,
                       kernel_manager_class=execute.GradingKernelManager,
                       resources={"metadata": {"path": str(notebook_dir)}}).execute()
    finally:
        listener.close()
    text = "".join(o.get("text", "") for o in notebook.cells[0].outputs if o.output_type == "stream")
    errors = [o for o in notebook.cells[0].outputs if o.output_type == "error"]
    report = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
    report["errors"] = [f"{e.ename}: {e.evalue}" for e in errors]
    report["mode"] = job.mode
    report["job_uid"] = job.uid
    # what the kernel's control groups saw: the most memory the whole submission held at once
    peaks = [Path(group) / name for group in job.cgroups for name in ("memory.max_usage_in_bytes", "memory.peak")]
    report["cgroup_peak_bytes"] = max((int(p.read_text()) for p in peaks if p.exists()), default=None)
    sandbox.release(job_dir)
    report["cgroups_left"] = [group for group in job.cgroups if Path(group).exists()]
    print("PROBE", json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
