"""autograder.rebuild: an honest student's answers survive damaged notebook files.

Fast: no nbgrader, no kernels. The damage comes from autograder.corpus.fuzz.
"""
import json
from functools import cache

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import corpus, course
from autograder.corpus import fuzz, hostile
from autograder.rebuild import UnreadableNotebook, defined_names, read_cells, rebuild, rebuild_file

STRUCTURAL = [op for op in fuzz.OPERATORS if op.structural]
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(FAST, max_examples=40)


@cache
def release():
    assignment = course.assignment()
    return nbformat.read(str(assignment.release_dir / f"{assignment.notebooks[0]}.ipynb"), as_version=4)


@cache
def perfect_bytes():
    return nbformat.writes(corpus.notebook(hostile.PERFECT)).encode()


def answers(notebook):
    """{grade_id: source} of the answer cells."""
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


@cache
def perfect_answers():
    return answers(nbformat.reads(perfect_bytes().decode(), as_version=4))


def perfect_json():
    return json.loads(perfect_bytes())


def rebuilt(notebook_dict):
    return rebuild_file(json.dumps(notebook_dict).encode(), release())


def index_of(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def assert_gradable(notebook):
    """Valid nbformat 4, writable as UTF-8 (no surrogates), with unique cell ids."""
    nbformat.validate(notebook)
    json.dumps(notebook, ensure_ascii=False).encode("utf-8")
    ids = [c.id for c in notebook.cells]
    assert len(set(ids)) == len(ids)


# --- clean submissions


def test_perfect_submission_is_rebuilt_unchanged_without_notes():
    notebook, notes = rebuild_file(perfect_bytes(), release())
    expected = nbformat.reads(perfect_bytes().decode(), as_version=4)
    assert [c.source for c in notebook.cells] == [c.source for c in expected.cells]
    assert notes.all() == [] and not notes.damaged
    assert_gradable(notebook)


def test_blank_release_stays_blank():
    data = nbformat.writes(release()).encode()
    notebook, notes = rebuild_file(data, release())
    assert [c.source for c in notebook.cells] == [c.source for c in release().cells]
    assert notes.all() == []


def test_extra_helper_cell_before_an_answer_stays_before_it():
    notebook = perfect_json()
    helper = nbformat.v4.new_code_cell("def centred(x):\n    return x - x.mean(axis=0)")
    notebook["cells"].insert(index_of(nbformat.from_dict(notebook), "batchnorm_forward"), helper)
    result, notes = rebuilt(notebook)
    at = index_of(result, "batchnorm_forward")
    assert result.cells[at - 1].source == helper.source
    assert answers(result) == perfect_answers()
    assert not notes.damaged
    assert_gradable(result)


def test_extra_cells_at_the_end_are_kept_without_repair():
    notebook = perfect_json()
    notebook["cells"] += [nbformat.v4.new_markdown_cell("My notes."), nbformat.v4.new_code_cell("print(1)")]
    result, notes = rebuilt(notebook)
    assert [c.source for c in result.cells[-2:]] == ["My notes.", "print(1)"]
    assert notes.all() == []


def test_edited_plain_cell_is_kept_right_after_the_release_version():
    notebook = perfect_json()
    seed_cell = next(c for c in notebook["cells"] if "EXPERIMENT_SEED = 0" in "".join(c["source"]))
    seed_cell["source"] = "EXPERIMENT_SEED = 1"
    result, notes = rebuilt(notebook)
    at = next(i for i, c in enumerate(result.cells) if c.source.startswith("EXPERIMENT_SEED = 0"))
    assert result.cells[at + 1].source == "EXPERIMENT_SEED = 1"
    assert not notes.damaged


def test_deleted_answer_is_a_remark_not_a_repair():
    notebook = perfect_json()
    del notebook["cells"][index_of(nbformat.from_dict(notebook), "layernorm_backward")]
    result, notes = rebuilt(notebook)
    assert "no cell defines layernorm_backward: its answer stays empty" in notes.remarks
    assert answers(result)["layernorm_backward"] == answers(release())["layernorm_backward"]
    assert not notes.damaged


# --- damage


@pytest.mark.parametrize("operator", STRUCTURAL, ids=lambda op: op.name)
@pytest.mark.parametrize("seed", range(3))
def test_each_structural_operator_keeps_every_answer(operator, seed):
    notebook, notes = rebuild_file(fuzz.apply(perfect_bytes(), [operator.name], seed), release())
    assert answers(notebook) == perfect_answers()
    assert notes.damaged == operator.damage, notes
    assert_gradable(notebook)


def test_random_structural_combinations_keep_every_answer_and_add_no_cells():
    for mutation in fuzz.mutations(2024, perfect_bytes(), 320, structural=True):
        notebook, notes = rebuild_file(mutation.data, release())
        assert answers(notebook) == perfect_answers(), mutation.name
        assert notes.damaged == any(fuzz.BY_NAME[n].damage for n in mutation.operators), mutation.name
        if "odd_source" not in mutation.operators:   # a number in a plain cell is kept as the student's cell
            assert len(notebook.cells) == len(release().cells), mutation.name
        assert_gradable(notebook)


def test_random_structural_combinations_keep_the_blank_release_blank():
    blank = nbformat.writes(release()).encode()
    for mutation in fuzz.mutations(5, blank, 60, structural=True):
        notebook, _ = rebuild_file(mutation.data, release())
        assert answers(notebook) == answers(release()), mutation.name


def test_content_mutations_still_rebuild_a_gradable_notebook():
    for mutation in fuzz.mutations(7, perfect_bytes(), 80, structural=False):
        assert not mutation.structural
        notebook, _ = rebuild_file(mutation.data, release())
        assert_gradable(notebook)


def test_cells_out_of_order_are_put_back_in_release_order_and_noted():
    notebook = perfect_json()
    cells = notebook["cells"]
    cells.append(cells.pop(index_of(nbformat.from_dict(notebook), "batchnorm_forward")))
    cells[0], cells[2] = cells[2], cells[0]
    result, notes = rebuilt(notebook)
    expected = nbformat.reads(perfect_bytes().decode(), as_version=4)
    assert [c.source for c in result.cells] == [c.source for c in expected.cells]
    assert "cells were out of order: graded in the release's order" in notes.repairs


def test_stripped_metadata_and_ids_find_answers_by_name_and_position():
    notebook = perfect_json()
    for cell in notebook["cells"]:
        cell["metadata"] = {}
        del cell["id"]
    notebook["nbformat_minor"] = 4
    result, notes = rebuilt(notebook)
    assert answers(result) == perfect_answers()
    graded_cells = sum(1 for c in release().cells if "nbgrader" in c.metadata)
    assert notes.repairs == [f"the nbgrader metadata of {graded_cells} cells was damaged and rebuilt from the release"]


def test_copied_answer_cell_grades_the_original_and_keeps_the_copy_after_it():
    notebook = perfect_json()
    at = index_of(nbformat.from_dict(notebook), "batchnorm_forward")
    copy = json.loads(json.dumps(notebook["cells"][at]))
    copy["id"], copy["source"] = "pasted", "def batchnorm_forward(x, gamma, beta, bn_param):\n    pass\n"
    notebook["cells"].insert(at + 1, copy)
    result, notes = rebuilt(notebook)
    assert answers(result) == perfect_answers()
    assert result.cells[index_of(result, "batchnorm_forward") + 1].source == copy["source"]
    assert notes.damaged   # nbgrader itself rejects two cells with one grade_id


def test_lone_surrogates_in_an_answer_are_replaced_and_noted():
    text = perfect_bytes().decode().replace("# the option most analogous", "# the \\ud800 option", 1)
    notebook, notes = rebuild_file(text.encode(), release())
    assert "\ufffd" in "".join(answers(notebook).values())
    assert any("lone surrogate" in note for note in notes.repairs)
    assert_gradable(notebook)


def test_missing_written_answer_grade_id_is_found_right_after_its_question():
    notebook = perfect_json()
    at = index_of(nbformat.from_dict(notebook), "preprocessing_justification")
    notebook["cells"][at]["metadata"] = {}
    notebook["cells"][at]["id"] = "renamed"
    result, _ = rebuilt(notebook)
    assert answers(result) == perfect_answers()


def test_pictures_attached_to_a_written_answer_are_kept_and_other_attachments_dropped():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    notebook = perfect_json()
    at = index_of(nbformat.from_dict(notebook), "preprocessing_justification")
    notebook["cells"][at]["source"] = "My sketch: ![sketch](attachment:sketch.png)"
    notebook["cells"][at]["attachments"] = {"sketch.png": {"image/png": png},
                                            "evil.svg": {"image/svg+xml": "<svg onload=alert(1)/>"}}
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "![more](attachment:more.png)",
                              "attachments": {"more.png": {"image/png": png, "text/html": "<script>"}}})
    result, _ = rebuilt(notebook)
    answer = result.cells[index_of(result, "preprocessing_justification")]
    assert answer.attachments == {"sketch.png": {"image/png": png}}
    assert result.cells[-1].attachments == {"more.png": {"image/png": png}}
    assert_gradable(result)


