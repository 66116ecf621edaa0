"""nbgrader configuration of the normlab course (nbgrader 0.9.6).

Values that describe the assignment (per-cell time limit, points, seeds) come from the
manifest in assignments/, read through autograder.course.

This file never raises: Jupyter ignores a config file that fails, and formgrader would then
render submissions without the sanitiser below. What needs the course's own code is guarded,
and a problem with it is printed instead.
"""
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (provided by nbgrader)

# Formgrader and generate_feedback render submissions with nbconvert's HTMLExporter, whose
# nbgrader templates pass student HTML through: no student HTML or JavaScript may run there
# (autograder/sanitize.py). sanitize_html alone misses markdown cells in these templates.
# Set first, and by name: should the course's code fail to import, rendering fails closed.
c.HTMLExporter.preprocessors = ["autograder.sanitize.SanitizeNotebook"]
c.HTMLExporter.sanitize_html = True

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
os.environ["NORMLAB_COURSE_ROOT"] = str(HERE)  # this file's folder is the course

c.CourseDirectory.course_id = "normlab"
c.CourseDirectory.root = str(HERE)
# The gradebook: SQLite beside the course, or the database NORMLAB_DB_URL names (make grade
# DB_URL=..., make lab DB_URL=..., nbgrader export: all read it here).
c.CourseDirectory.db_url = os.environ.get("NORMLAB_DB_URL") or f"sqlite:///{HERE / 'gradebook.db'}"

# Students see `# YOUR CODE HERE` and a `pass`; the scaffold pre-sets outputs to None so an
# untouched stub fails its check loudly ("out is None: ... not written yet").
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\npass"}

# Autograding: the per-cell time limit is the manifest's; a deleted test cell comes back;
# a cell's output is capped, and under `make grade` test cells show the grader's own
# verdicts (autograder.execute).
c.Execute.timeout = 30
try:
    from autograder import course

    c.Execute.timeout = course.assignment().cell_timeout
except Exception as error:  # noqa: BLE001  (reported, never raised: see the docstring)
    print(f"normlab: nbgrader_config.py could not read the assignment manifest ({error!r}); "
          "using a 30 s cell time limit", file=sys.stderr)
c.OverwriteCells.add_missing_cells = True
# nbgrader's list, without its final CheckCellMetadata: nbgrader's sanitize pass has just checked
# the same metadata (of a notebook rebuilt from the release), and running cells changes only outputs.
c.Autograde.autograde_preprocessors = [
    "autograder.execute.CappedExecute",
    "autograder.execute.GraderVerdicts",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
]

# Feedback reads like a report: every part named, "not graded yet" for parts graded by hand
# that no one has graded, no hidden test source, no mark scheme, no grader paths; afterwards
# each feedback folder holds only the page and results.json, and results.json and grades.csv
# are rewritten from the gradebook (autograder.feedback explains).
c.GenerateFeedback.preprocessors = [
    "autograder.feedback.GradesWithPending",
    "autograder.feedback.HideGraderInternals",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.GenerateFeedback.post_convert_hook = "autograder.feedback.tidy"
c.GenerateFeedback.exporter_class = "autograder.feedback.FeedbackExporter"
