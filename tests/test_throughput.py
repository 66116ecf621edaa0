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
import threading
import warnings

import jsonschema
import nbformat
import nbgrader.api
import pytest
import sqlalchemy
from jupyter_client.manager import AsyncKernelManager

from autograder import audit, course, execute, job, records, release, reuse, workers

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
    reuse.share_engines()
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
    for index in range(reuse.SHARED_ENGINES):
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


def _record_by_objects(url, assignment_id, student):
    """A submission's record read the slow way: nbgrader's objects, one attribute at a time."""
    with nbgrader.api.Gradebook(url) as gb:
        submission = gb.find_submission(assignment_id, student)
        return {notebook.name: {"late_penalty": float(notebook.late_submission_penalty or 0.0),
                                "grades": {g.name: g.auto_score for g in notebook.grades},
                                "comments": {c.name: c.auto_comment for c in notebook.comments}}
                for notebook in submission.notebooks}


def _counting_statements(url, read):
    """(read(), the SQL statements it ran on the shared engine of url)."""
    statements = []

    def count(connection, cursor, statement, *args):
        statements.append(statement)

    engine = nbgrader.api.create_engine(url, echo=False, future=True)  # the shared engine (share_engines)
    sqlalchemy.event.listen(engine, "before_cursor_execute", count)
    try:
        return read(), statements
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", count)


