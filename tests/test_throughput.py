"""What makes grading fast must not change what grading does.

Each shortcut of autograder's grading processes (README, Benchmarks) is checked here for the
behaviour it must keep: one BLAS thread, a kernel client that is ready without an idle wait but
loses no output, a worker handed its next submission before the last one is recorded, one
database engine per gradebook URL that never serves a replaced file, and parsed cells shared
between audits without being changed.
"""
import ast
import asyncio
import json
import shutil
import subprocess
import sys

import nbformat
import nbgrader.api
import pytest
from jupyter_client.manager import AsyncKernelManager

from autograder import audit, course, execute, records, release, workers

REPO = course.ROOT


def test_grading_processes_use_one_blas_thread():
    code = ("from autograder import workers; workers.prepare_process(); "
            "from threadpoolctl import threadpool_info; import json; "
            "print(json.dumps([(i['user_api'], i['num_threads']) for i in threadpool_info()]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    pools = json.loads(result.stdout.splitlines()[-1])
    blas = [threads for api, threads in pools if api == "blas"]
    assert blas and all(threads == 1 for threads in blas), pools


def _client_run(steps):
    """Start a plain ipykernel with ReadyKernelClient and run steps(manager, client)."""
    async def run():
        manager = AsyncKernelManager(kernel_name="python3")
        await manager.start_kernel()
        manager.client_class = "autograder.execute.ReadyKernelClient"
        client = manager.client()
        client.start_channels()
        try:
            return await steps(manager, client)
        finally:
            client.stop_channels()
            if await manager.is_alive():
                await manager.shutdown_kernel(now=True)
    return asyncio.run(run())


def test_the_ready_kernel_client_loses_no_output_of_the_first_cell():
    async def steps(manager, client):
        assert isinstance(client, execute.ReadyKernelClient)
        await client.wait_for_ready(timeout=60)
        request = client.execute("print('first output')")
        texts = []
        while True:
            message = await client.get_iopub_msg(timeout=30)
            if message["parent_header"].get("msg_id") != request:
                continue
            if message["msg_type"] == "stream":
                texts.append(message["content"]["text"])
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return texts
    assert _client_run(steps) == ["first output\n"]


def test_the_ready_kernel_client_reports_a_kernel_that_died():
    async def steps(manager, client):
        await manager.shutdown_kernel(now=True)
        with pytest.raises(RuntimeError, match="died"):
            await client.wait_for_ready(timeout=30)
        return True
    assert _client_run(steps)


def _failing_task(student):
    return {"student": student, "assignment": course.DEFAULT_ASSIGNMENT, "notebook": b"not a notebook",
            "seeds": {}, "timestamp": None, "sandboxed": False, "manual": {}}


def test_a_worker_starts_its_next_submission_before_the_last_is_recorded():
    pool = workers.LocalPool(1, job_timeout=120)
    seen = []

    def on_outcome(outcome):
        current = pool.slots[0]["task"]
        seen.append((outcome["student"], current["student"] if current else None))

    try:
        pool.run([_failing_task("first"), _failing_task("second")], on_outcome)
    finally:
        pool.close()
    assert seen == [("first", "second"), ("second", None)]


def _template_copy(tmp_path, name):
    path = tmp_path / name
    shutil.copyfile(release.gradebook_template(course.assignment()), path)
    return f"sqlite:///{path}"


def test_gradebooks_share_one_engine_per_url_and_never_a_replaced_file(tmp_path, monkeypatch):
    monkeypatch.setattr(nbgrader.api, "create_engine", nbgrader.api.create_engine)  # restored afterwards
    records.share_engines()
    url = _template_copy(tmp_path, "job.db")
    with nbgrader.api.Gradebook(url) as first:
        first.add_student("alice")
        engine = first.engine
    with nbgrader.api.Gradebook(url) as second:
        assert second.engine is engine
        assert [s.id for s in second.students] == ["alice"]
    _template_copy(tmp_path, "job.db")  # a new file at the same path (as a new job's copy would be)
    with nbgrader.api.Gradebook(url) as third:
        assert third.engine is engine
        assert third.students == []
    for index in range(records.SHARED_ENGINES):
        with nbgrader.api.Gradebook(_template_copy(tmp_path, f"other-{index}.db")):
            pass
    with nbgrader.api.Gradebook(url) as fourth:
        assert fourth.engine is not engine  # the least recently used engine was let go


def test_parsed_cells_are_shared_between_audits_and_left_unchanged():
    assignment = course.assignment()
    name = f"{assignment.notebooks[0]}.ipynb"
    released = nbformat.read(str(assignment.release_dir / name), as_version=4)
    solved = nbformat.read(str(assignment.source_dir / name), as_version=4)
    sources = [cell.source for cell in solved.cells if cell.cell_type == "code"]
    before = [ast.dump(audit._parse(source)) for source in sources]

    def audited():
        return ([audit.audit_source(source, "cell") for source in sources],
                audit.closed_form_problem(solved, released), audit.closed_form_problem(released, released))

    assert audited() == audited()
    assert [ast.dump(audit._parse(source)) for source in sources] == before
    assert audit._parse(sources[-1]) is audit._parse(sources[-1])


def test_grading_processes_do_not_compile_rfc3987_grammars_and_still_validate_notebooks():
    code = ("import autograder, sys, nbformat; from nbformat.validator import get_validator; "
            "nb = nbformat.read(sys.argv[1], as_version=4); nbformat.validate(nb); "
            "get_validator(4, 5, name='jsonschema').validate(nb); "
            "print(sys.modules.get('rfc3987_syntax', 'absent'))")
    notebook = course.assignment().release_dir / f"{course.assignment().notebooks[0]}.ipynb"
    result = subprocess.run([sys.executable, "-c", code, str(notebook)], cwd=REPO, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split()[-1] == "None"
