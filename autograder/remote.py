"""The grader's end of the wire: a check server per student and the proxy checks use.

While nbgrader runs a student's notebook, each hidden test cell connects to the
CheckServer and asks for its part. The server runs autograder.checks against a
RemoteStudent, a proxy whose calls are evaluated in the student's kernel, and records
the verdict. The recorded verdict is the grade; what the kernel prints is a courtesy.
"""
import os
import select
import socket
import threading
import time
import weakref

import numpy as np

from autograder import checks, text, wire


_ACTIVE = []


def active_server():
    """The CheckServer of the submission this process is grading now (None outside make grade)."""
    return _ACTIVE[-1] if _ACTIVE else None


INTERRUPT_GRACE = 10.0  # seconds an interrupted kernel has to answer before it counts as lost
# A call with its own limit is measured in the kernel's CPU seconds when the grader can read them
# (a loaded grading machine must not make honest code late); wall time backs it up at this factor.
WALL_FACTOR = 4.0
POLL = 0.1  # seconds between two readings of the kernel's CPU clock


class KernelLost(checks.GradingAborted):
    """The kernel stopped answering (crash, interrupt, timeout, or a protocol violation)."""


class RemoteStudent:
    """A student's kernel seen through the interface autograder.checks uses.

    Inputs:
    - connection: a connected socket whose peer runs autograder.hidden
    - call_timeout: seconds to wait for one answer (unless a call names its own limit)
    - facts: what the grader knows of this submission beyond its functions (shared by its parts)
    - interrupt: callable that interrupts the kernel (a call past its time limit is then
      stopped and reported, and grading goes on); None: such a call ends the part
    - cpu_clock: callable returning the CPU seconds the kernel has used (None: limits are wall time)
    """

    def __init__(self, connection, call_timeout, facts=None, interrupt=None, cpu_clock=None):
        self.connection = connection
        self.connection.settimeout(call_timeout)
        self.call_timeout = call_timeout
        self.interrupt = interrupt
        self.cpu_clock = cpu_clock
        self.to_free = []
        self.handles = weakref.WeakValueDictionary()
        self.facts = facts if facts is not None else {}
        self.called = set()  # watched functions the kernel says were called (autograder.calls.WATCHED)

    def function(self, name, keep=(), timeout=None):
        """The student's function as a callable; timeout: seconds one call may take."""
        return lambda *args: self._call(name, args, keep, timeout)

    def value(self, name):
        reply = self._request({"op": "get", "name": name})
        if not reply.get("ok"):
            raise NameError(_describe(reply.get("error")))
        value = reply.get("value")
        if isinstance(value, dict) and "__repr__" in value:
            return _Unsendable(text.one_line(value.get("type", "object"), 60),
                               text.one_line(value.get("__repr__", ""), 200))
        return self._decode(value)

    def _handle(self, handle_id, type_name):
        handle = self.handles.get(handle_id)
        if handle is None:
            handle = wire.Handle(handle_id, type_name)
            self.handles[handle_id] = handle
            weakref.finalize(handle, self.to_free.append, handle_id)
        return handle

    def _decode(self, data):
        try:
            return wire.decode(data, self._handle)
        except Exception as error:  # anything malformed, however deeply nested
            raise KernelLost(f"the kernel sent malformed data ({type(error).__name__})") from None

    def _request(self, message, timeout=None):
        message["free"], self.to_free = self.to_free, []
        limit = timeout or self.call_timeout
        try:
            wire.send(self.connection, message)
            if timeout and self.cpu_clock is not None and self.interrupt is not None:
                late = self._late_in_cpu_time(timeout)
                if late:
                    return self._interrupted(late)
            self.connection.settimeout(limit)
            try:
                return wire.receive(self.connection)
            except socket.timeout:
                if self.interrupt is None:
                    raise
                return self._interrupted(f"did not finish within {limit:g} s")
        except socket.timeout:
            raise KernelLost(f"no answer from the notebook within {limit:g} s "
                             "(an infinite loop, or very slow code?)") from None
        except checks.StudentError:
            raise
        except Exception as error:
            raise KernelLost("the notebook's kernel stopped answering "
                             f"({type(error).__name__}: {text.one_line(error, 120)})") from None
        finally:
            self.connection.settimeout(self.call_timeout)

    def _late_in_cpu_time(self, seconds):
        """Wait until the kernel's answer starts to arrive; '' then, or why the call is too slow
        (it used `seconds` of CPU time, or WALL_FACTOR times that in wall time)."""
        start_cpu, start_wall = self.cpu_clock(), time.monotonic()
        while not select.select([self.connection], [], [], POLL)[0]:
            if self.cpu_clock() - start_cpu > seconds:
                return f"did not finish within {seconds:g} s of CPU time"
            if time.monotonic() - start_wall > WALL_FACTOR * seconds:
                return f"did not finish within {WALL_FACTOR * seconds:g} s"
        return ""

    def _interrupted(self, why):
        """Stop the kernel's call and raise TooSlow(why). The kernel's reply (its "Interrupted",
        or an answer it sends instead) is read and discarded: a call found late stays late,
        whatever arrives afterwards."""
        self.interrupt()
        self.connection.settimeout(INTERRUPT_GRACE)
        wire.receive(self.connection)
        raise checks.TooSlow(why) from None

    def _call(self, name, args, keep, timeout=None):
        encoded = [wire.encode(a) for a in args]
        reply = self._request({"op": "call", "name": name, "args": encoded, "keep": list(keep)}, timeout)
        if not reply.get("ok"):
            error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            if error.get("type") == "NameError":
                raise NameError(text.one_line(error.get("message", name), 200))
            raise checks.StudentError(f"{name} raised {_describe(error)}")
        result = self._decode(reply.get("result"))
        called = reply.get("called") if isinstance(reply.get("called"), list) else []
        self.called.update(text.one_line(c, 60) for c in called[:5] if isinstance(c, str))
        echoes = reply.get("args") if isinstance(reply.get("args"), list) else []
        for arg, echoed in zip(args, echoes):
            if echoed is not None:
                self._update(name, arg, self._decode(echoed))
        return result

    @staticmethod
    def _update(name, arg, after):
        """Make the grader's copy of an argument show what the student's call did to it."""
        if isinstance(arg, np.ndarray) and isinstance(after, np.ndarray):
            if after.shape != arg.shape:
                raise checks.StudentError(f"{name} changed the shape of an input array")
            np.copyto(arg, after, casting="unsafe")
        elif isinstance(arg, dict) and isinstance(after, dict):
            arg.clear()
            arg.update(after)


