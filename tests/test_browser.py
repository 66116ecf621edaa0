"""The course in a real browser: JupyterLab started by `make lab` on a temporary copy of the course,
driven by Selenium in headless Chromium (Debian's chromium + chromium-driver: `make browser-tools`).

One module, so that its tests share one server and one browser (`--dist loadfile` keeps them on
one worker). Every step leaves a numbered screenshot in the git-ignored `screenshots/`; a failing
step also leaves `NN-failed-<step>.png` and `.txt` with the page's text. Without Chromium, its driver
or selenium the tests fail (make test installs them): they are never skipped.
"""
import re
import shutil
import subprocess
import sys
import time

import nbformat
import pytest

import browser
from autograder import corpus, course
from autograder.corpus import hostile

MISSING = browser.browser_tools_missing()


@pytest.fixture(autouse=True)
def browser_tools():
    if MISSING:
        pytest.fail(f"the browser test cannot run: {MISSING} (make browser-tools installs them)")

ASSIGNMENT = course.assignment()
NOTEBOOK = f"{ASSIGNMENT.notebooks[0]}.ipynb"
RELEASE_PATH = f"release/{ASSIGNMENT.id}/{NOTEBOOK}"
PARTLY_RIGHT = corpus.load("examples", ["partly_right"])[0]
# Validate: the release as it is, a notebook with layer norm wrong (batch norm right), a solved one.
VALIDATE = {"blank": hostile.BLANK, "buggy": PARTLY_RIGHT, "solved": hostile.PERFECT}
GRADED_STUDENTS = {"perfect": hostile.PERFECT, "partly_right": PARTLY_RIGHT}


