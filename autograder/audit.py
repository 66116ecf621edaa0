"""A static audit of a submission: code that reaches for the grader instead of the math.

The audit reads every code cell a student can change (and .py files handed in with the
notebook) and reports what honest solutions never need: importing the grader or a
deep-learning library, reading or writing files outside the submission, changing numpy
or builtins, hooking IPython's input or AST transformers, tracing, ending the process,
executing generated code. Findings become integrity flags in grades.csv. They take no
points away by themselves: the sandbox and the out-of-kernel checks already make such
code earn nothing; the flag tells the instructor why.

Printing to stderr, warnings, plots and extra helper functions are never flagged.
"""
import ast
import functools

FORBIDDEN_MODULES = {
    "autograder": "imports the grader's package",
    "torch": "uses a deep-learning library (torch)",
    "tensorflow": "uses a deep-learning library (tensorflow)",
    "jax": "uses a deep-learning library (jax)",
    "sqlite3": "opens databases (sqlite3)",
    "ctypes": "calls C code directly (ctypes)",
    "subprocess": "starts processes (subprocess)",
    "socket": "opens network sockets",
    "multiprocessing": "starts processes (multiprocessing)",
    "nbgrader": "imports nbgrader",
    "decimal": "computes in extended precision (decimal): a sign of numerical differentiation",
    "fractions": "computes in exact fractions (fractions): a sign of numerical differentiation",
    "mpmath": "computes in extended precision (mpmath): a sign of numerical differentiation",
    "sympy": "uses a computer-algebra system (sympy) instead of a derivation",
    "autograd": "uses automatic differentiation (autograd)",
}
# complex-step and long-double differencing tell themselves apart from analytic code only by these
EXTENDED_NUMBERS = {"longdouble", "float128", "float96", "clongdouble", "complex64", "complex128", "complex256",
                    "csingle", "cdouble", "complexfloating", "imag"}
PATCHED_MODULES = {"np", "numpy", "builtins", "__builtins__", "sys", "math", "testing", "IPython",
                   "experiment"}
HOOK_ATTRIBUTES = {
    "ast_transformers": "installs an IPython AST transformer",
    "input_transformers_cleanup": "installs an IPython input transformer",
    "input_transformers_post": "installs an IPython input transformer",
    "input_transformer_manager": "replaces IPython's input transformer",
    "register": "registers an IPython event callback",
    "set_custom_exc": "installs a custom exception handler",
    "settrace": "installs a tracing hook",
    "setprofile": "installs a profiling hook",
    "excepthook": "replaces the exception hook",
    "_exit": "ends the process (os._exit)",
    "kill": "sends signals to processes",
    "killpg": "sends signals to processes",
    "fork": "forks the process",
    "setrecursionlimit": None,
}
SUSPICIOUS_PATH_WORDS = ("gradebook", "source", "autograded", "submitted", "release", "feedback",
                         "..", "/etc", "/proc", "/root", "/home", ".db", "nbgrader", "autograder")
FILE_FUNCTIONS = {"open", "listdir", "scandir", "walk", "glob", "iglob", "Path", "read_text",
                  "read_bytes", "write_text", "write_bytes", "unlink", "remove", "rmtree", "chdir"}


def audit_source(source, where):
    """Findings (short sentences) for one piece of Python source."""
    try:
        tree = _parse(source)
    except SyntaxError:
        return []  # a syntax error costs the student already; nothing to audit
    aliases = {alias.asname: alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names if alias.asname}
    findings = []
    for node in ast.walk(tree):
        findings += [f"{where}: {text}" for text in _inspect(node, aliases)]
    return list(dict.fromkeys(findings))


@functools.lru_cache(maxsize=256)
def _parse(source):
    """The syntax tree of a cell's source, IPython syntax included (raises SyntaxError).

    Shared by every reader of the same source: callers must not change it.
    """
    return ast.parse(_as_python(source))


