"""Verdicts: the independently weighted checks of a part and the points they earn."""
from dataclasses import dataclass, field

from autograder import text


class StudentError(Exception):
    """Student code failed (raised, timed out, returned something unusable)."""


class TooSlow(StudentError):
    """A call of student code ran past its time limit and was stopped."""


class GradingAborted(Exception):
    """Grading of a part cannot go on (e.g. the student's kernel is gone); never caught here."""


@dataclass
class Check:
    """One independently graded property of a part."""

    name: str
    weight: float
    passed: bool
    message: str = ""


@dataclass
class Verdict:
    """The result of grading one part: its checks and the points they earn."""

    part: str
    points: float
    checks: list = field(default_factory=list)
    note: str = ""
    withheld: str = ""  # why the part earns nothing whatever its checks show (not the student's work)

    @property
    def score(self):
        if self.withheld:
            return 0.0
        total = sum(c.weight for c in self.checks)
        if total == 0:
            return 0.0
        earned = sum(c.weight for c in self.checks if c.passed)
        return float(min(self.points, round(self.points * earned / total, 2)))

    def report(self):
        """The text printed under the hidden test cell and kept in results.json."""
        lines = [f"{self.part}: {self.score:g} / {self.points:g} points"]
        if self.withheld:
            lines.append(f"  NO POINTS: {text.one_line(self.withheld, 1000)}")
        if self.note:
            lines.append(f"  {text.one_line(self.note, 1000)}")
        for c in self.checks:
            mark = "ok  " if c.passed else "FAIL"
            lines.append(f"  [{mark}] {c.name}")
            if not c.passed and c.message:
                lines.extend(f"         {line}" for line in text.clean(c.message, 2000).splitlines())
        return "\n".join(lines)

    def to_dict(self):
        return {
            "part": self.part,
            "score": self.score,
            "points": self.points,
            "note": text.one_line(self.note, 1000),
            "withheld": text.one_line(self.withheld, 1000),
            "checks": [{**vars(c), "message": text.clean(c.message, 2000)} for c in self.checks],
            "report": self.report(),
        }


class Ledger:
    """Collects failures of one check over several trials.

    A check that never got to look at a real result (e.g. "inputs unchanged" when the
    function returned nothing) fails: an empty stub earns no points.
    """

    def __init__(self, needs_evidence=False):
        self.failures = []
        self.reasons = set()
        self.evidence = not needs_evidence

    def add(self, message):
        reason = message.split(": ", 1)[-1]
        if message and reason not in self.reasons:
            self.reasons.add(reason)
            self.failures.append(message)

    def saw_result(self):
        self.evidence = True

    def result(self, name, weight):
        failures = self.failures or ([] if self.evidence else
                                     ["nothing to check: the function never returned a usable result"])
        return Check(name, weight, not failures, "\n".join(failures[:3]))