def _gradebook_with_submission(tmp_path, student, grade_values, comment_values, late_penalty=None):
    """A gradebook (the course's template) holding one submission of student, its i-th grade and
    comment set by grade_values(i, grade) and comment_values(i, comment). Returns its URL."""
    reuse.share_engines()
    url = _template_copy(tmp_path, f"{student}.db")
    with nbgrader.api.Gradebook(url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", sqlalchemy.exc.SAWarning)  # nbgrader's own autoflush noise
        gb.add_student(student)
        submission = gb.add_submission(course.assignment().id, student)
        for index, grade in enumerate(submission.notebooks[0].grades):
            grade_values(index, grade)
        for index, comment in enumerate(submission.notebooks[0].comments):
            comment_values(index, comment)
        if late_penalty is not None:
            submission.notebooks[0].late_submission_penalty = late_penalty
        gb.db.commit()
    return url


def test_a_record_is_read_back_in_a_few_queries_and_says_what_nbgrader_objects_say(tmp_path):
    assignment = course.assignment()
    url = _gradebook_with_submission(
        tmp_path, "bob", lambda i, grade: setattr(grade, "auto_score", None if i % 3 == 0 else i / 2),
        lambda i, comment: setattr(comment, "auto_comment", f"comment {i}" if i % 2 else None), late_penalty=1.5)
    record, statements = _counting_statements(url, lambda: records.read_record(url, assignment.id, "bob"))
    expected, slow_statements = _counting_statements(url, lambda: _record_by_objects(url, assignment.id, "bob"))
    assert record["notebooks"] == expected
    grades = expected[assignment.notebooks[0]]["grades"]
    # at least one query fewer per cell than reading each grade's name through nbgrader's objects
    assert len(statements) + len(grades) <= len(slow_statements), (len(statements), len(slow_statements))
    comments = expected[assignment.notebooks[0]]["comments"]
    assert len(grades) > 10 and None in grades.values() and 2.5 in grades.values()
    assert None in comments.values() and "comment 1" in comments.values()
    assert expected[assignment.notebooks[0]]["late_penalty"] == 1.5


def test_a_thread_keeps_one_private_gradebook_path_fresh_for_each_job_and_removed_after_it():
    first = job.private_gradebook()
    (first.parent / "gradebook.db-journal").write_bytes(b"an earlier job's journal")
    first.write_bytes(b"an earlier job's gradebook")
    second = job.private_gradebook()
    assert second == first and list(second.parent.iterdir()) == []  # nothing of the earlier job is left
    other = []
    thread = threading.Thread(target=lambda: other.append(job.private_gradebook()))
    thread.start()
    thread.join()
    assert other[0] != first  # a second grading thread of the same process has its own
    shutil.rmtree(other[0].parent)
    assert not first.parent.is_relative_to(job.new_job_dir().parent / "x")  # outside every job (sandbox) folder
    job.grade(_failing_task("gone"))
    assert not first.parent.exists()


def test_the_kernel_manager_of_the_grading_run_sees_a_killed_kernel_end_without_a_long_wait(monkeypatch):
    assert isinstance(execute.CappedExecute().kernel_manager_class(), execute.GradingKernelManager)
    waits = []
    sleep = asyncio.sleep

    async def recorded(delay, *args, **kwargs):
        waits.append(delay)
        return await sleep(delay, *args, **kwargs)

    async def run():
        manager = execute.GradingKernelManager(kernel_name="python3")
        await manager.start_kernel()
        monkeypatch.setattr(asyncio, "sleep", recorded)
        await manager.shutdown_kernel(now=True)
        return await manager.is_alive()

    assert asyncio.run(run()) is False
    # jupyter_client would look every 0.1 s; it also pauses 0.01 s once a shutdown is done
    assert execute.GradingKernelManager.STOP_POLL in waits and max(waits) < 0.1, waits


def test_a_notebook_validated_once_is_still_refused_when_a_step_made_it_invalid(monkeypatch):
    from nbconvert.exporters import NotebookExporter
    from nbconvert.preprocessors import Preprocessor
    from traitlets.config import Config

    class Keeps(Preprocessor):
        def preprocess(self, nb, resources):
            return nb, resources

    class Breaks(Preprocessor):
        def preprocess(self, nb, resources):
            nb.cells[0]["cell_type"] = "not a cell type"
            return nb, resources

    validations = []
    validate = nbformat.validate
    monkeypatch.setattr(nbformat, "validate", lambda nb, **kw: validations.append(1) or validate(nb, **kw))
    config = Config()
    for dotted, value in job.VALIDATED_ONCE.items():
        section, key = dotted.rsplit(".", 1)
        config[section][key] = value
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])

    def exporter_with_steps(config, steps):
        exporter = NotebookExporter(config=config)
        for step in steps:
            exporter.register_preprocessor(step(enabled=True), enabled=True)
        return exporter

    def validations_with(settings, steps):
        validations.clear()
        exporter_with_steps(settings, [Keeps] * steps).from_notebook_node(notebook)
        return len(validations)

    # nbconvert's own way: once more for each step; validated once: the same count however many steps
    assert validations_with(Config(), 3) == validations_with(Config(), 1) + 2
    assert validations_with(config, 3) == validations_with(config, 1) < validations_with(Config(), 1)
    exporter = exporter_with_steps(config, [Keeps] * 3)
    exporter.register_preprocessor(Breaks(enabled=True), enabled=True)
    with pytest.raises(nbformat.ValidationError):
        exporter.from_notebook_node(notebook)


METADATA = {"grade": True, "grade_id": "test_x", "locked": True, "points": 2.0, "schema_version": 3,
            "solution": False, "task": False}
BROKEN_METADATA = [dict(METADATA, points="two"), dict(METADATA, grade_id=5), dict(METADATA, grade="yes"),
                   {k: v for k, v in METADATA.items() if k != "grade_id"}, dict(METADATA, locked=None)]


def test_nbgrader_checks_cell_metadata_as_before_with_its_schema_checked_once(monkeypatch):
    from nbgrader.nbgraderformat import common
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    def outcomes():
        found = []
        for metadata in [METADATA, *BROKEN_METADATA]:
            cell = nbformat.v4.new_code_cell("1", metadata={"nbgrader": dict(metadata)})
            try:
                MetadataValidatorV3().validate_cell(cell)
                found.append(None)
            except Exception as error:  # noqa: BLE001 - what is raised is what is compared
                found.append((type(error).__name__, getattr(error, "message", str(error)),
                              list(getattr(error, "path", []))))
        return found

    monkeypatch.setattr(common, "jsonschema", common.jsonschema)  # restored afterwards
    before = outcomes()
    checked = []
    check_schema = jsonschema.Draft4Validator.check_schema.__func__
    monkeypatch.setattr(jsonschema.Draft4Validator, "check_schema",
                        classmethod(lambda cls, schema, **kw: checked.append(1) or check_schema(cls, schema, **kw)))
    reuse.share_metadata_validators()
    assert outcomes() == before
    assert before[0] is None and all(before[1:])
    assert len(checked) == 1  # six cells, six validators, one schema check