def _as_python(source):
    """Cell source with IPython syntax (magics, !shell) turned into plain Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def _inspect(node, aliases=None):
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield from _module_finding(alias.name)
    elif isinstance(node, ast.ImportFrom):
        yield from _module_finding(node.module or "")
        for alias in node.names:
            if alias.name in ("_exit", "system", "execv", "execve", "fork", "kill"):
                yield f"imports os.{alias.name}"
    elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            yield from _patch_finding(target, aliases or {})
    elif isinstance(node, ast.Call):
        yield from _call_finding(node)
    elif isinstance(node, ast.Constant) and isinstance(node.value, complex):
        yield "computes in complex numbers (a complex step is a numerical derivative)"
    elif isinstance(node, ast.Attribute) and node.attr in EXTENDED_NUMBERS:
        yield f"computes in complex numbers or extended precision (.{node.attr}): a sign of numerical differentiation"
    elif isinstance(node, ast.Name) and node.id == "complex":
        yield "computes in complex numbers (a complex step is a numerical derivative)"
    elif isinstance(node, ast.Attribute) and node.attr in HOOK_ATTRIBUTES and HOOK_ATTRIBUTES[node.attr]:
        if node.attr not in ("register", "kill") or _dotted(node.value).endswith(("events", "os")):
            yield HOOK_ATTRIBUTES[node.attr]


def _module_finding(name):
    root = name.split(".")[0]
    if root in FORBIDDEN_MODULES:
        yield FORBIDDEN_MODULES[root]
    if name in ("os.system",) or name.startswith("IPython.core.inputtransformer"):
        yield f"imports {name}"


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    return ".".join(reversed(parts))


def _patch_finding(target, aliases):
    if isinstance(target, ast.Attribute):
        base = _dotted(target.value)
        parts = base.split(".")
        if aliases.get(parts[0], parts[0]).split(".")[0] in PATCHED_MODULES or parts[-1] in PATCHED_MODULES:
            yield f"changes {base}.{target.attr} (monkeypatching)"
    elif isinstance(target, ast.Subscript):
        base = _dotted(target.value)
        if base in ("sys.modules", "__builtins__", "builtins.__dict__", "np.__dict__", "numpy.__dict__"):
            yield f"changes {base}[...]"


def _call_finding(node):
    name = _dotted(node.func)
    last = name.split(".")[-1]
    if last in ("exec", "eval", "compile") and node.args and not isinstance(node.args[0], ast.Constant):
        yield f"executes generated code ({last})"
    if last in ("__import__", "import_module") and node.args:
        argument = node.args[0]
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            yield from _module_finding(argument.value)
        else:
            yield "imports a module whose name is computed"
    if last == "setattr" and node.args and _dotted(node.args[0]).split(".")[0] in PATCHED_MODULES:
        yield f"changes {_dotted(node.args[0])} with setattr (monkeypatching)"
    if last in ("system", "popen", "spawnv", "execv", "execve") and name.startswith("os."):
        yield f"runs shell commands ({name})"
    if last in ("b64decode", "a85decode", "decompress", "loads") and name.split(".")[0] in (
            "base64", "zlib", "marshal", "pickle", "codecs"):
        yield f"decodes hidden data ({name})"
    if last in FILE_FUNCTIONS:
        for argument in node.args[:1]:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                path = argument.value
                if path.startswith("/") or any(word in path for word in SUSPICIOUS_PATH_WORDS):
                    yield f"touches files outside its folder ({last}({path!r}))"
            elif last in ("open", "Path", "listdir", "scandir", "walk", "glob", "chdir"):
                text = ast.unparse(argument)
                if any(word in text for word in SUSPICIOUS_PATH_WORDS + ("__file__", "environ", "getcwd")):
                    yield f"touches files outside its folder ({last}({text[:60]}))"
    if name in ("signal.signal",):
        yield "changes signal handling"
    if last in ("system", "getoutput") and name.startswith("get_ipython()"):
        yield "runs shell commands (!...)"
    if last in ("run_line_magic", "run_cell_magic") and len(node.args) >= 2:
        magic, argument = (ast.unparse(a) for a in node.args[:2])
        if any(word in argument for word in SUSPICIOUS_PATH_WORDS) or "'/" in argument:
            yield f"touches files outside its folder (%{magic.strip(chr(39))} {argument.strip(chr(39))[:60]})"


def audit_notebook(path):
    """Findings for a submitted notebook: its code cells a student can change.

    (Only the notebook is ever collected: files handed in beside it are not read, let alone run.)
    """
    import nbformat

    try:
        notebook = nbformat.read(str(path), as_version=4)
    except Exception:
        return []
    findings = []
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("locked") and not meta.get("solution"):
            continue  # nbgrader restores locked cells from the source
        label = meta.get("grade_id") or f"cell {index + 1}"
        findings += audit_source(cell.get("source", ""), label)
    return list(dict.fromkeys(findings))


def _statements(notebook):
    """The top-level statements of the notebook's code cells, in order (cells that do not parse
    are skipped)."""
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            yield from _parse(cell.get("source", "")).body
        except SyntaxError:
            continue


def _function(notebook, name):
    """The FunctionDef of a top-level function defined in the notebook's code cells (last one wins)."""
    found = None
    for node in _statements(notebook):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            found = node
    return found


