"""Execution preprocessors of the autograde pipeline (nbgrader_config.py puts them in place).

- CappedExecute: nbgrader's Execute with a cap on how much output a cell may produce. A cell
  that prints without end would otherwise be held in the grader's memory until the cell's
  time limit, and then fill the autograded notebook and the feedback.
- GraderVerdicts: under `make grade`, every test cell shows the verdict the grader computed
  outside the kernel (its report and its score), whatever the student's kernel printed; so
  nbgrader records, and feedback shows, only what the grader measured.
"""
import nbformat
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer


class CappedExecute(Execute):
    """Execute, keeping at most max_output_bytes of output per cell."""

    max_output_bytes = Integer(
        2_000_000, help="Largest output (bytes of text and data) kept for one cell."
    ).tag(config=True)

    def output(self, outs, msg, display_id, cell_index):
        used = getattr(self, "_output_bytes", {})
        self._output_bytes = used
        size = _size(msg.get("content", {}))
        if used.get(cell_index, 0) + size > self.max_output_bytes:
            if used.get(cell_index, 0) <= self.max_output_bytes:
                outs.append(nbformat.v4.new_output(
                    "stream", name="stdout",
                    text=f"\n[the grader dropped the rest of this cell's output: more than "
                         f"{self.max_output_bytes // 1_000_000} MB]\n"))
            used[cell_index] = self.max_output_bytes + 1
            return None
        used[cell_index] = used.get(cell_index, 0) + size
        return super().output(outs, msg, display_id, cell_index)


def _size(content):
    """Bytes of text an output message carries (text, data, traceback)."""
    size = len(content.get("text", ""))
    for value in (content.get("data") or {}).values():
        size += len(value) if isinstance(value, str) else len(str(value))
    size += sum(len(line) for line in content.get("traceback") or [])
    return size


class GraderVerdicts(NbGraderPreprocessor):
    """Replace the outputs of test cells with the check server's verdicts (no-op without one)."""

    def preprocess(self, nb, resources):
        from autograder import remote

        self.server = remote.active_server()
        if self.server is None:
            return nb, resources
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        part = grade_id[len("test_"):] if grade_id.startswith("test_") else grade_id
        verdict = self.server.verdicts.get(part)
        shown = _shown_score(cell)
        if verdict is None:
            score, report = 0.0, f"{part}: 0 points (its hidden test never reached the grader)"
            self.server.flags.append(f"the hidden test of {part} never reached the grader")
        else:
            score, report = verdict.score, verdict.report()
        if shown is not None and shown > score + 1e-9:
            self.server.flags.append(f"the notebook showed {shown:g} points for {part}, "
                                     f"the grader measured {score:g}")
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=report + "\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": repr(float(score))},
                                   execution_count=cell.get("execution_count")),
        ]
        return cell, resources


def _shown_score(cell):
    """The score a test cell displayed, if it displayed a number."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "execute_result":
            try:
                return float(output.get("data", {}).get("text/plain", ""))
            except ValueError:
                return None
    return None