def _manual_by_objects(url, assignment_id, student):
    """Hand-given grades read the slow way: nbgrader's objects, one attribute at a time."""
    found = {}
    with nbgrader.api.Gradebook(url) as gb:
        for notebook in gb.find_submission(assignment_id, student).notebooks:
            for grade in notebook.grades:
                if grade.manual_score is not None:
                    found[grade.name] = {"score": grade.manual_score, "comment": None}
            for comment in notebook.comments:
                if comment.manual_comment:
                    found.setdefault(comment.name, {"score": None})["comment"] = comment.manual_comment
    return found


def test_hand_given_grades_are_read_in_a_few_queries_and_say_what_nbgrader_objects_say(tmp_path):
    assignment = course.assignment()
    url = _gradebook_with_submission(
        tmp_path, "carol", lambda i, grade: setattr(grade, "manual_score", i / 4 if i % 2 else None),
        lambda i, comment: setattr(comment, "manual_comment", f"by hand {i}" if i % 3 else ""))
    assert records.manual_grades(url, assignment.id, "nobody") == {}  # no submission
    manual, statements = _counting_statements(url, lambda: records.manual_grades(url, assignment.id, "carol"))
    expected, slow_statements = _counting_statements(url, lambda: _manual_by_objects(url, assignment.id, "carol"))
    assert manual == expected
    assert any(v["score"] is None and v["comment"] for v in expected.values())
    assert any(v["score"] is not None and v["comment"] is None for v in expected.values())
    assert len(statements) + len(expected) <= len(slow_statements), (len(statements), len(slow_statements))


def _feedback_metadata(preprocessor_class, url, student):
    """{grade_id: the nbgrader metadata preprocessor_class gives it} over the released notebook."""
    from copy import deepcopy

    assignment = course.assignment()
    name = assignment.notebooks[0]
    notebook = deepcopy(nbformat.read(str(assignment.release_dir / f"{name}.ipynb"), as_version=4))
    resources = {"nbgrader": {"notebook": name, "assignment": assignment.id, "student": student, "db_url": url}}
    notebook, resources = preprocessor_class().preprocess(notebook, resources)
    cells = {c.metadata["nbgrader"]["grade_id"]: dict(c.metadata["nbgrader"]) for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("grade_id")}
    return cells, {k: resources["nbgrader"][k] for k in ("score", "max_score", "late_penalty")}


def test_feedback_reads_grades_and_comments_in_a_few_queries_and_shows_what_nbgrader_shows(tmp_path):
    from nbgrader.preprocessors import GetGrades

    from autograder import feedback

    def grade_values(i, grade):
        grade.auto_score = None if i % 3 == 0 else i / 2
        grade.manual_score = i / 4 if i % 4 == 1 else None
        grade.extra_credit = 0.5 if i == 5 else None

    url = _gradebook_with_submission(tmp_path, "dora", grade_values,
                                     lambda i, comment: setattr(comment, "manual_comment", f"by hand {i}" if i % 2 else None))
    (ours, totals), statements = _counting_statements(url, lambda: _feedback_metadata(feedback.GradesWithPending, url,
                                                                                      "dora"))
    (theirs, their_totals), slow_statements = _counting_statements(url, lambda: _feedback_metadata(GetGrades, url,
                                                                                                  "dora"))
    with nbgrader.api.Gradebook(url) as gb:
        notebook = gb.find_submission_notebook(course.assignment().notebooks[0], course.assignment().id, "dora")
        pending = {g.name: g.manual_score is None and g.auto_score is None for g in notebook.grades}
    assert totals == their_totals
    assert set(ours) == set(theirs) and len(ours) > 10
    for grade_id, meta in theirs.items():
        for key in ("score", "points", "comment"):
            assert ours[grade_id].get(key) == meta.get(key), (grade_id, key)
        if grade_id in pending:
            assert ours[grade_id]["pending"] == pending[grade_id]
            assert ours[grade_id]["part"] == feedback.part_of(grade_id)
    assert any(pending.values()) and not all(pending.values())
    assert any(meta.get("comment") for meta in theirs.values())
    assert len(statements) + len(pending) <= len(slow_statements), (len(statements), len(slow_statements))


