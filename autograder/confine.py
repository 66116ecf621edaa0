"""Run a command whose file writes Landlock confines: new files only in /tmp (the sandbox's
capped tmpfs), and in the kernel's runtime folder, the one host folder it shares with the
grader, nothing but its sockets; and whose processes are limited in number.

    python -I confine.py RUNTIME_FOLDER MAX_PROCESSES -- COMMAND ARG...

The sandbox (autograder.sandbox) starts the kernel through this, after bubblewrap and before
any student code: the confinement holds for the kernel and everything it starts, whatever its
uid (in a user namespace the kernel owns the runtime folder, so permissions alone could not stop
it). It runs inside the sandbox, so it uses the standard library only. On a kernel without
Landlock (Linux before 5.13) it says so and runs the command unconfined.

The process limit is set here, inside the sandbox, because the count it caps is per user (and,
in a user namespace, per namespace): set outside, it would count the grader's own processes.
"""
import ctypes
import os
import resource
import sys

# The Landlock system calls have these numbers on every architecture (Linux 5.13+).
CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446
RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

WRITE_FILE, REMOVE_DIR, REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = (1 << n for n in range(6, 13))
REFER, TRUNCATE = 1 << 13, 1 << 14  # Landlock ABI 2 and 3


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _writes(abi):
    """Every kind of file-system write this kernel's Landlock can refuse."""
    rights = (WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO
              | MAKE_BLOCK | MAKE_SYM)
    return rights | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)


def confine(runtime_folder):
    """Confine this process (and what it execs); returns the Landlock ABI used, 0 when there is none."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(RULESET_VERSION))
    if abi <= 0:
        return 0
    handled = _writes(abi)
    attr = ctypes.c_uint64(handled)
    ruleset = libc.syscall(CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    allowed = {"/tmp": handled, "/dev": WRITE_FILE | (TRUNCATE if abi >= 3 else 0),
               runtime_folder: MAKE_SOCK | REMOVE_FILE}
    for path, rights in allowed.items():
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        rule = _PathBeneath(rights, fd)
        if libc.syscall(ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
        os.close(fd)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.syscall(RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) < 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(ruleset)
    return abi


def main(argv):
    runtime_folder, processes, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: confine.py RUNTIME_FOLDER MAX_PROCESSES -- COMMAND ARG...")
    resource.setrlimit(resource.RLIMIT_NPROC, (int(processes), int(processes)))
    if not confine(runtime_folder):
        print("normlab sandbox: this kernel has no Landlock; file writes are not confined", file=sys.stderr)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
