"""The student's kernel seen from the grading job: its processes, how to stop a call, its CPU clock.

Jupyter starts the kernel (in the sandbox: sh, prlimit, bubblewrap, confine.py, then ipykernel); once
it is ready, autograder.execute runs the job's hooks with the pid Jupyter started. The check
server then gets `interrupt` (SIGUSR1 to the ipykernel process, which autograder.hidden turns
into an "Interrupted" answer) and `cpu_clock` (the CPU seconds the kernel and every process it
started have used).
"""
import os
import signal
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def attach(server, pid, groups=()):
    """Give a CheckServer the means to stop and to time the kernel Jupyter started as pid
    (groups: the sandbox's control groups, whose CPU accounting is preferred)."""
    server.interrupt = interrupter(pid)
    server.cpu_clock = cpu_clock(pid, groups)


class namespace_reaper:
    """Remembers the pid namespaces of a job's sandbox (the first process of each, with its start
    time) and, on leaving, kills them: killing that first process ends every process inside. Jupyter
    stops the kernel by killing the process it started; what that process started in its own
    session may otherwise outlive the job."""

    def __init__(self):
        self.inits = []

    def note(self, pid):
        """Record the new pid namespaces at or below pid (a kernel-ready hook)."""
        own = _namespace(os.getpid())
        for process in descendants(pid):
            found = _namespace(process)
            if found and found != own and _namespace(_parent(process)) != found:
                self.inits.append((process, _start_time(process)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for process, started in self.inits:
            if started is not None and _start_time(process) == started:
                try:
                    os.kill(process, signal.SIGKILL)
                except OSError:
                    pass


def _namespace(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except (OSError, TypeError):
        return None


def _parent(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _start_time(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def cpu_clock(pid, groups=()):
    """A callable returning the CPU seconds (user + system, all threads) used so far by the
    kernel and whatever it started: from its control groups when they account for CPU (every
    task that ever ran there), else from /proc, every process at or below pid, alive or reaped
    by a parent that waited for it."""
    from autograder import cgroups

    def seconds():
        accounted = cgroups.cpu_seconds(groups)
        if accounted is not None:
            return accounted
        total = 0
        for process in descendants(pid):
            try:
                fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # utime, stime, and cutime, cstime of its reaped children (fields 14 to 17 of stat)
            total += sum(int(value) for value in fields[11:15])
        return total / TICKS
    return seconds


def _children():
    """{parent pid: [child pids]} of every process now running (read from /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def descendants(pid):
    """pid and every process below it."""
    children, found, todo = _children(), [], [pid] if pid else []
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


class environment:
    """Temporarily set environment variables (the kernel inherits them)."""

    def __init__(self, values):
        self.values, self.saved = values, {}

    def __enter__(self):
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class ready_hooks:
    """Run callables once the notebook's kernel is ready (autograder.execute)."""

    def __init__(self, hooks):
        self.hooks = hooks

    def __enter__(self):
        from autograder import execute

        execute.KERNEL_READY_HOOKS[:] = self.hooks

    def __exit__(self, *exc):
        from autograder import execute

        execute.KERNEL_READY_HOOKS.clear()


def interrupter(pid):
    """A callable that stops the student code the kernel runs for the grader: SIGUSR1 to the
    kernel Jupyter started as process pid (in the sandbox, the ipykernel process among its
    descendants), which autograder.hidden turns into an "Interrupted" answer."""
    def interrupt():
        for kernel in kernel_processes(pid):
            try:
                os.kill(kernel, signal.SIGUSR1)
            except OSError:
                pass
    return interrupt


def kernel_processes(pid):
    """Process ids of the ipykernel processes at or below pid (read from /proc)."""
    children = _children()
    found, todo = [], [pid] if pid else []
    while todo:
        current = todo.pop()
        try:
            argv = Path(f"/proc/{current}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # the kernel is a Python running ipykernel_launcher (bubblewrap's own command line holds
        # those words too, and must not get the signal)
        if Path(argv[0].decode(errors="replace")).name.startswith("python") and b"ipykernel_launcher" in argv:
            found.append(current)
            continue  # its own children are the student's
        todo += children.get(current, [])
    return found
