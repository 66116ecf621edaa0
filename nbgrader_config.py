"""nbgrader configuration of the normlab course (nbgrader 0.9.6).

Values that describe the assignment (per-cell time limit, points, seeds) come from the
manifest in assignments/, read through autograder.course.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
os.environ["NORMLAB_COURSE_ROOT"] = str(HERE)  # this file's folder is the course

from autograder import course  # noqa: E402

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = course.COURSE_ID
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.db_url = f"sqlite:///{HERE / 'gradebook.db'}"

# Students see `# YOUR CODE HERE` and a `pass`; the scaffold pre-sets outputs to None so an
# untouched stub fails its check loudly ("out is None: ... not written yet").
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\npass"}

# Autograding: the per-cell time limit is the manifest's; a deleted test cell comes back;
# a cell's output is capped, and under `make grade` test cells show the grader's own
# verdicts (autograder.execute).
c.Execute.timeout = course.assignment().cell_timeout
c.OverwriteCells.add_missing_cells = True
c.Autograde.autograde_preprocessors = [
    "autograder.execute.CappedExecute",
    "autograder.execute.GraderVerdicts",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Feedback shows no hidden test source and no mark scheme (autograder.feedback explains).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.feedback.HideGraderInternals",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