def _final_binding(notebook, name):
    """What a top-level name is last bound to in the notebook's code cells: its FunctionDef, the
    value assigned to it, or the import that names it (None when it is never bound)."""
    found = None
    for node in _statements(notebook):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            found = node
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for target in node.targets for t in ast.walk(target)):
            found = node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name) \
                and node.target.id == name and node.value is not None:
            found = node.value
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name) == name for alias in node.names):
            found = node
    return found


def _shape(function):
    """The function's body as a structure, with docstrings dropped and every name made anonymous."""
    body = function.body[1:] if function.body and isinstance(function.body[0], ast.Expr) \
        and isinstance(function.body[0].value, ast.Constant) else function.body
    names = {}
    module = ast.Module(body=[ast.parse(ast.unparse(node)).body[0] for node in body], type_ignores=[])
    for node in ast.walk(module):
        if isinstance(node, ast.Name):
            node.id = names.setdefault(node.id, f"v{len(names)}")
        elif isinstance(node, ast.arg):
            node.arg = names.setdefault(node.arg, f"v{len(names)}")
    return ast.dump(module, annotate_fields=False)


def closed_form_problem(notebook, release, closed="batchnorm_backward_alt", graph="batchnorm_backward"):
    """Why the closed-form backward is not a closed form of its own ('' when it is, or when it is
    still the release's stub).

    It is not when it refers to the graph version (calls it, or passes it on), or when its body
    is the graph version's, whatever the variable names.
    """
    binding = _final_binding(notebook, closed)
    if binding is not None and not isinstance(binding, ast.FunctionDef) and any(
            isinstance(node, ast.Name) and node.id == graph for node in ast.walk(binding)):
        return f"{closed} calls {graph} (it is bound to it, not defined on its own)"
    alt, original, stub = _function(notebook, closed), _function(notebook, graph), _function(release, closed)
    if alt is None or original is None or (stub is not None and _shape(alt) == _shape(stub)):
        return ""
    for node in ast.walk(alt):
        if (isinstance(node, ast.Name) and node.id == graph) or \
                (isinstance(node, ast.Constant) and node.value == graph):
            return f"{closed} calls {graph}"
    if alt.body and _shape(alt) == _shape(original) and len(ast.dump(alt)) > 200:
        return f"{closed} repeats the computation of {graph} step by step"
    return ""


def grading_facts(notebook, release):
    """What the hidden checks need to know of a submission beyond what its functions return."""
    return {"closed_form_problem": closed_form_problem(notebook, release)}
