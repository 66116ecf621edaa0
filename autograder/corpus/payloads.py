"""Sources of the hostile cases (autograder/corpus/hostile.py): what a determined student
puts in a notebook cell or beside it. Each is plain text, never imported by the grader."""

INFINITE_FUNCTION = '''import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    while True:
        pass
'''
IGNORES_INTERRUPT = '''import time
while True:
    try:
        time.sleep(0.01)
    except KeyboardInterrupt:
        pass
'''
COPY_FROM_SOURCE = '''import json
for path in ("COURSE_ROOT/source/normalization/normalization.ipynb",
             "../../../source/normalization/normalization.ipynb", "secrets/normalization/normalization.ipynb"):
    try:
        cells = json.load(open(path))["cells"]
    except OSError:
        continue
    for cell in cells:
        if "def batchnorm_" in "".join(cell["source"]) or "def layernorm_" in "".join(cell["source"]):
            exec("".join(cell["source"]))
'''
READ_GRADEBOOK = '''import sqlite3
for path in ("COURSE_ROOT/gradebook.db", "../../../gradebook.db"):
    try:
        rows = sqlite3.connect(path).execute("select source from source_cells").fetchall()
    except Exception as error:
        print("no gradebook:", error)
        continue
    for (source,) in rows:
        if "def batchnorm_forward" in source:
            exec(source)
'''
WRITE_GRADEBOOK = '''import sqlite3
for path in ("COURSE_ROOT/gradebook.db", "../../../gradebook.db", "/tmp/gradebook.db"):
    try:
        db = sqlite3.connect(path)
        db.execute("update grade set auto_score = 1000, manual_score = 1000")
        db.commit()
    except Exception as error:
        print("could not write", path, error)
'''
MONKEYPATCH_NUMPY = '''import numpy as np
import numpy.testing
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.max = lambda *args, **kwargs: 0.0
numpy.testing.assert_allclose = lambda *args, **kwargs: None
'''
STRIP_ASSERTS = '''import ast

class StripAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()

get_ipython().ast_transformers.append(StripAsserts())
'''
FAKE_SCORES = '''def fake_scores(lines):
    text = "".join(lines)
    if "grade_part(" in text:
        return ["10.0\\n"]
    return lines

get_ipython().input_transformers_post.append(fake_scores)
'''
FAKE_GRADER_MODULE = '''import sys, types
fake = types.ModuleType("autograder.hidden")
fake.grade_part = lambda part, namespace: 10.0
package = types.ModuleType("autograder")
package.hidden = fake
sys.modules["autograder"] = package
sys.modules["autograder.hidden"] = fake
'''
IMPORT_REFERENCE = '''from autograder.reference import (batchnorm_forward, batchnorm_backward, batchnorm_backward_alt,
                                 layernorm_forward, layernorm_backward)
'''
MEMORY_BOMB = '''import numpy as np
blocks = []
try:
    while True:
        blocks.append(np.ones(2**25))  # 256 MiB each, until the limit stops it
except MemoryError:
    print("stopped after", len(blocks) / 4, "GiB")
del blocks
'''
FORK_BOMB = '''import os, time
children = []
try:
    for _ in range(300):  # bounded: at most 300 forks, each child sleeps and exits
        pid = os.fork()
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        children.append(pid)
except OSError as error:
    print("stopped after", len(children), "children:", error)
'''
HUGE_OUTPUT = '''line = "x" * 1000
for i in range(10**7):
    print(line)
'''
NETWORK = '''import urllib.request
try:
    urllib.request.urlopen("http://example.com", timeout=3)
    print("network reachable")
except Exception as error:
    print("no network:", error)
'''
STDERR_AND_WARNINGS = '''import sys, warnings
print("debugging output on stderr", file=sys.stderr)
warnings.warn("a warning from the student's own code")
'''

# --- what a student hands in beside the notebook, or sends to the grader (issue 9) ---

