"""The environment is pinned, and environment.yml mirrors the pip requirements."""
import re
from importlib import metadata

import yaml

from conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)$")


def requirement_lines(name):
    lines = []
    for raw in (REPO / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-r "):
            lines.append(line)
    return lines


def test_every_requirement_is_pinned_exactly():
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in requirement_lines(name):
            assert PIN.match(line), f"{name}: {line!r} is not pinned with =="


def test_environment_yml_mirrors_requirements_txt():
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d)
    assert sorted(pip) == sorted(requirement_lines("requirements.txt"))


def test_test_requirements_extend_the_course_requirements_and_pin_the_cpu_torch():
    text = (REPO / "requirements-test.txt").read_text()
    assert "-r requirements.txt" in text
    assert "torch==2.13.0" in requirement_lines("requirements-test.txt")


def test_installed_versions_match_the_pins():
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in requirement_lines(name):
            package, version = PIN.match(line).groups()
            installed = metadata.version(package)
            assert installed.split("+")[0] == version, f"{package}: installed {installed}, pinned {version}"


def test_github_actions_runs_the_same_command_as_ci():
    """.github/workflows/ci.yml and .ci/run both run the README's test command, `make test`."""
    import yaml

    from conftest import REPO

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    commands = [step["run"] for step in steps if "run" in step]
    assert any(command.split()[-2:] == ["make", "test"] for command in commands), commands
    ci_run = (REPO / ".ci" / "run").read_text()
    assert "make test" in [line.strip() for line in ci_run.splitlines()]
