"""Feedback for students without the grader's internals.

nbgrader's feedback shows test cells as the gradebook stores them, hidden tests
included, and error tracebacks quote the code that raised. This preprocessor, run by
`nbgrader generate_feedback` (see nbgrader_config.py), removes both: the hidden-test
region of every test cell and the tracebacks of test-cell errors (the error's name and
message stay).
"""
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def without_hidden_tests(source):
    """The source with every BEGIN/END HIDDEN TESTS region (markers included) removed."""
    kept, hidden = [], False
    for line in source.split("\n"):
        if BEGIN in line:
            hidden = True
        elif END in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


class HideGraderInternals(NbGraderPreprocessor):
    """Remove hidden-test source and test-cell tracebacks from feedback notebooks."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            cell.source = without_hidden_tests(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
