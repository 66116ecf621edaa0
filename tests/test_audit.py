"""The static audit names what reaches for the grader, and never flags honest code."""
import pytest

from autograder import audit
from autograder.corpus import payloads


@pytest.mark.parametrize("source, finding", [
    ("import autograder.reference", "imports the grader's package"),
    ("from autograder import checks", "imports the grader's package"),
    ("__import__('autograder.reference')", "imports the grader's package"),
    ("import importlib\nimportlib.import_module(name)", "imports a module whose name is computed"),
    ("import torch", "deep-learning library"),
    ("np.allclose = lambda *a, **k: True", "changes np.allclose"),
    ("import numpy.testing\nnumpy.testing.assert_allclose = f", "changes numpy.testing.assert_allclose"),
    ("setattr(np, 'max', f)", "changes np with setattr"),
    ("import builtins\nbuiltins.float = str", "changes builtins.float"),
    ("import sys\nsys.modules['autograder.hidden'] = fake", "changes sys.modules"),
    ("get_ipython().ast_transformers.append(T())", "AST transformer"),
    ("get_ipython().input_transformers_post.append(f)", "input transformer"),
    ("get_ipython().events.register('pre_run_cell', f)", "event callback"),
    ("import sys\nsys.settrace(f)", "tracing hook"),
    ("import os\nos._exit(1)", "ends the process"),
    ("import os\nos.fork()", "forks the process"),
    ("import subprocess", "starts processes"),
    ("open('../../../source/normalization/normalization.ipynb')", "touches files outside its folder"),
    ("open('/etc/passwd')", "touches files outside its folder"),
    ("import sqlite3", "opens databases"),
    ("exec(code)", "executes generated code"),
    ("import base64\nbase64.b64decode(blob)", "decodes hidden data"),
    ("%load ../../../autograder/reference.py\n", "touches files outside its folder"),
    ("import experiment\nexperiment.replay = lambda *a, **k: table", "changes experiment.replay"),
    ("import experiment as e\ne.train = f", "changes e.train"),
])
def test_reaching_for_the_grader_is_found(source, finding):
    findings = audit.audit_source(source, "cell 1")
    assert any(finding in f for f in findings), findings


@pytest.mark.parametrize("source", [
    "import numpy as np\nx = np.zeros(3)\nx[0] = 1",
    "import sys\nprint('debug', file=sys.stderr)",
    "import warnings\nwarnings.warn('careful')",
    "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
    "def helper(x):\n    return x.mean(axis=0)\n\ncache = {'x': 1}\ncache['y'] = 2",
    "import time\nstart = time.perf_counter()",
    "out = eval_numerical_gradient(f, x)\nresult = exec_time",
    "with open('notes.txt', 'w') as handle:\n    handle.write('mine')",
    "import experiment\nexperiment.plot_accuracy(results)",
    "def f(\n",  # a syntax error is the student's problem, not an integrity finding
])
def test_honest_code_is_not_flagged(source):
    assert audit.audit_source(source, "cell 1") == []


def test_every_hostile_cheat_cell_is_found():
    for source in (payloads.COPY_FROM_SOURCE, payloads.READ_GRADEBOOK, payloads.WRITE_GRADEBOOK,
                   payloads.MONKEYPATCH_NUMPY, payloads.STRIP_ASSERTS, payloads.FAKE_SCORES,
                   payloads.FAKE_GRADER_MODULE, payloads.IMPORT_REFERENCE, payloads.FORK_BOMB):
        assert audit.audit_source(source.replace("COURSE_ROOT", "/course"), "cell"), source[:60]


def test_shell_escapes_are_found():
    assert any("shell" in f for f in audit.audit_source("!cat ../../../gradebook.db\n", "cell 1"))