def test_rebuilding_is_deterministic():
    data = fuzz.apply(perfect_bytes(), ["nbgrader_stripped", "duplicate_cell", "utf16"], seed=3)
    first, second = (nbformat.writes(rebuild_file(data, release())[0]) for _ in range(2))
    assert first == second


# --- unreadable input


@pytest.mark.parametrize("data", [b"", b"  \n", b"not json", b"\x00\xff\xfe\x01", b"[1, 2]", b'"cells"',
                                  b'{"a": 1}', b'{"cells": []}', b'{"cells": 5}', b'{"cells": [1, null]}',
                                  b"[" * 100000, b'{"worksheets": [{"cells": []}]}'])
def test_garbage_bytes_raise_unreadable_notebook_with_a_plain_sentence(data):
    with pytest.raises(UnreadableNotebook) as error:
        read_cells(data)
    message = str(error.value)
    assert message[0].isupper() and message.endswith(".") and len(message) < 100


def check_never_crashes(data):
    """Rebuilding data either raises UnreadableNotebook or gives a gradable notebook."""
    try:
        notebook, notes = rebuild_file(data, release())
    except UnreadableNotebook:
        return
    assert_gradable(notebook)
    assert all(isinstance(note, str) for note in notes.all())


@FAST
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_nothing_but_unreadable_notebook(data):
    check_never_crashes(data)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)
