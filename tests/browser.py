"""Real-browser helpers: the course's JupyterLab (`make lab`) driven by Selenium in headless Chromium.

Plain functions used by tests/test_browser.py:

- `start_lab` / `wait_for_lab` / `stop_lab`: JupyterLab started exactly as the course starts it,
  `make -C <repo> lab LAB_ARGS=...` with NORMLAB_COURSE_ROOT naming the course copy to serve, on a
  free port with a random token, in its own process group (stopped by killing that group).
- `start_chrome`: Debian's chromium + chromium-driver (`make browser-tools`), headless, 1280x900.
- `open_notebook`, `wait_kernel_idle`, `run_all_cells`, `wait_run_complete`, `cell_states`,
  `click_validate`, `open_formgrader`: the steps a student or a TA takes.
- `screenshot` saves a numbered, named PNG of every step into the git-ignored `screenshots/`;
  `step` wraps a step so that a failure saves a screenshot and the page's text and says what the
  page showed.

Every wait is explicit (WebDriverWait or a polling loop) with a generous timeout: the machines that
run `make test` are slow and shared.
"""
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SCREENSHOTS = REPO / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1280, 900)
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage")

# Timeouts in seconds: generous, because a loaded 2-core machine is slow.
SERVER_TIMEOUT = 180
PAGE_TIMEOUT = 120
RUN_TIMEOUT = 300
VALIDATE_TIMEOUT = 300

# Lab settings of the test server (its own settings folder; the user's settings are not touched):
# no "fetch Jupyter news?" toast over the page. Everything else is JupyterLab's default, as
# students get it (notably the notebook's default windowing, which puts cells into the page
# progressively: helpers wait for or scroll to the cells they need).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


# --------------------------------------------------------------------------------------------------
# tools and server