class _Unsendable:
    """A student value that cannot cross the wire (shown by its type and repr)."""

    def __init__(self, type_name, text):
        self.type_name, self.text = type_name, text

    def __repr__(self):
        return self.text


def _describe(error):
    """An error the kernel reported, as one clean line (whatever the kernel sent)."""
    error = error if isinstance(error, dict) else {}
    line = f"{text.one_line(error.get('type', 'Error'), 60)}: {text.one_line(error.get('message', ''), 300)}"
    if error.get("where"):
        line += f" ({text.one_line(error['where'], 200)})"
    return line


class CheckServer:
    """Serves the hidden test cells of one student's notebook.

    Inputs:
    - socket_path: where to listen (a Unix socket the sandboxed kernel can reach)
    - assignment: the manifest (points)
    - seeds: {part: seed} of this submission's hidden tests
    - call_timeout: seconds to wait for the kernel's answer to one call
    """

    def __init__(self, socket_path, assignment, seeds, call_timeout=30.0, facts=None):
        self.socket_path = str(socket_path)
        self.assignment = assignment
        self.seeds = dict(seeds)
        self.facts = dict(facts or {})  # shared by the parts of this submission (autograder.checks)
        self.call_timeout = call_timeout
        self.verdicts = {}
        self.flags = []
        self.budget_exceeded = False  # set by autograder.execute when cells were left unrun
        self.interrupt = None  # set by the grading job once the kernel runs (autograder.kernel.attach)
        self.cpu_clock = None  # likewise
        self._listener = None
        self._thread = None
        self._closing = threading.Event()

    def __enter__(self):
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o666)
        self._listener.listen(4)
        self._thread = threading.Thread(target=self._serve, name="checks", daemon=True)
        self._thread.start()
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc):
        _ACTIVE.remove(self)
        self._closing.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._thread.join(timeout=self.call_timeout + 5)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)

    def _serve(self):
        while not self._closing.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                try:
                    self._serve_one(connection)
                except Exception as error:  # whatever the kernel sent, the server keeps serving
                    self.flags.append(f"a malformed request to the grader ({type(error).__name__})")

    def _serve_one(self, connection):
        connection.settimeout(5.0)
        try:
            hello = wire.receive(connection)
        except Exception:
            self.flags.append("a connection to the grader that did not ask for a part")
            return
        part = hello.get("part")
        if hello.get("op") != "hello" or not isinstance(part, str) or part not in self.assignment.points \
                or part not in checks.CHECKS:
            self.flags.append(f"a request to grade an unknown part {text.short_repr(part, 40)}")
            self._send_verdict(connection, None, "unknown part")
            return
        if part in self.verdicts:
            self.flags.append(f"part {part} was asked to be graded more than once")
            self._send_verdict(connection, None, "this part was already graded")
            return
        verdict = checks.Verdict(part=part, points=self.assignment.points[part])
        try:
            student = RemoteStudent(connection, self.call_timeout, self.facts, self.interrupt, self.cpu_clock)
            verdict = checks.check_part(part, student,
                                        seed=self.seeds[part], assignment_id=self.assignment.id)
        except KernelLost as error:
            verdict.note = f"grading of this part stopped: {error}"
            verdict.checks = [checks.Check("the hidden tests ran to the end", 1.0, False, verdict.note)]
        self.verdicts[part] = verdict
        if part == "batchnorm_backward_alt" and "calls batchnorm_backward" in verdict.withheld \
                and not self.facts.get("closed_form_problem"):
            # the source did not show it (job.py flags what the source shows): the run did
            self.flags.append(text.one_line(verdict.withheld.split(". ")[0], 200))
        self._send_verdict(connection, verdict)

    @staticmethod
    def _send_verdict(connection, verdict, reason=""):
        message = {"op": "verdict", "score": verdict.score if verdict else 0.0,
                   "report": verdict.report() if verdict else f"not graded: {reason}"}
        try:
            wire.send(connection, message)
        except OSError:
            pass