def cell_index(grade_id):
    """The position of the cell with this nbgrader grade_id in the released notebook."""
    release = nbformat.read(str(ASSIGNMENT.release_dir / NOTEBOOK), as_version=4)
    return next(i for i, c in enumerate(release.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def first_check_index():
    """The code cell right after batchnorm_forward's answer cell: the first check a student meets
    (a visible check cell, or the test cell that holds the visible check)."""
    release = nbformat.read(str(ASSIGNMENT.release_dir / NOTEBOOK), as_version=4)
    answer = cell_index("batchnorm_forward")
    return next(i for i in range(answer + 1, len(release.cells)) if release.cells[i].cell_type == "code")


def place_validation_notebooks(root):
    """validate/<name>/ in the course copy: the release folder with each notebook to validate."""
    for name, entry in VALIDATE.items():
        folder = root / "validate" / name
        shutil.copytree(root / "release" / ASSIGNMENT.id, folder)
        nbformat.write(corpus.notebook(entry), str(folder / NOTEBOOK))


def student_logs(graded, last=1500):
    """The end of each graded student's grading.log (what the instructor reads on a failure)."""
    texts = []
    for student in GRADED_STUDENTS:
        path = graded.root / "autograded" / student / ASSIGNMENT.id / "grading.log"
        if path.exists():
            texts.append(f"--- {student} ---\n{path.read_text()[-last:]}")
    return "\n".join(texts)


@pytest.fixture(scope="module")
def grading(module_course):
    """The class grading command, started in the background on two submissions (awaited by
    the formgrader test, so that it overlaps with the notebook tests)."""
    for student, entry in GRADED_STUDENTS.items():
        corpus.write_submission(entry, module_course.submitted, student=student)
    log = open(module_course.root / "grading.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "autograder.grade", ASSIGNMENT.id, "--quiet"],
                               cwd=module_course.root, env=module_course.env(), stdout=log,
                               stderr=subprocess.STDOUT)
    yield process, module_course
    if process.poll() is None:
        process.kill()
    process.wait()
    log.close()


@pytest.fixture(scope="module")
def lab(module_course, grading, tmp_path_factory):
    """JupyterLab (`make lab`) serving the course copy; stopped (its process group) at the end."""
    place_validation_notebooks(module_course.root)
    server = browser.start_lab(module_course.root, tmp_path_factory.mktemp("lab"))
    try:
        browser.wait_for_lab(server)
        yield server
    finally:
        browser.stop_lab(server)


@pytest.fixture(scope="module")
def driver(lab, tmp_path_factory):
    """Headless Chromium, 1280x900; screenshots/ emptied for this run."""
    browser.reset_screenshots()
    chrome = browser.start_chrome(tmp_path_factory.mktemp("chrome") / "profile")
    try:
        yield chrome
    finally:
        chrome.quit()


def run_release_notebook(driver, lab):
    """Open the release notebook in JupyterLab and Run All; return the cells' states."""
    with browser.step(driver, "open the release notebook", lab):
        browser.open_notebook(driver, lab, RELEASE_PATH, up_to_cell=first_check_index() + 1)
        browser.wait_kernel_idle(driver, lab)
        browser.screenshot(driver, "release notebook opened")
    with browser.step(driver, "run all cells of the release notebook", lab):
        browser.run_all_cells(driver)
        return browser.wait_run_complete(driver, lab)


def test_release_notebook_renders_runs_and_its_first_check_explains(driver, lab):
    run_release_notebook(driver, lab)
    with browser.step(driver, "read the release notebook", lab):
        states = browser.cell_states(driver)
        title = driver.find_element("css selector",
                                    ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown h1")
        assert "Batch Normalization versus Layer Normalization" in title.text
        setup = browser.cell_state(driver, cell_index("setup"))
        first_check = browser.cell_state(driver, first_check_index())
        assert re.fullmatch(r"\[\d+\]:", setup["prompt"]) and not setup["error"], setup
        assert re.fullmatch(r"\[\d+\]:", first_check["prompt"]), first_check
        assert not any(s["prompt"] == "[*]:" for s in states)
        # The stub returns None: the check stops with a sentence, not a NoneType TypeError.
        assert first_check["error"], first_check
        shown_text = " ".join(first_check["output"].split())
        sentence = re.search(r"Check of batchnorm_forward failed: (\S.{20,})", shown_text)
        assert sentence, shown_text[-500:]
        assert "NoneType" not in first_check["output"], first_check["output"][-500:]
        # and the student sees that sentence on the screen (innerText: rendered text only)
        shown = driver.execute_script("""
            const cell = [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]
                .find(c => Number(c.dataset.windowedListIndex) === arguments[0]);
            const outputs = cell.querySelectorAll('.jp-OutputArea-output');
            const last = outputs[outputs.length - 1];
            last.scrollIntoView({block: 'end'});
            return last.innerText;""", first_check["index"])
        assert sentence[1] in " ".join(shown.split()) or sentence[1] in shown, shown[-500:]
        # twice: JupyterLab renders the cells around the first position, which moves the page
        for _ in range(2):
            browser.scroll_to_cell(driver, first_check["index"], block="end")
        browser.screenshot(driver, "first check cell explains what is missing")


def test_notebook_fits_a_1280_pixel_window(driver, lab):
    """Best effort: at 1280 px (file browser open) menus, the toolbar with Validate, the rendered
    text and figures and the check's message need no horizontal scrolling."""
    with browser.step(driver, "layout at 1280 px", lab):
        if not browser.cell_states(driver) or not any(
                re.fullmatch(r"\[\d+\]:", s["prompt"]) for s in browser.cell_states(driver)):
            run_release_notebook(driver, lab)
        width = driver.execute_script("return document.documentElement.clientWidth")
        assert width >= 1260, f"the page is {width} px wide, not about 1280"
        panel = ".jp-NotebookPanel:not(.lm-mod-hidden) "
        problems = browser.overflowing_elements(driver, [
            ".lm-MenuBar-content", panel + ".jp-NotebookPanel-toolbar",
            panel + ".jp-RenderedMarkdown", panel + ".jp-RenderedImage",
            panel + ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
            panel + ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']"])
        validate = driver.find_element("css selector", panel + ".validate-button")
        box = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", validate)
        browser.scroll_to_cell(driver, cell_index("axis_demo"), block="end")
        browser.screenshot(driver, "notebook at 1280 px")
        assert validate.is_displayed() and box["right"] <= width, box
        assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", list(VALIDATE))
def test_validate_button_tells_what_fails(driver, lab, name):
    """nbgrader's Validate in the JupyterLab toolbar: the blank and the buggy notebook must not
    report success and must name what fails; the solved notebook reports success."""
    path = f"validate/{name}/{NOTEBOOK}"
    with browser.step(driver, f"validate the {name} notebook", lab):
        browser.open_notebook(driver, lab, path)
        result = browser.click_validate(driver)
        browser.screenshot(driver, f"validate {name} notebook dialog")
        browser.close_dialogs(driver)
    text = result["text"]
    said = f"the dialog ({result['title']!r}, {result['kind']!r}) said:\n{text[:3000]}"
    if name == "solved":
        assert "Success" in text and "validation-success" in result["kind"], said
        return
    assert "Success" not in text and "validation-success" not in result["kind"], said
    failing_part = "batchnorm_forward" if name == "blank" else "layernorm_forward"
    assert failing_part in text, f"the dialog does not name {failing_part}; " + said


def test_formgrader_shows_a_graded_submission(driver, lab, grading):
    """A TA's view: grade two submissions with the class grading command, open formgrader,
    Manual Grading → the assignment → the notebook → one student: the written answer and the
    autograded scores are there."""
    process, graded = grading
    process.wait(timeout=900)
    log = (graded.root / "grading.log").read_text()
    assert process.returncode == 0, log[-4000:]
    statuses = {student: row["status"] for student, row in graded.grades().items()}
    assert statuses == {student: "graded" for student in GRADED_STUDENTS}, (
        f"the grading command did not grade the submissions: {statuses}\n{log[-2000:]}\n"
        + student_logs(graded))
    results = {t["name"]: t.get("score") for t in graded.results("partly_right")["tests"]}
    with browser.step(driver, "formgrader: manual grading of partly_right", lab):
        browser.open_formgrader(driver, lab)
        browser.screenshot(driver, "formgrader manage assignments")
        browser.click_link(driver, "Manual Grading", exact=True)
        browser.wait_table_loaded(driver)
        browser.click_link(driver, ASSIGNMENT.id, exact=True)
        browser.wait_table_loaded(driver)
        browser.click_link(driver, ASSIGNMENT.notebooks[0], exact=True)
        browser.wait_table_loaded(driver)
        driver.find_element("xpath", "//button[contains(., 'Show All Names')]").click()
        browser.wait_until(driver, lambda d: any(a.text.strip() == "partly_right" for a in
                                                 d.find_elements("css selector", "table a")),
                           60, "the student names")
        browser.screenshot(driver, "formgrader submissions of the notebook")
        rows = browser.page_text(driver)
        assert "partly_right" in rows and "perfect" in rows, rows
        browser.click_link(driver, "partly_right", exact=True)
        # the score boxes are in the page's HTML; their values (placeholders) come from an API call
        ids = [f"test_{part}" for part in ASSIGNMENT.auto_parts]

        def scores(d):
            shown = d.execute_script("return Object.fromEntries([...document.querySelectorAll('input.score')]"
                                     ".map(e => [e.id, e.placeholder]))")
            return shown if all(shown.get(i) for i in ids) else None

        shown = browser.wait_until(driver, scores, browser.PAGE_TIMEOUT,
                                   f"the autograded scores in the score boxes {ids}")
        page = browser.page_text(driver, limit=1_000_000)
        assert corpus.WRITTEN_ANSWER in page, "the written answer is not on the page"
        for part in ASSIGNMENT.auto_parts:
            assert float(shown[f"test_{part}"]) == results[part], (part, shown, results)
        for part in ASSIGNMENT.manual_parts:
            assert part in shown and shown[part] == "", (part, shown)  # waits for the TA
        answer = driver.find_element("xpath", f"//*[contains(text(), {corpus.WRITTEN_ANSWER[:40]!r})]")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", answer)
        time.sleep(0.5)
        browser.screenshot(driver, "formgrader written answer of partly_right")
        score = driver.find_element("id", "test_layernorm_forward")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", score)
        time.sleep(0.5)
        browser.screenshot(driver, "formgrader autograded layernorm_forward of partly_right")