# Written as files named after modules the launcher, nbgrader and the grader import: each leaves
# a marker in the host's /tmp if it is ever imported outside the sandbox (whose /tmp is private).
PLANTED_MODULE = '''import os
try:
    open("/tmp/normlab-planted-" + __name__.replace(".", "-"), "w").close()
except OSError:
    pass
'''
PLANTED_NAMES = ("random", "json", "os", "re", "subprocess", "shutil", "tempfile", "socket", "site",
                 "sitecustomize", "usercustomize", "numpy", "nbformat", "nbgrader", "nbclient", "jupyter_client",
                 "traitlets", "zmq", "tornado", "sqlalchemy", "ipykernel_launcher", "checking", "experiment",
                 "autograder")
SLEEPS_PAST_THE_BUDGET = "import time\ntime.sleep(5)\n"
HUGE_ERROR = 'raise ValueError("A" * 30_000_000)\n'
HUGE_ANSWERS = '''bn_analogy = "A" * 30_000_000
ln_analogy = "B" * 30_000_000
'''
HUGE_BATCHSIZE_ANSWER = 'batchsize_most_sensitive = "C" * 30_000_000\n'
FILLS_DISK = '''import json, os, ipykernel
targets = {
    "runtime": os.path.dirname(ipykernel.get_connection_file()),
    "matplotlib": os.environ.get("MPLCONFIGDIR", "/tmp"),
    "cwd": os.getcwd(),
    "tmp": "/tmp",
}
report = {}
for name, folder in targets.items():
    written = 0
    try:
        for i in range(40):
            with open(os.path.join(folder, f"fill-{name}-{i}.bin"), "wb") as handle:
                for _ in range(8):
                    handle.write(b"x" * 2**20)
                    written += 2**20
    except OSError:
        pass
    report[name] = written
print("DISK-REPORT", json.dumps(report))
'''
ESCAPES_IN_MESSAGES = '''def batchnorm_forward(x, gamma, beta, bn_param):
    raise ValueError("\\x1b[31mred\\x1b[0m\\nnew line\\r\\x07 bell \\udc80 surrogate \\u202e reversed")
'''
GARBAGE_TO_THE_GRADER = '''import json, os, socket, struct
def send(frame):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(os.environ["NORMLAB_CHECK_SOCKET"])
            sock.sendall(frame)
            sock.recv(100)
    except Exception as error:
        print("grader said no:", type(error).__name__)
def message(obj):
    payload = json.dumps(obj).encode()
    return struct.pack("!I", len(payload)) + payload
send(message({"op": "hello", "part": ["batchnorm_forward"]}))
send(message({"op": "hello", "part": {"a": 1}}))
send(message({"op": "hello", "part": "\\udc80"}))
send(message([1, 2, 3]))
send(struct.pack("!I", 2**31) + b"x")
send(b"\\xff" * 64)
nested = b"[" * 100_000 + b"]" * 100_000
send(struct.pack("!I", len(nested)) + nested)
send(message({"op": "hello", "part": 5}))
'''
# Everything the kernel can see of where it runs, printed for the feedback (the grader must keep the
# student's id, the seeds and the course secret out of it).
SNOOPS = '''import json, os, sys
seen = {"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv, "files": {}}
for folder in [os.getcwd(), os.path.dirname(os.getcwd()), os.path.dirname(os.path.dirname(os.getcwd())), "/tmp"]:
    try:
        names = os.listdir(folder)
    except OSError:
        continue
    seen["files"][folder] = names
    for name in names:
        path = os.path.join(folder, name)
        try:
            if os.path.isfile(path) and os.path.getsize(path) < 100_000 and not name.endswith((".npz", ".ipynb")):
                seen["files"][path] = open(path, errors="replace").read()
        except OSError:
            pass
try:
    import ipykernel
    seen["connection"] = open(ipykernel.get_connection_file()).read()
except Exception as error:
    seen["connection"] = repr(error)
print("SNOOP", json.dumps(seen))
'''