CELL_KEYS = ("cell_type", "source", "metadata", "id", "outputs", "execution_count", "attachments", "input")
ODD_CELL = st.dictionaries(st.sampled_from(CELL_KEYS), JSON | st.sampled_from(["code", "markdown", "raw"]))
GRADE_IDS = st.sampled_from(["batchnorm_forward", "setup", "preprocessing_justification"])
ODD_NBGRADER = st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"nbgrader": st.dictionaries(
    st.sampled_from(["grade_id", "solution", "locked", "grade", "points"]), JSON | GRADE_IDS)})})


@FAST
@given(JSON)
def test_arbitrary_json_raises_nothing_but_unreadable_notebook(value):
    check_never_crashes(json.dumps(value).encode())


@FAST
@given(st.lists(ODD_CELL | ODD_NBGRADER | JSON, max_size=8), JSON, JSON)
def test_arbitrary_cells_rebuild_a_gradable_notebook(cells, version, metadata):
    data = json.dumps({"cells": cells, "nbformat": version, "nbformat_minor": 5, "metadata": metadata})
    check_never_crashes(data.encode("utf-16"))


CELLS = len(release().cells)


@FEWER
@given(st.lists(st.integers(0, CELLS - 1), max_size=80))
def test_cells_dropped_or_repeated_in_any_order_rebuild_a_gradable_notebook(order):
    notebook = perfect_json()
    notebook["cells"] = [notebook["cells"][k] for k in order]
    check_never_crashes(json.dumps(notebook).encode())


@FEWER
@given(st.permutations(range(CELLS)))
def test_shuffled_cells_keep_every_answer(order):
    notebook = perfect_json()
    notebook["cells"] = [notebook["cells"][k] for k in order]
    result, notes = rebuilt(notebook)
    assert answers(result) == perfect_answers()
    assert notes.damaged == (list(order) != sorted(order))


# --- helpers


def test_defined_names_reads_functions_assignments_and_cells_that_do_not_parse():
    assert defined_names("def f():\n    pass\nx = 1\na, b = 2, 3\nc: int = 4\nd += 1") == {"f", "x", "a", "b", "c", "d"}
    assert defined_names("%%time\ndef batchnorm_forward(x):\n    return x\nbn_analogy = 3") == \
        {"batchnorm_forward", "bn_analogy"}
    assert defined_names("if x == 1:\n    y = 2") == set()


def test_read_cells_accepts_format_3_with_input_and_headings():
    data = json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": [
        {"cell_type": "heading", "level": 2, "source": "Title"},
        {"cell_type": "code", "input": ["x = 1\n", "y = 2"], "outputs": []}]}]}).encode()
    cells, notes = read_cells(data)
    assert [(c["cell_type"], c["source"]) for c in cells] == [("markdown", "## Title"), ("code", "x = 1\ny = 2")]
    assert notes == ["the notebook was in the old format 3 and was converted"]


def test_rebuild_accepts_cells_straight_from_read_cells():
    cells, notes = read_cells(perfect_bytes())
    notebook, more = rebuild(cells, release())
    assert notes == [] and answers(notebook) == perfect_answers() and more.all() == []
