"""One control group per sandboxed kernel: memory, task and CPU limits for the whole submission.

prlimit's limits hold per process (3 GiB of address space each, 120 CPU-seconds each); a kernel
that forks could add them up. Control groups bound the sum: the memory of every process of the
submission together, how many tasks it may have, and one CPU's time at most. Created by the
grading job (as root, or wherever the grader may write to its own cgroup), joined by the kernel's
start command (sandbox.kernel_command) before bubblewrap starts, removed when the job ends. Where no cgroup
can be created the per-process limits are all there is (README, threat model).
"""
import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
PERIOD = 100_000  # microseconds: the whole submission gets at most one CPU's time in each period


def _own_groups():
    """{controller: this process's cgroup folder} for the CONTROLLERS (cgroup v1), or
    {"unified": the parent of the kernels' groups} on a cgroup v2 machine."""
    groups = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller in CONTROLLERS and (ROOT / controller).is_dir():
                groups[controller] = ROOT / controller / path.lstrip("/")
        if number == "0" and not controllers and (ROOT / "cgroup.controllers").exists():
            groups["unified"] = ROOT / path.lstrip("/")
    if "unified" in groups:
        # cgroup v2: a group holding processes cannot also hand controllers to children, so the
        # kernels' groups live under a folder of their own below the root
        parent = ROOT / "normlab"
        parent.mkdir(exist_ok=True)
        (ROOT / "cgroup.subtree_control").write_text("+memory +pids +cpu")
        (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
        return {"unified": parent}
    return {k: v for k, v in groups.items() if k in CONTROLLERS}


def create(name, memory_bytes, tasks):
    """Create the groups of one kernel: memory_bytes of memory and `tasks` tasks in all, and one
    CPU at most. Returns their folders ([] when this machine lets us create none: the caller then
    relies on per-process limits)."""
    folders = []
    try:
        for controller, parent in _own_groups().items():  # may raise OSError too
            folder = parent / name
            # controllers mounted together (cpu,cpuacct) reach one folder by two names: make it once
            if not any(folder.resolve() == made.resolve() for made in folders):
                folder.mkdir()
                folders.append(folder)
            if controller == "unified":
                (folder / "memory.max").write_text(str(memory_bytes))
                _optional(folder / "memory.swap.max", "0")  # absent without swap accounting
                (folder / "pids.max").write_text(str(tasks))
                (folder / "cpu.max").write_text(f"{PERIOD} {PERIOD}")
            elif controller == "memory":
                (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
                _optional(folder / "memory.memsw.limit_in_bytes", str(memory_bytes))  # swap included
            elif controller == "cpuacct":
                pass  # accounting only: cpu_seconds reads it
            elif controller == "cpu":
                (folder / "cpu.cfs_period_us").write_text(str(PERIOD))
                (folder / "cpu.cfs_quota_us").write_text(str(PERIOD))
            else:
                (folder / "pids.max").write_text(str(tasks))
    except OSError:
        remove(folders)
        return []
    return [str(f) for f in folders]


def _optional(path, value):
    """Write a setting the kernel may not offer (swap accounting is often off)."""
    try:
        path.write_text(value)
    except OSError:
        pass


def cpu_seconds(folders):
    """CPU seconds used so far by every task that ever ran in the groups (None without a group
    that accounts for CPU): unlike /proc, this counts processes nobody waited for."""
    for folder in map(Path, folders):
        try:
            if (folder / "cpuacct.usage").exists():
                return int((folder / "cpuacct.usage").read_text()) / 1e9
            if (folder / "cpu.stat").exists():
                for line in (folder / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
        except (OSError, ValueError):
            continue
    return None


def remove(folders):
    """Kill whatever still runs in the groups, then remove them."""
    for folder in map(Path, folders):
        for _ in range(50):
            try:
                pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)
        for _ in range(100):  # a group is busy until its last process has been reaped
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)
