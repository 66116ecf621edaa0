"""The grader's end of the wire: a check server per student and the proxy checks use.

While nbgrader runs a student's notebook, each hidden test cell connects to the
CheckServer and asks for its part. The server runs autograder.checks against a
RemoteStudent, a proxy whose calls are evaluated in the student's kernel, and records
the verdict. The recorded verdict is the grade; what the kernel prints is a courtesy.
"""
import os
import socket
import threading
import weakref

import numpy as np

from autograder import checks, course, wire


_ACTIVE = []


def active_server():
    """The CheckServer of the submission this process is grading now (None outside make grade)."""
    return _ACTIVE[-1] if _ACTIVE else None


class KernelLost(checks.GradingAborted):
    """The kernel stopped answering (crash, interrupt, timeout, or a protocol violation)."""


class RemoteStudent:
    """A student's kernel seen through the interface autograder.checks uses.

    Inputs:
    - connection: a connected socket whose peer runs autograder.hidden
    - call_timeout: seconds to wait for one answer
    """

    def __init__(self, connection, call_timeout):
        self.connection = connection
        self.connection.settimeout(call_timeout)
        self.call_timeout = call_timeout
        self.to_free = []
        self.handles = weakref.WeakValueDictionary()

    def function(self, name, keep=()):
        return lambda *args: self._call(name, args, keep)

    def value(self, name):
        reply = self._request({"op": "get", "name": name})
        if not reply.get("ok"):
            raise NameError(_describe(reply.get("error")))
        value = reply.get("value")
        if isinstance(value, dict) and "__repr__" in value:
            return _Unsendable(value.get("type", "object"), value.get("__repr__", ""))
        return self._decode(value)

    def replay(self, normalization, batchnorm_backward, seed):
        reply = self._request({"op": "replay", "normalization": normalization,
                               "batchnorm_backward": batchnorm_backward, "seed": int(seed)})
        if not reply.get("ok"):
            raise checks.StudentError(_describe(reply.get("error")))
        return self._decode(reply.get("result"))

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
        except (wire.WireError, ValueError, TypeError, KeyError) as error:
            raise KernelLost(f"the kernel sent malformed data ({error})") from None

    def _request(self, message):
        message["free"], self.to_free = self.to_free, []
        try:
            wire.send(self.connection, message)
            reply = wire.receive(self.connection)
        except socket.timeout:
            raise KernelLost(f"no answer from the notebook within {self.call_timeout:g} s "
                             "(an infinite loop, or very slow code?)") from None
        except (EOFError, OSError, wire.WireError, ValueError) as error:
            raise KernelLost(f"the notebook's kernel stopped answering ({error})") from None
        return reply

    def _call(self, name, args, keep):
        encoded = [wire.encode(a) for a in args]
        reply = self._request({"op": "call", "name": name, "args": encoded, "keep": list(keep)})
        if not reply.get("ok"):
            error = reply.get("error") or {}
            if error.get("type") == "NameError":
                raise NameError(error.get("message", name))
            raise checks.StudentError(f"{name} raised {_describe(error)}")
        result = self._decode(reply.get("result"))
        for arg, echoed in zip(args, reply.get("args") or []):
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
    error = error or {}
    text = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    if error.get("where"):
        text += f" ({error['where']})"
    return text


class CheckServer:
    """Serves the hidden test cells of one student's notebook.

    Inputs:
    - socket_path: where to listen (a Unix socket the sandboxed kernel can reach)
    - student_id, assignment: whose notebook, which manifest (points and seeds)
    - call_timeout: seconds to wait for the kernel's answer to one call
    """

    def __init__(self, socket_path, student_id, assignment, call_timeout=30.0):
        self.socket_path = str(socket_path)
        self.student_id = student_id
        self.assignment = assignment
        self.call_timeout = call_timeout
        self.verdicts = {}
        self.flags = []
        self._listener = None
        self._thread = None
        self._closing = threading.Event()

    def __enter__(self):
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o666)
        self._listener.listen(4)
        self._thread = threading.Thread(target=self._serve, name=f"checks-{self.student_id}", daemon=True)
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
                self._serve_one(connection)

    def _serve_one(self, connection):
        connection.settimeout(5.0)
        try:
            hello = wire.receive(connection)
        except Exception:
            self.flags.append("a connection to the grader that did not ask for a part")
            return
        part = hello.get("part")
        if hello.get("op") != "hello" or part not in self.assignment.points or part not in checks.CHECKS:
            self.flags.append(f"a request to grade an unknown part {str(part)[:40]!r}")
            self._send_verdict(connection, None, "unknown part")
            return
        if part in self.verdicts:
            self.flags.append(f"part {part} was asked to be graded more than once")
            self._send_verdict(connection, None, "this part was already graded")
            return
        verdict = checks.Verdict(part=part, points=self.assignment.points[part])
        try:
            verdict = checks.check_part(part, RemoteStudent(connection, self.call_timeout),
                                        seed=self.assignment.seed_for(self.student_id, part),
                                        assignment_id=self.assignment.id)
        except KernelLost as error:
            verdict.note = f"grading of this part stopped: {error}"
            verdict.checks = [checks.Check("the hidden tests ran to the end", 1.0, False, verdict.note)]
        self.verdicts[part] = verdict
        self._send_verdict(connection, verdict)

    @staticmethod
    def _send_verdict(connection, verdict, reason=""):
        message = {"op": "verdict", "score": verdict.score if verdict else 0.0,
                   "report": verdict.report() if verdict else f"not graded: {reason}"}
        try:
            wire.send(connection, message)
        except OSError:
            pass
