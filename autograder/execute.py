"""Execution preprocessors of the autograde pipeline (nbgrader_config.py puts them in place).

- CappedExecute: nbgrader's Execute with bounds on what a notebook can make the grader hold:
  output kept per cell, the size of one message from the kernel, the text of an error, and
  the run time of the whole notebook (cells after the budget are not run). It also runs the
  job's hooks once the kernel is ready (the sandbox then locks the kernel's runtime folder).
- ReadyKernelClient: the kernel client CappedExecute uses; ready when the kernel is.
- GradingKernelManager: its kernel manager; starts a sandboxed kernel without a launcher and
  sees at once that the killed kernel has ended.
- GraderVerdicts: under `make grade`, every test cell shows the verdict the grader computed
  outside the kernel (its report and its score), whatever the student's kernel printed; so
  nbgrader records, and feedback shows, only what the grader measured.
"""
import os
import time
from queue import Empty

import nbformat
import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from nbclient.util import run_sync
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Float, Integer

from autograder import text

# Callables run once the kernel of the notebook being graded is ready and before any cell runs,
# with the process id of what Jupyter started for it; the grading job registers them.
KERNEL_READY_HOOKS = []
MAX_ERROR_CHARS = 4000


class CappedExecute(Execute):
    """Execute, keeping at most max_output_bytes of output per cell, refusing kernel messages
    above max_message_bytes, and running no cell once time_budget seconds have passed."""

    max_output_bytes = Integer(
        2_000_000, help="Largest output (bytes of text and data) kept for one cell."
    ).tag(config=True)
    max_message_bytes = Integer(
        32 * 2**20, help="Largest message accepted from the kernel (larger ones are dropped)."
    ).tag(config=True)
    time_budget = Float(
        0.0, help="Seconds the whole notebook may run (0: no limit); later cells are not run."
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", GradingKernelManager)  # nbgrader's Execute sets its own
        super().__init__(*args, **kwargs)

    async def async_start_new_kernel_client(self):
        # the client's sockets come from this context: bound the size of what they accept
        self.km.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        self.km.client_class = f"{__name__}.ReadyKernelClient"
        client = await super().async_start_new_kernel_client()
        for hook in KERNEL_READY_HOOKS:
            hook(self.km.provisioner.pid if self.km.provisioner else None)
        self._started = time.monotonic()
        return client

    # nbclient binds the synchronous wrapper to its own coroutine: bind it to ours
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess_cell(self, cell, resources, index):
        started = getattr(self, "_started", None)
        if (cell.cell_type == "code" and self.time_budget and started is not None
                and time.monotonic() - started > self.time_budget):
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="TimeBudgetExceeded",
                evalue=f"not run: the notebook used its whole time budget of {self.time_budget:g} s",
                traceback=[f"TimeBudgetExceeded: not run: the notebook used its whole time budget "
                           f"of {self.time_budget:g} s"])]
            from autograder import remote

            server = remote.active_server()
            if server is not None:
                server.budget_exceeded = True
            return cell, resources
        return super().preprocess_cell(cell, resources, index)

    def on_cell_executed(self, **kwargs):
        # nbgrader copies the reply's error into the cell when the cell shows none (its output
        # was capped): keep that copy as short as any other output
        content = kwargs["execute_reply"].get("content", {})
        if content.get("status") == "error":
            content["ename"] = text.one_line(content.get("ename", "Error"), 200)
            content["evalue"] = text.clean(content.get("evalue", ""), MAX_ERROR_CHARS)
            lines = [text.clean(line, MAX_ERROR_CHARS) for line in (content.get("traceback") or [])[:50]]
            content["traceback"] = lines
        return super().on_cell_executed(**kwargs)

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


class GradingKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager, minus a launcher process and an idle wait at the end.

    - A sandboxed kernel (its kernelspec names a sandbox job) starts with
      sandbox.kernel_command(), built here: no Python launcher process per submission
      (measured: 0.07 s of CPU each, outside the kernel's control groups).
    - After killing the kernel, jupyter_client looks every 0.1 s whether it has ended: measured,
      0.1 s of every submission with both the worker and the kernel idle, though a killed kernel
      ends within milliseconds. This one looks every few milliseconds.
    """

    STOP_POLL = 0.005  # seconds

    async def _async_pre_start_kernel(self, **kw):
        from autograder import sandbox

        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        job_file = (self.kernel_spec.env or {}).get(sandbox.JOB_ENV) if self.kernel_spec else None
        if job_file:
            kernel_cmd = sandbox.kernel_command(job_file, self.connection_file, kw.get("cwd") or os.getcwd())
        return kernel_cmd, kw

    async def _async_wait(self, pollinterval=0.1):
        await super()._async_wait(pollinterval=min(pollinterval, self.STOP_POLL))


class ReadyKernelClient(AsyncKernelClient):
    """jupyter_client's kernel client, minus an idle wait at start.

    jupyter_client's wait_for_ready ends by reading IOPub until it has been quiet for 0.2 s:
    measured, 0.2 s of every submission with both the worker and the kernel idle. This one
    takes what IOPub holds once the kernel has answered, and goes on: a late status message
    does no harm, as nbclient matches every output to its request.
    """

    async def wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while not await self._answered_kernel_info():
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while await self._take(self.iopub_channel, 0) is not None:
            pass

    async def _answered_kernel_info(self):
        """Ask for kernel_info: True once the kernel replied and its IOPub reaches us."""
        self.kernel_info()
        reply = await self._take(self.shell_channel, 1.0)
        if reply is None or reply["msg_type"] != "kernel_info_reply":
            return False
        if await self._take(self.iopub_channel, 0.2) is None:  # IOPub not connected yet
            return False
        self._handle_kernel_info_reply(reply)
        return True

    @staticmethod
    async def _take(channel, seconds):
        """The next message on the channel within `seconds`, or None."""
        try:
            return await channel.get_msg(timeout=seconds)
        except Empty:
            return None


def _size(content):
    """Bytes of text an output message carries (text, data, traceback)."""
    size = len(content.get("text", "")) + len(content.get("evalue", "")) + len(content.get("ename", ""))
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
        if verdict is None and self.server.budget_exceeded:
            score, report = 0.0, f"{part}: 0 points (not run: the notebook used its whole time budget)"
        elif verdict is None:
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
