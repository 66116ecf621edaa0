"""Feedback for students: a report of every part, without the grader's internals.

Run by `nbgrader generate_feedback` (nbgrader_config.py), whether `make grade` runs it or an
instructor does after grading by hand:

- GradesWithPending: nbgrader's GetGrades, and marks parts graded by hand that no one has
  graded yet, so they read "not graded yet" instead of a score of 0
- HideGraderInternals: removes the hidden-test source of test cells, their bare score
  output, tracebacks of test cells, cells meant for graders (mark schemes), and the grader's
  folders from every traceback
- tidy (the post-convert hook): leaves only the feedback HTML and results.json in each
  feedback folder, and rewrites results.json and grades.csv from the gradebook, so every
  surface shows the scores the gradebook holds

The page is nbgrader's feedback page; its list of cells names no part, so HideGraderInternals
puts a summary of the parts at the top of the notebook instead, and hides nbgrader's list.
"""
import json
import re
import shutil

import nbformat
from nbconvert.exporters import HTMLExporter
from nbgrader import utils
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

from autograder.marking import GRADERS_ONLY  # cells only graders see (mark schemes)
from autograder.safe_html import remembered

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
# Added to the page's styles: nbgrader's unnamed list is replaced by the summary; long lines wrap.
CSS = """
div#toc { display: none; }
div.output_area pre, div.output_text pre, div.output_subarea pre { white-space: pre-wrap; word-break: break-word; }
"""
# Absolute folders of a grading job or of the course, as they appear in tracebacks.
GRADER_PATH = re.compile(r"(?:/[^\s'\"<>:]*)?/(?:normlab-jobs|autograded|submitted|feedback)/[^\s'\"<>:]*?/"
                         r"(?=[\w.-]+\.py)")


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


def without_grader_paths(text):
    """Text with the grader's folders cut out of file paths (".../checking.py" -> "checking.py")."""
    return GRADER_PATH.sub("", text)


def part_of(grade_id):
    """The part a graded cell belongs to: its grade_id without "test_"."""
    return grade_id[len("test_"):] if grade_id.startswith("test_") else grade_id


class GradesWithPending(GetGrades):
    """GetGrades, and `pending` in the nbgrader metadata of cells graded by hand, not graded yet;
    graders' comments are sanitised like the student's own markdown (a comment may quote a
    student's text, and the page renders it as markdown).

    The submission's grades and comments are read in one query each (nbgrader reads each cell's
    grade in two queries and its comment in one: ~80 per submission)."""

    def preprocess(self, nb, resources):
        self._grades = self._comments = None
        return super().preprocess(nb, resources)

    def _submitted(self, grade_id, table):
        """This submission's {cell: (score, points, pending)} (table "grades") or {cell: comment}."""
        from nbgrader.api import Comment, Grade, MissingEntry

        from autograder import records

        if self._grades is None:
            notebook = self.gradebook.find_submission_notebook(self.notebook_id, self.assignment_id, self.student_id)
            columns = (Grade.score, Grade.max_score, Grade.manual_score, Grade.auto_score)
            self._grades = {name: (score, points, manual is None and auto is None) for name, score, points, manual, auto
                            in records.by_cell(self.gradebook, Grade, columns, notebook)}
            self._comments = dict(records.by_cell(self.gradebook, Comment, Comment.comment, notebook))
        found = self._grades if table == "grades" else self._comments
        if grade_id not in found:
            raise MissingEntry()
        return found[grade_id]

    def _get_comment(self, cell, resources):
        from autograder.safe_html import sanitize_markdown

        comment = self._submitted(cell.metadata["nbgrader"]["grade_id"], "comments")
        cell.metadata.nbgrader["comment"] = sanitize_markdown(comment)[0] if isinstance(comment, str) and comment \
            else comment

    def _get_score(self, cell, resources):
        score, points, pending = self._submitted(cell.metadata["nbgrader"]["grade_id"], "grades")
        cell.metadata.nbgrader["score"] = score
        cell.metadata.nbgrader["points"] = points
        cell.metadata.nbgrader["pending"] = pending
        cell.metadata.nbgrader["part"] = part_of(cell.metadata["nbgrader"]["grade_id"])