def test_feedback_renders_a_repeated_markdown_cell_once_however_many_job_folders(tmp_path):
    from nbconvert.exporters import HTMLExporter

    from autograder import feedback

    exporter = HTMLExporter()
    calls = []
    original = exporter.markdown2html

    def counting(context, source):
        calls.append(source)
        return original(context, source)

    exporter.markdown2html = counting
    markdown2html = feedback._remembering_filters(exporter)["markdown2html"]
    pages = [markdown2html({"cell": {}, "resources": {"metadata": {"path": str(tmp_path / f"job-{i}")}}}, "# Title\n\n*x*")
             for i in range(3)]
    assert len(set(pages)) == 1 and "<em>x</em>" in pages[0] and len(calls) == 1
    exporter.embed_images = True  # then the folder decides which image a link embeds
    for i in range(2):
        markdown2html({"cell": {}, "resources": {"metadata": {"path": str(tmp_path / f"job-{i}")}}}, "# Title")
    assert len(calls) == 3


def test_opening_a_gradebook_checks_its_tables_in_one_query_and_still_creates_missing_ones(tmp_path, monkeypatch):
    metadata = nbgrader.api.Base.metadata
    monkeypatch.setattr(metadata, "create_all", metadata.create_all)  # restored afterwards
    reuse.share_engines()
    url = _template_copy(tmp_path, "complete.db")
    _, before = _counting_statements(url, lambda: nbgrader.api.Gradebook(url).close())
    reuse.check_tables_at_once()
    _, after = _counting_statements(url, lambda: nbgrader.api.Gradebook(url).close())
    assert len(after) + len(metadata.tables) - 3 <= len(before), (len(after), len(before))

    emptied = _template_copy(tmp_path, "missing.db")
    engine = sqlalchemy.create_engine(emptied)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE comment"))
    engine.dispose()
    nbgrader.api.Gradebook(emptied).close()
    for gradebook in (url, emptied):
        engine = sqlalchemy.create_engine(gradebook)
        try:
            assert set(metadata.tables) <= set(sqlalchemy.inspect(engine).get_table_names())
        finally:
            engine.dispose()
    with nbgrader.api.Gradebook(emptied) as gb:  # and it works
        gb.add_student("erin")
        assert [s.id for s in gb.students] == ["erin"]


def test_only_a_jobs_private_gradebook_skips_syncing_to_disk_and_still_keeps_what_was_written(tmp_path):
    reuse.share_engines()
    private, course_book = _template_copy(tmp_path, "private.db"), _template_copy(tmp_path, "course.db")
    reuse.throwaway(private)

    def pragmas(url):
        with nbgrader.api.Gradebook(url) as gb:
            gb.add_student("fay")
            gb.db.commit()
            return (gb.db.execute(sqlalchemy.text("PRAGMA synchronous")).scalar(),
                    gb.db.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar())

    assert pragmas(private) == (0, "memory")
    assert pragmas(course_book) == (2, "delete")  # SQLite's defaults: full sync, a journal file
    for url in (private, course_book):
        with nbgrader.api.Gradebook(url) as gb:
            assert [s.id for s in gb.students] == ["fay"]
