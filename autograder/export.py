"""What grading hands out: each student's files, grades.csv, the summary table.

Every number comes from the course gradebook, manual grades included, so results.json,
the feedback HTML, grades.csv, formgrader and the terminal show the same scores. A part
graded by hand that no one has graded yet is "not graded yet": blank in grades.csv, never 0.

- autograded/<student>/<assignment>/: the graded notebook, results.json and grading.log
  (nbgrader's log and anything that went wrong; for the instructor only)
- feedback/<student>/<assignment>/: the feedback HTML and results.json (Gradescope's format:
  one test per part with its score and the messages the student reads, and the status)
- grades.csv: nbgrader's export columns (same values as `nbgrader export`), one column per
  part (manifest order), then `status`
"""
import csv
import json
import shutil

from autograder import course, text

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                    "email", "raw_score", "late_submission_penalty", "score", "max_score"]
FEEDBACK_FILES = ("results.json",)  # besides the feedback HTML: all a feedback folder holds
MAX_LOG_CHARS = 1_000_000
NOT_GRADED_YET = "graded by hand: not graded yet"
# nbgrader scores an answer cell left as released 0 by itself (no grader needs to read it)
UNANSWERED = "graded by hand: no answer written (the cell is as released), so 0 points"


def status_of(outcome):
    """The one-line status of an Outcome dict: failed > flagged > repaired > graded."""
    status = outcome.get("status") or "graded"
    if not status.startswith("failed") and outcome.get("flags"):
        status = "flagged: " + "; ".join(dict.fromkeys(outcome["flags"]))
    return text.one_line(status, 600)


def gradebook_scores(assignment, student, db_url=None, gradebook=None):
    """The student's scores in the gradebook, or None without a submission.

    Inputs:
    - gradebook: an open nbgrader Gradebook to read from (default: open db_url's)

    Returns a dict: parts {part: score, or None for a part graded by hand not graded yet},
    auto {part: the autograder's own score}, by_hand {part: whether a grader set its score},
    raw_score, late_penalty, score, timestamp.
    """
    from nbgrader.api import Grade, Gradebook, MissingEntry

    from autograder import records

    if gradebook is None:
        with Gradebook(db_url or course.gradebook_url()) as gb:
            return gradebook_scores(assignment, student, gradebook=gb)
    try:
        submission = gradebook.find_submission(assignment.id, student)
    except MissingEntry:
        return None
    grades = {name: g for nb in submission.notebooks for name, g in records.by_cell(gradebook, Grade, Grade, nb)}
    parts, auto, by_hand = {}, {}, {}
    for part in assignment.parts:
        grade = grades.get(part if part in assignment.manual_parts else course.test_cell_id(part))
        if grade is None:
            parts[part] = None
            continue
        pending = grade.manual_score is None and grade.auto_score is None
        parts[part] = None if pending else float(grade.score)
        auto[part] = grade.auto_score
        by_hand[part] = grade.manual_score is not None
    penalty = float(submission.late_submission_penalty or 0.0)
    return {"parts": parts, "auto": auto, "by_hand": by_hand, "raw_score": float(submission.score), "late_penalty": penalty,
            "score": max(0.0, float(submission.score) - penalty),
            "timestamp": str(submission.timestamp) if submission.timestamp else ""}


def results_json(assignment, outcome, scores):
    """The Gradescope results of one Outcome dict, with the gradebook's scores."""
    status = status_of(outcome)
    parts = (scores or {}).get("parts", {})
    tests = []
    for part, points in assignment.points.items():
        verdict = outcome.get("parts", {}).get(part) or {}
        score = parts.get(part)
        if part in assignment.manual_parts:
            by_hand = (scores or {}).get("by_hand", {}).get(part)
            test = {"name": part, "max_score": points,
                    "output": "graded by hand" if by_hand else UNANSWERED if score is not None else NOT_GRADED_YET}
        else:
            output = verdict.get("report") or verdict.get("note") or (
                status if status.startswith("failed") else "not graded")
            score = 0.0 if score is None else score
            auto = (scores or {}).get("auto", {}).get(part)
            if auto is not None and abs(auto - score) > 1e-9:
                output += f"\n(score changed by hand from {auto:g} to {score:g})"
            test = {"name": part, "max_score": points, "output": text.clean(output, 20_000),
                    "status": "passed" if score >= points else "failed"}
        if score is not None:
            test["score"] = score
        tests.append(test)
    notes = [text.clean(note, 500) for note in outcome.get("notes", [])[:20]]
    flags = [text.one_line(flag, 300) for flag in outcome.get("flags", [])[:20]]
    return {
        "score": (scores or {}).get("score", 0.0),
        "execution_time": outcome.get("seconds", 0.0),
        "output": "\n".join([f"Status: {status}"] + notes[:5]),
        "tests": tests,
        "extra_data": {"student_id": text.one_line(outcome["student"]), "assignment": assignment.id,
                       "status": status, "flags": flags, "notes": notes},
    }


def _folders(assignment, student):
    return [root / student / assignment.id for root in (course.AUTOGRADED, course.FEEDBACK)]