class HideGraderInternals(NbGraderPreprocessor):
    """Remove what students must not see, and what only clutters their report."""

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells if not cell.metadata.get(GRADERS_ONLY)]
        nb, resources = super().preprocess(nb, resources)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(summary(nb.cells)))
        resources.setdefault("inlining", {}).setdefault("css", []).append(CSS)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        is_test = cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)
        if is_test:
            cell.source = without_hidden_tests(cell.source)
            # the score is in the cell's header; "Out[n]: 10.0" below it says nothing more
            cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("pending"):
            # nbgrader's page would show "Score: 0.0 / 4.0": shown as an answer, "not graded yet" above
            meta["grade"] = False
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if is_test:
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
                output["traceback"] = [without_grader_paths(line) for line in output.get("traceback", [])]
                output["evalue"] = without_grader_paths(output.get("evalue", ""))
            elif output.get("output_type") == "stream":
                output["text"] = without_grader_paths(output.get("text", ""))
        return cell, resources


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter without its last step: reading the whole page back into
    BeautifulSoup to give images without alt text a placeholder and JupyterLab-template cells
    a tabindex. The feedback template has no JupyterLab cells, so only the alt text is added
    here, as text; the page is otherwise byte for byte what the template wrote (the soup cost
    a third of a second per page)."""

    def from_notebook_node(self, nb, resources=None, **kw):
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name", None))
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return IMG_WITHOUT_ALT.sub(r'\1 alt="No description has been provided for this image"', html), resources


# an <img tag with no alt attribute before its end (the sanitiser writes attributes quoted)
IMG_WITHOUT_ALT = re.compile(r'(<img\b)(?![^>]*\salt=)', re.IGNORECASE)

_EXPORTER = None
MAX_HIGHLIGHTED_CHARS = 50_000  # longer code shows without colours


def feedback_html(notebook_path, db_url, student, assignment_id):
    """The feedback page of one autograded notebook, as `nbgrader generate_feedback` makes it
    (the course's configuration: its template, its preprocessors, the sanitiser), from one
    exporter kept for the whole grading process, so its templates are compiled once."""
    global _EXPORTER
    from pathlib import Path

    from nbgrader.converters import GenerateFeedback

    from autograder import course, job

    if _EXPORTER is None:
        api = course.nbgrader_api({"GenerateFeedback.post_convert_hook": None, **job.VALIDATED_ONCE})
        converter = GenerateFeedback(coursedir=api.coursedir, parent=api)
        _EXPORTER = converter.exporter_class(parent=converter, config=converter.config)
        for preprocessor in converter.preprocessors:
            _EXPORTER.register_preprocessor(preprocessor)
        _EXPORTER.filters = _remembering_filters(_EXPORTER)
    name = Path(notebook_path).stem
    resources = {"unique_key": name, "output_files_dir": f"{name}_files",
                 "nbgrader": {"student": student, "assignment": assignment_id, "notebook": name, "db_url": db_url}}
    html, _ = _EXPORTER.from_filename(str(notebook_path), resources=resources)
    return html


def _remembering_filters(exporter):
    """The exporter's markdown and code-highlighting filters, remembering what they rendered: the
    released notebook's cells come back in every submission (same output, rendered once). Large
    renderings are not remembered; code longer than MAX_HIGHLIGHTED_CHARS is shown unhighlighted
    (Pygments needs ~20 s per MB)."""
    import html

    import jinja2
    from nbconvert.filters.highlight import Highlight2HTML

    markdown, highlight = exporter.markdown2html, Highlight2HTML(pygments_lexer="ipython3", parent=exporter)
    rendered, highlighted = {}, {}

    @jinja2.pass_context
    def markdown2html(context, source):
        # the notebook's folder matters only to embedded images (a new folder for every job)
        folder = context.get("resources", {}).get("metadata", {}).get("path", "") if exporter.embed_images else ""
        key = (source, json.dumps(context.get("cell", {}).get("attachments", {}), sort_keys=True), str(folder))
        return remembered(rendered, key, lambda: markdown(context, source))

    def highlight_code(source, language=None, metadata=None):
        if len(source) > MAX_HIGHLIGHTED_CHARS:
            return f'<div class="highlight"><pre>{html.escape(source, quote=False)}</pre></div>'
        key = (source, str(language), json.dumps(metadata or {}, sort_keys=True))
        return remembered(highlighted, key, lambda: highlight(source, language, metadata))

    return {"markdown2html": markdown2html, "highlight_code": highlight_code}


def summary(cells):
    """A markdown table of the graded parts of a feedback notebook: name, kind, score."""
    rows = ["**Your parts**", "", "| part | graded | score |", "| --- | --- | ---: |"]
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade_id") or not (meta.get("grade") or meta.get("pending")):
            continue
        kind = "by hand" if cell.cell_type == "markdown" else "automatically"
        score = (f"not graded yet (of {meta.get('points', 0):g})" if meta.get("pending")
                 else f"{float(meta.get('score') or 0):g} / {float(meta.get('points') or 0):g}")
        rows.append(f"| [{part_of(meta['grade_id'])}](#{meta['grade_id']}) | {kind} | {score} |")
    return "\n".join(rows)


def tidy(assignment, student, notebooks):
    """nbgrader's post-convert hook of generate_feedback (see the module's docstring).

    Inputs (from nbgrader): the assignment id and student id it ran for ("*": all), notebooks.
    """
    from autograder import course, export

    manifest = course.assignment(assignment if assignment and assignment != "*" else course.DEFAULT_ASSIGNMENT)
    allowed = {f"{name}.html" for name in manifest.notebooks} | set(export.FEEDBACK_FILES)
    for folder in sorted(course.FEEDBACK.glob(f"{student or '*'}/{manifest.id}")):
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name not in allowed:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        export.refresh_results(manifest, folder.parent.name)
    export.write_grades_csv(manifest)


def main(argv=None):
    """python -m autograder.feedback [assignment]  (make feedback)

    Regenerate every graded student's feedback from the gradebook, after grading by hand:
    nbgrader generate_feedback, then tidy (results.json and grades.csv follow the gradebook).
    """
    import sys

    from autograder import course

    argv = sys.argv[1:] if argv is None else argv
    assignment = course.assignment(argv[0] if argv else course.DEFAULT_ASSIGNMENT)
    result = course.nbgrader_api().generate_feedback(assignment.id, force=True)
    if not result["success"]:
        print(result.get("log", "")[-3000:], result.get("error", "")[-3000:], file=sys.stderr)
        return 1
    print(f"feedback/ regenerated for {assignment.id}; results.json and {course.GRADES_CSV.name} "
          "follow the gradebook")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
