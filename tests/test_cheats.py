"""Shortcuts that must earn nothing (issue 10), graded in this process: autograder/corpus/cheats/.

Numerical differentiation that evaluates the notebook's forward functions at inputs the grader never
gave them (forward, central and fourth-order differences; one element, row or column at a time, or
along dout) is seen by the forward-call watch; differencing one row or column at a time through a
private copy of the forward runs out of CPU time on the large batch; a closed
form that delegates to the graph version, or steps through the graph again, is withheld. Each
entry names in EXPECT the parts it must lose, and loses all their points with a message that says
why. Entries with a LIMIT are shortcuts the grader cannot tell from honest work: they keep full
marks (if this changes, move them out of LIMIT) and the README names them. The honest controls,
Python loops over rows and over features included, are the valid/ entries of test_corpus_local.
"""
import functools

import nbformat
import pytest

from autograder import audit, corpus, course

ASSIGNMENT = course.assignment()
README = (course.ROOT / "README.md").read_text()
CHEATS = {entry.name: entry for entry in corpus.load("cheats")}
# why a lost part lost its points, in the student's words
REASONS = ("numerical", "calls batchnorm_backward", "repeats the computation", "differentiates")


@functools.lru_cache(maxsize=None)
def _grade(name):
    return corpus.grade_locally(CHEATS[name])


def _params(limit):
    return [pytest.param(name, id=name) for name, entry in CHEATS.items() if bool(entry.limit) == limit]


def test_the_cheats_cover_the_differencing_variants_of_the_issue():
    expected = {"fd_forward_elementwise", "central_elementwise_tiny_step", "central_rowwise",
                "fourth_order_rowwise", "fd_rowwise_batched", "central_rowwise_batched",
                "directional_central", "complex_step", "alt_delegates", "alt_copies_graph",
                "private_forward_rowwise"}
    assert expected <= set(CHEATS)


@pytest.mark.parametrize("name", _params(limit=False))
def test_a_cheat_earns_nothing_for_the_parts_it_cheats_on(name):
    entry, verdicts = CHEATS[name], _grade(name)
    losing = [part for part in entry.expect if entry.expectation(part) == "loses"]
    assert losing, f"{name} names no part it must lose"
    for part in losing:
        verdict = verdicts[part]
        assert verdict.score == 0, f"{name}: {part} scored {verdict.score:g}/{verdict.points:g}\n{verdict.report()}"
        report = verdict.report()
        assert any(reason in report for reason in REASONS), f"{name}: {part} does not say why:\n{report}"


@pytest.mark.parametrize("name", _params(limit=False))
def test_a_cheat_keeps_the_points_of_its_honest_parts(name):
    entry, verdicts = CHEATS[name], _grade(name)
    for part, verdict in verdicts.items():
        if entry.expectation(part) != "loses":
            assert verdict.score == verdict.points, f"{name}: {part}\n{verdict.report()}"


@pytest.mark.parametrize("name", _params(limit=True))
def test_a_known_limit_keeps_full_marks_and_the_readme_names_it(name):
    verdicts = _grade(name)
    assert all(v.score == v.points for v in verdicts.values()), \
        f"{name} no longer keeps full marks: the grader now catches it; drop its LIMIT and expect the loss"
    assert f"cheats/{name}.py" in README, f"the README's threat model does not name {name}"


@pytest.mark.parametrize("name", ["complex_step", "directional_long_double"])
def test_complex_step_and_extended_precision_are_flagged_by_the_audit(name, tmp_path):
    path = tmp_path / "normalization.ipynb"
    nbformat.write(corpus.notebook(CHEATS[name]), str(path))
    findings = audit.audit_notebook(path)
    assert any("complex" in f or "extended precision" in f for f in findings), findings


@pytest.mark.parametrize("name", ["loop_over_examples", "staged_graph", "recompute_in_backward"])
def test_honest_entries_are_not_flagged_by_the_numerical_rules(name, tmp_path):
    path = tmp_path / "normalization.ipynb"
    nbformat.write(corpus.notebook(corpus.load("valid", [name])[0]), str(path))
    assert not [f for f in audit.audit_notebook(path) if "complex" in f or "precision" in f]
