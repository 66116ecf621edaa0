"""What grading hands out: results.json per student, grades.csv, the summary table.

- autograded/<student>/<assignment>/results.json (copied to feedback/): Gradescope's
  results format, one test per autograded part with its score and the messages the
  student reads, plus the grading status.
- grades.csv: nbgrader's export columns (same values as `nbgrader export`), then one
  column per graded part (manifest order), then `status`.
"""
import csv
import json

from autograder import course

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                    "email", "raw_score", "late_submission_penalty", "score", "max_score"]


def _status(outcome):
    status = outcome.get("status", "graded")
    if status.startswith("failed"):
        return status
    if outcome.get("flags"):
        return "flagged: " + "; ".join(dict.fromkeys(outcome["flags"]))
    return status


def results_json(assignment, outcome):
    """The Gradescope results of one Outcome dict."""
    status = _status(outcome)
    tests = []
    for part, points in assignment.points.items():
        verdict = outcome.get("parts", {}).get(part)
        if part in assignment.manual_parts:
            continue  # graded by hand, not part of the automatic results
        if verdict is None:
            output = status if status.startswith("failed") else "not graded"
            tests.append({"name": part, "score": 0.0, "max_score": points, "output": output,
                          "status": "failed"})
            continue
        tests.append({"name": part, "score": verdict["score"], "max_score": points,
                      "output": verdict.get("report") or verdict.get("note", ""),
                      "status": "passed" if verdict["score"] >= points else "failed"})
    return {
        "score": round(sum(t["score"] for t in tests), 2),
        "execution_time": outcome.get("seconds", 0.0),
        "output": "\n".join([f"Status: {status}"] + outcome.get("notes", [])[:5]),
        "tests": tests,
        "extra_data": {"student_id": outcome["student"], "assignment": assignment.id,
                       "status": status, "flags": outcome.get("flags", []),
                       "notes": outcome.get("notes", [])},
    }


def write_results(assignment, outcome):
    """Write results.json into autograded/ and feedback/ for one student (and, for the
    instructor only, nbgrader's log of the run into autograded/)."""
    data = json.dumps(results_json(assignment, outcome), indent=2, sort_keys=True)
    for root in (course.AUTOGRADED, course.FEEDBACK):
        folder = root / outcome["student"] / assignment.id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(data + "\n")
    if outcome.get("log"):
        (course.AUTOGRADED / outcome["student"] / assignment.id / "nbgrader.log").write_text(outcome["log"])


def read_status(assignment, student_id):
    path = course.AUTOGRADED / student_id / assignment.id / "results.json"
    try:
        return json.loads(path.read_text())["extra_data"]["status"]
    except (OSError, ValueError, KeyError):
        return None


def grade_rows(assignment, db_url=None):
    """One dict per student in the gradebook: nbgrader's export values, parts, status."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(db_url or f"sqlite:///{course.GRADEBOOK}") as gb:
        record = gb.find_assignment(assignment.id)
        for student in sorted(gb.students, key=lambda s: s.id):
            row = {"assignment": record.name, "duedate": record.duedate, "student_id": student.id,
                   "last_name": student.last_name, "first_name": student.first_name,
                   "email": student.email, "max_score": record.max_score}
            parts = {p: 0.0 for p in assignment.parts}
            try:
                submission = gb.find_submission(assignment.id, student.id)
            except MissingEntry:
                row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                status = "missing"
            else:
                penalty = submission.late_submission_penalty
                row.update(timestamp=submission.timestamp, raw_score=submission.score,
                           late_submission_penalty=penalty, score=max(0.0, submission.score - penalty))
                grades = {g.name: g.score for nb in submission.notebooks for g in nb.grades}
                for part in parts:
                    cell = part if part in assignment.manual_parts else course.test_cell_id(part)
                    parts[part] = grades.get(cell)
                status = read_status(assignment, student.id) or "graded"
            row = {k: ("" if v is None else str(v)) for k, v in row.items()}
            row.update({part: str(score if score is not None else "") for part, score in parts.items()})
            row["status"] = status
            rows.append(row)
    return rows


def write_grades_csv(assignment, path=None, db_url=None):
    """Write grades.csv (nbgrader's columns, one column per part, status)."""
    rows = grade_rows(assignment, db_url)
    columns = NBGRADER_COLUMNS + assignment.parts + ["status"]
    with open(path or course.GRADES_CSV, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def summary_table(assignment, outcomes):
    """A plain-text table of this run: student, score per part, total, status."""
    short = {p: "".join(w[0] for w in p.split("_")).upper() for p in assignment.parts}
    header = ["student"] + [short[p] for p in assignment.parts] + ["auto", "status"]
    lines = []
    for outcome in outcomes:
        scores = [outcome.get("parts", {}).get(p, {}).get("score") for p in assignment.parts]
        auto = sum(s for s in scores if s is not None)
        lines.append([outcome["student"]] + ["-" if s is None else f"{s:g}" for s in scores]
                     + [f"{auto:g}", _status(outcome)])
    widths = [max(len(str(row[i])) for row in [header] + lines) for i in range(len(header) - 1)]
    text = ["  ".join(str(cell).ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1]
            for row in [header] + lines]
    legend = ", ".join(f"{short[p]}={p} ({assignment.points[p]:g})" for p in assignment.parts)
    return "\n".join(text + ["", f"parts: {legend}", "'-' = graded by hand later"])