def write_student_files(assignment, outcome):
    """Replace the student's autograded/ and feedback/ folders with this outcome's files."""
    student = outcome["student"]
    autograded, feedback = _folders(assignment, student)
    for folder in (autograded, feedback):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for name, content in outcome.get("files", {}).items():
        step, filename = name.split("/", 1)
        folder = {"autograded": autograded, "feedback": feedback}[step]
        (folder / filename).write_text(content, encoding="utf-8")
    write_results(assignment, outcome)
    write_log(assignment, student, _log_text(outcome))


def write_results(assignment, outcome):
    """Write results.json (autograded/ and feedback/) from the outcome and the gradebook."""
    data = results_json(assignment, outcome, gradebook_scores(assignment, outcome["student"]))
    content = json.dumps(data, indent=2, sort_keys=True) + "\n"
    for folder in _folders(assignment, outcome["student"]):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(content)


def refresh_results(assignment, student):
    """Rewrite a student's results.json with the gradebook's current scores (after manual
    grading, or when nbgrader generate_feedback runs); the verdicts and status stay."""
    path = course.AUTOGRADED / student / assignment.id / "results.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    extra = stored.get("extra_data", {})
    outcome = {"student": student, "status": extra.get("status", "graded"), "notes": extra.get("notes", []),
               "flags": [], "seconds": stored.get("execution_time", 0.0),
               "parts": {t["name"]: {"report": t.get("output", "")} for t in stored.get("tests", [])}}
    write_results(assignment, outcome)
    return True


def _log_text(outcome):
    lines = [f"status: {status_of(outcome)}"] + [f"note: {n}" for n in outcome.get("notes", [])]
    lines += [f"flag: {f}" for f in outcome.get("flags", [])]
    return "\n".join(lines) + "\n\n" + (outcome.get("log") or "")


def write_log(assignment, student, log):
    """The instructor's log of one student's grading (never copied to feedback/)."""
    folder = course.AUTOGRADED / student / assignment.id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grading.log").write_text(text.clean(log, MAX_LOG_CHARS), encoding="utf-8")


def read_status(assignment, student_id):
    path = course.AUTOGRADED / student_id / assignment.id / "results.json"
    try:
        return text.one_line(json.loads(path.read_text())["extra_data"]["status"], 600)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def grade_rows(assignment, db_url=None, refused=None):
    """One dict per student in the gradebook (and per refused folder): nbgrader's export
    values, one value per part ('' for a part not graded yet), status."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(db_url or course.gradebook_url()) as gb:
        record = gb.find_assignment(assignment.id)
        for student in sorted(gb.students, key=lambda s: s.id):
            row = {"assignment": assignment.id, "duedate": record.duedate, "student_id": student.id,
                   "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                   "max_score": record.max_score}
            scores = gradebook_scores(assignment, student.id, gradebook=gb)
            if scores is None:
                row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                parts, status = {}, "missing"
            else:
                row.update(timestamp=scores["timestamp"], raw_score=scores["raw_score"],
                           late_submission_penalty=scores["late_penalty"], score=scores["score"])
                parts, status = scores["parts"], read_status(assignment, student.id) or "graded"
            row = {k: ("" if v is None else str(v)) for k, v in row.items()}
            row.update({part: "" if parts.get(part) is None else str(parts[part]) for part in assignment.parts})
            row["status"] = status
            rows.append(row)
    for name, reason in sorted((refused or {}).items()):
        rows.append({"assignment": assignment.id, "student_id": text.one_line(repr(name), 200),
                     "status": f"failed: not graded: {reason}"})
    return rows


def write_grades_csv(assignment, path=None, db_url=None, refused=None):
    """Write grades.csv; text that a spreadsheet would read as a formula is quoted with "'"."""
    rows = grade_rows(assignment, db_url, refused)
    columns = NBGRADER_COLUMNS + assignment.parts + ["status"]
    with open(path or course.GRADES_CSV, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: text.spreadsheet_cell(text.one_line(row.get(key, ""), 1000)) for key in columns})
    return rows


def summary_table(assignment, students, db_url=None):
    """A plain-text table of some students: score per part (gradebook), total, status."""
    short = {p: "".join(w[0] for w in p.split("_")).upper() for p in assignment.parts}
    header = ["student"] + [short[p] for p in assignment.parts] + ["score", "status"]
    from nbgrader.api import Gradebook

    lines = []
    with Gradebook(db_url or course.gradebook_url()) as gb:
        for student in students:
            scores = gradebook_scores(assignment, student, gradebook=gb) or {"parts": {}, "score": 0.0}
            cells = ["." if scores["parts"].get(p) is None else f"{scores['parts'][p]:g}" for p in assignment.parts]
            lines.append([text.one_line(student, 40)] + cells + [f"{scores['score']:g}",
                                                                  read_status(assignment, student) or "missing"])
    widths = [max(len(str(row[i])) for row in [header] + lines) for i in range(len(header) - 1)]
    rows = ["  ".join(str(cell).ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1]
            for row in [header] + lines]
    legend = ", ".join(f"{short[p]}={p} ({assignment.points[p]:g})" for p in assignment.parts)
    return "\n".join(rows + ["", f"parts: {legend}", "'.' = graded by hand, not graded yet"])