def browser_tools_missing():
    """A sentence naming what is missing to run the browser test, or None when all is there."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (requirements-test.txt)")
    if missing:
        return "missing " + ", ".join(missing) + " (make browser-tools installs chromium and chromium-driver)"
    return None


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A running JupyterLab: its process, address, token, log file and the course it serves."""

    def __init__(self, process, port, token, course_root, log_path):
        self.process = process
        self.port = port
        self.token = token
        self.course_root = Path(course_root)
        self.log_path = Path(log_path)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path):
        """The address of a server path with the token (for the browser's first visit)."""
        separator = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{separator}token={self.token}"

    def api(self, path, method="GET", timeout=30):
        """Call the server's REST API; returns the decoded JSON (or None for an empty answer)."""
        request = urllib.request.Request(f"{self.base}/{path.lstrip('/')}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def log(self, last=4000):
        """The end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-last:]
        except OSError:
            return ""


def write_lab_settings(settings_dir, settings=None):
    """Write JupyterLab user settings (LAB_SETTINGS by default) into a settings folder."""
    for name, values in (LAB_SETTINGS if settings is None else settings).items():
        path = Path(settings_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


def start_lab(course_root, workdir, extra_args=(), env=None):
    """Start JupyterLab the way the course does: `make -C <repo> lab LAB_ARGS=...`.

    NORMLAB_COURSE_ROOT names the course copy to serve (the Makefile's lab target cds into it and
    adds --allow-root as root). The server gets a free port, a random token, 127.0.0.1, and its
    own workspaces, settings and runtime folders under `workdir` (so it neither restores nor
    writes the user's ~/.jupyter/lab state or ~/.local/share/jupyter/runtime). `extra_args` are
    more JupyterLab options; `env` more environment variables. Returns a Lab; call wait_for_lab,
    and stop_lab at the end.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    settings_dir, workspaces_dir = workdir / "lab-settings", workdir / "lab-workspaces"
    workspaces_dir.mkdir(exist_ok=True)
    write_lab_settings(settings_dir)
    port, token = free_port(), secrets.token_hex(16)
    lab_args = ["--no-browser", f"--port={port}", f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1",
                "--ServerApp.port_retries=0", f"--LabApp.user_settings_dir={settings_dir}",
                f"--LabApp.workspaces_dir={workspaces_dir}", "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *extra_args]
    environment = dict(os.environ)
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{environment.get('PATH', '')}"
    environment["NORMLAB_COURSE_ROOT"] = str(course_root)
    # the server's and its kernels' runtime files (connection files, jpserver-*.json) stay in workdir
    environment["JUPYTER_RUNTIME_DIR"] = str(workdir / "runtime")
    environment.update(env or {})
    log_path = workdir / f"lab-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(["make", "-C", str(REPO), "lab", "LAB_ARGS=" + " ".join(lab_args)],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=environment, start_new_session=True)
    return Lab(process, port, token, course_root, log_path)


def wait_for_lab(lab, timeout=SERVER_TIMEOUT):
    """Wait until the server answers /api/status and serves /lab; raise with its log if not."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {lab.process.returncode}:\n{lab.log()}")
        try:
            lab.api("api/status", timeout=10)
            with urllib.request.urlopen(lab.url("lab"), timeout=30) as answer:
                if answer.status == 200:
                    return lab
        except (urllib.error.URLError, OSError, ValueError) as error:
            last_error = error
        time.sleep(1)
    raise TimeoutError(f"JupyterLab did not answer on port {lab.port} within {timeout} s "
                       f"({last_error}):\n{lab.log()}")


def _group_alive(lab):
    lab.process.poll()  # reap `make` itself, or its zombie would count as alive
    try:
        os.killpg(lab.process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_lab(lab, timeout=30):
    """Stop the server: shut its kernels down, then end its whole process group.

    SIGTERM first, so that JupyterLab shuts down cleanly; SIGKILL for whatever of the group is
    still there after `timeout` seconds.
    """
    if lab.process.poll() is None:
        with contextlib.suppress(Exception):
            for kernel in lab.api("api/kernels", timeout=10) or []:
                lab.api(f"api/kernels/{kernel['id']}", method="DELETE", timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(lab.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _group_alive(lab) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_alive(lab):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lab.process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        lab.process.wait(timeout=10)


# --------------------------------------------------------------------------------------------------
# browser, screenshots, failures


def start_chrome(profile_dir):
    """Headless Chromium (Debian's chromium + chromedriver) with a fresh profile, window 1280x900."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile_dir = Path(profile_dir)
    shutil.rmtree(profile_dir, ignore_errors=True)
    profile_dir.mkdir(parents=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    service = Service(CHROMEDRIVER, log_output=str(profile_dir.parent / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(PAGE_TIMEOUT)
    return driver


_shots = {"count": 0}


def reset_screenshots():
    """Empty screenshots/ (the folder shows the last run only) and restart the numbering."""
    if SCREENSHOTS.exists():
        for path in SCREENSHOTS.iterdir():
            if path.suffix in (".png", ".txt") and path.is_file():
                path.unlink()
    SCREENSHOTS.mkdir(exist_ok=True)
    _shots["count"] = 0


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:70] or "step"


def screenshot(driver, name):
    """Save a PNG of the page as screenshots/NN-<name>.png (numbered in order); return its path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    _shots["count"] += 1
    path = SCREENSHOTS / f"{_shots['count']:02d}-{_slug(name)}.png"
    driver.save_screenshot(str(path))
    return path


def page_text(driver, limit=6000):
    """The visible text of the page (document.body.innerText), shortened to `limit` characters."""
    try:
        text = driver.execute_script("return document.body ? document.body.innerText : ''") or ""
    except Exception as error:  # the browser itself broke
        return f"<page text unavailable: {error}>"
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


@contextlib.contextmanager
def step(driver, name, lab=None):
    """Run one step; on failure save a screenshot and the page text, and say what the page showed.

    The failure is re-raised as an AssertionError whose message has the step, the original error,
    the files written, the page's visible text and (given `lab`) the end of the server log.
    """
    try:
        yield
    except Exception as error:
        try:
            shot = screenshot(driver, f"FAILED-{name}")
            text = page_text(driver, limit=100_000)
            shot.with_suffix(".txt").write_text(f"URL: {driver.current_url}\n\n{text}")
            saved = f"{shot} and {shot.with_suffix('.txt')}"
        except Exception as secondary:
            saved, text = f"(no screenshot: {secondary})", ""
        message = (f"browser step {name!r} failed: {type(error).__name__}: {error}\n"
                   f"saved {saved}\n--- the page showed ---\n{text[:4000]}")
        if lab is not None:
            message += f"\n--- JupyterLab log ---\n{lab.log(2500)}"
        raise AssertionError(message) from error


def wait_until(driver, condition, timeout, what):
    """Wait until condition(driver) is truthy and return its value; TimeoutError says `what`."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5,
                             ignored_exceptions=(WebDriverException,)).until(condition)
    except TimeoutException:
        raise TimeoutError(f"waited {timeout} s for {what}") from None


def _visible(driver, css):
    elements = [e for e in driver.find_elements("css selector", css) if e.is_displayed()]
    return elements[0] if elements else None


def click_when_ready(driver, css, timeout=PAGE_TIMEOUT, what=None):
    """Wait for a visible element matching `css`, click it, return it."""
    element = wait_until(driver, lambda d: _visible(d, css), timeout, what or f"a visible {css}")
    try:
        element.click()
    except Exception:  # covered by something (a toast): click through JavaScript
        driver.execute_script("arguments[0].click()", element)
    return element


# --------------------------------------------------------------------------------------------------
# JupyterLab notebooks


_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def open_notebook(driver, lab, path, up_to_cell=0, timeout=PAGE_TIMEOUT):
    """Open a notebook (path relative to the served course) in JupyterLab.

    Waits until its tab is the current one, its toolbar shows a kernel status and the page has
    its cells up to index `up_to_cell` (JupyterLab adds cells to the page progressively).
    Returns the number of cells of the file.
    """
    with open(lab.course_root / path) as handle:
        count = len(json.load(handle)["cells"])
    # ?reset: a fresh workspace, so the page has this notebook only (not every earlier tab)
    driver.get(lab.url(f"lab/tree/{path}?reset"))
    current_tab = ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current"
    wait_until(driver, lambda d: any(f"Path: {path}" in (t.get_attribute("title") or "")
                                     for t in d.find_elements("css selector", current_tab)),
               timeout, f"the current tab to be {path}")
    wait_until(driver, lambda d: (kernel_status(d) or "unknown").lower() != "unknown", timeout,
               "the notebook toolbar's kernel status")
    wait_cell_rendered(driver, min(up_to_cell, count - 1), timeout)
    return count


def _rendered_indices(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' .jp-Notebook .jp-Cell')]"
        ".map(c => Number(c.dataset.windowedListIndex));", _PANEL)


def wait_cell_rendered(driver, index, timeout=PAGE_TIMEOUT):
    """Wait until cell `index` of the current notebook is in the page, scrolling down if needed."""
    def rendered(d):
        indices = _rendered_indices(d)
        if index in indices:
            return True
        if indices:  # bring the last rendered cell into view: JupyterLab renders what follows
            d.execute_script(
                "const cells = document.querySelectorAll(arguments[0] + ' .jp-Notebook .jp-Cell');"
                "cells[cells.length - 1].scrollIntoView({block: 'end'});", _PANEL)
        return False

    wait_until(driver, rendered, timeout, f"cell {index} of the notebook in the page")


def kernel_status(driver):
    """The notebook toolbar's kernel status text ("Idle", "Busy", "Starting", "Unknown"...)."""
    return driver.execute_script(
        "const panel = document.querySelector(arguments[0]);"
        "const item = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');"
        "if (!item) return null;"
        "const text = (item.closest('.jp-Toolbar-item') || item).textContent.trim();"
        "return (text.match(/Kernel status: *(\\w+)/) || [null, item.dataset.status])[1];", _PANEL)


def _kernels_idle(lab):
    kernels = lab.api("api/kernels", timeout=10) or []
    return bool(kernels) and all(k.get("execution_state") == "idle" for k in kernels)


def wait_kernel_idle(driver, lab, timeout=PAGE_TIMEOUT):
    """Wait until the notebook's kernel has started and is idle (toolbar and server agree)."""
    wait_until(driver, lambda d: (kernel_status(d) or "").lower() == "idle" and _kernels_idle(lab),
               timeout, "an idle kernel (toolbar 'Kernel status: Idle' and the server's kernel idle)")


def run_all_cells(driver, timeout=PAGE_TIMEOUT):
    """Run → Run All Cells, through the menu bar as a student does."""
    menu = wait_until(driver, lambda d: next((e for e in d.find_elements(
        "css selector", ".lm-MenuBar-item") if e.text.strip() == "Run"), None), timeout, "the Run menu")
    menu.click()
    click_when_ready(driver, '.lm-Menu-item[data-command="runmenu:run-all"]', timeout,
                     "Run All Cells in the Run menu")


def cell_states(driver):
    """The cells of the current notebook that are in the page: their index in the notebook, type,
    prompt, first characters of source, output text, and whether an output is an error."""
    return driver.execute_script("""
        const panel = document.querySelector(arguments[0]);
        if (!panel) return [];
        return [...panel.querySelectorAll('.jp-Notebook .jp-Cell')].map(cell => {
            const prompt = cell.querySelector('.jp-InputArea-prompt');
            const editor = cell.querySelector('.cm-content');
            const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')];
            return {
                index: Number(cell.dataset.windowedListIndex),
                type: cell.classList.contains('jp-CodeCell') ? 'code'
                    : cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw',
                prompt: prompt ? prompt.textContent.trim() : '',
                source: editor ? editor.textContent.slice(0, 200) : '',
                error: outputs.some(o => o.dataset.mimeType === 'application/vnd.jupyter.stderr'
                                         && /Error|Traceback|^Check of \\w+ failed:/m.test(o.textContent)),
                output: outputs.map(o => o.textContent).join('\\n'),
                mimeTypes: outputs.map(o => o.dataset.mimeType || ''),
            };
        }).sort((a, b) => a.index - b.index);""", _PANEL)


def cell_state(driver, index, timeout=PAGE_TIMEOUT):
    """cell_states() of one cell (waits for it to be in the page)."""
    wait_cell_rendered(driver, index, timeout)
    return next(s for s in cell_states(driver) if s["index"] == index)


def wait_run_complete(driver, lab, timeout=RUN_TIMEOUT, settle=3.0):
    """Wait until a Run All finished: no cell in the page shows [*], the toolbar's kernel status
    and the server's kernels are idle, and that stays so for `settle` seconds.
    Returns cell_states()."""
    deadline = time.monotonic() + timeout
    calm_since = None
    while True:
        states = cell_states(driver)
        busy = [s for s in states if s["prompt"] == "[*]:"]
        idle = (kernel_status(driver) or "").lower() == "idle" and _kernels_idle(lab)
        started = any(re.match(r"\[\d+\]:", s["prompt"]) for s in states)
        if idle and started and not busy:
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since >= settle:
                return states
        else:
            calm_since = None
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run did not finish in {timeout} s: {len(busy)} cell(s) still [*], "
                               f"kernel {kernel_status(driver)!r}, started={started}")
        time.sleep(0.5)


def scroll_to_cell(driver, index, block="center"):
    """Scroll cell `index` of the current notebook into view (block: start, center, end)."""
    wait_cell_rendered(driver, index)
    driver.execute_script(
        "const cell = [...document.querySelectorAll(arguments[0] + ' .jp-Notebook .jp-Cell')]"
        ".find(c => Number(c.dataset.windowedListIndex) === arguments[1]);"
        "cell.scrollIntoView({block: arguments[2]});", _PANEL, index, block)
    time.sleep(0.5)


def close_dialogs(driver):
    """Press the accept button of every open JupyterLab dialog."""
    for button in driver.find_elements("css selector", ".jp-Dialog .jp-Dialog-button.jp-mod-accept"):
        with contextlib.suppress(Exception):
            button.click()
    wait_until(driver, lambda d: not d.find_elements("css selector", ".jp-Dialog"), 30, "the dialog to close")


def click_validate(driver, timeout=VALIDATE_TIMEOUT):
    """Click nbgrader's Validate button in the notebook toolbar; return the result dialog.

    The button saves the notebook, the server runs it (nbgrader's Validator) and a dialog opens.
    Returns {"title", "text", "kind"}: kind is the dialog's class (nbgrader-SuccessDialog or
    nbgrader-ErrorDialog) plus the result's (validation-success, validation-failed, ...). The
    dialog stays open (screenshot it, then close_dialogs).
    """
    button = wait_until(driver, lambda d: next((b for b in d.find_elements(
        "css selector", _PANEL + " .jp-NotebookPanel-toolbar .jp-ToolbarButtonComponent")
        if b.text.strip() == "Validate" and b.is_displayed() and b.is_enabled()), None),
        PAGE_TIMEOUT, "nbgrader's Validate button in the notebook toolbar")
    button.click()
    titles = ("Validation Results", "Validation failed", "Version Mismatch")  # nbgrader's dialogs

    def validation_dialog(d):
        for dialog in d.find_elements("css selector", ".jp-Dialog"):
            header = dialog.find_elements("css selector", ".jp-Dialog-header")
            if header and header[0].text.strip() in titles and dialog.text.strip():
                return dialog
        return None

    found = wait_until(driver, validation_dialog, timeout,
                       f"nbgrader's validation dialog ({' / '.join(titles)})")
    return driver.execute_script("""
        const dialog = arguments[0];
        const message = dialog.querySelector('#validation-message');
        return {title: (dialog.querySelector('.jp-Dialog-header') || {}).innerText || '',
                text: (dialog.querySelector('.jp-Dialog-body') || dialog).innerText,
                kind: [dialog.className, message ? message.className : ''].join(' ')};""", found)


def overflowing_elements(driver, selectors):
    """Elements matching `selectors` whose content is wider than they are or that reach beyond
    the window's right edge: a list of descriptions (empty = nothing overflows)."""
    return driver.execute_script("""
        const found = [];
        const width = document.documentElement.clientWidth;
        for (const selector of arguments[0]) {
            for (const el of document.querySelectorAll(selector)) {
                const box = el.getBoundingClientRect();
                if (!box.width) continue;
                const style = getComputedStyle(el);
                const scrolls = ['auto', 'scroll'].includes(style.overflowX);
                if (box.right > width + 1 || (!scrolls && el.scrollWidth > el.clientWidth + 1))
                    found.push(selector + ': right=' + Math.round(box.right) + ' window=' + width +
                               ' scrollWidth=' + el.scrollWidth + ' clientWidth=' + el.clientWidth +
                               ' text=' + el.textContent.trim().slice(0, 60));
            }
        }
        return found;""", list(selectors))


# --------------------------------------------------------------------------------------------------
# formgrader


def open_formgrader(driver, lab, timeout=PAGE_TIMEOUT):
    """Open nbgrader's formgrader on its own page (/formgrader, as under JupyterHub) and wait for
    its assignment table.

    Always enter through /formgrader?token=...: that answer sets the login cookie which the
    formgrader pages' own API calls need (a deep link with ?token= renders the page, but its
    table then stays at "Loading, please wait...").
    """
    driver.get(lab.url("formgrader"))
    wait_until(driver, lambda d: "formgrade" in d.title.lower() and _table_loaded(d), timeout,
               "formgrader's page and its table")
    return driver


def _table_loaded(driver):
    text = driver.execute_script("return document.body ? document.body.innerText : ''") or ""
    return "Loading, please wait" not in text and bool(driver.find_elements("css selector", "table tbody tr"))


def wait_table_loaded(driver, timeout=PAGE_TIMEOUT):
    """Wait until a formgrader page's table has rows (its data comes from an API call)."""
    wait_until(driver, _table_loaded, timeout, "formgrader's table to load")


def click_link(driver, text, timeout=PAGE_TIMEOUT, exact=False):
    """Click the first visible link whose text is (or contains) `text`."""
    def find(d):
        for link in d.find_elements("css selector", "a"):
            label = link.text.strip()
            if link.is_displayed() and (label == text if exact else text in label):
                return link
        return None

    link = wait_until(driver, find, timeout, f"a link {text!r}")
    link.click()
    return link
