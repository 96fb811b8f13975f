"""The lock and the conda environments (envs/*.yaml) agree with requirements.txt."""

import re

import yaml
from conftest import REPO

NOT_PYTHON = {"python", "ffmpeg", "pip"}  # interpreters and system tools, not PyPI packages


def pins(filename):
    found = {}
    for line in (REPO / filename).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#\\]+)", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_the_lock_has_every_requirement_at_its_version_with_hashes():
    locked = pins("requirements.lock")
    for name, version in pins("requirements.txt").items():
        assert locked.get(name) == version, f"requirements.lock has {name}=={locked.get(name)}, wants {version}"
    text = (REPO / "requirements.lock").read_text()
    assert text.count("--hash=sha256:") >= len(locked)  # pip installs it with --require-hashes


def env_pins(path):
    spec = yaml.safe_load(path.read_text())
    assert spec["channels"][0] == "conda-forge", path
    pins = {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for item in dep["pip"]:
                name, version = item.split("==")
                pins[name.lower()] = version
        else:
            name, _, version = dep.partition("=")
            assert name in NOT_PYTHON or version, f"{path.name}: {dep} is not pinned"
            if name not in NOT_PYTHON:
                pins[name.lower()] = version
    return pins


def test_every_env_pins_the_locked_versions():
    locked = pins("requirements.lock")
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for path in envs:
        for name, version in env_pins(path).items():
            assert name in locked, f"{path.name}: {name} is not in requirements.lock"
            assert locked[name] == version, f"{path.name}: {name}={version}, requirements.lock has {locked[name]}"


def test_every_rule_names_an_existing_env():
    for rules in (REPO / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"\.\./(envs/[^"]+)"', rules.read_text()):
            assert (REPO / env).is_file(), f"{rules.name}: {env} does not exist"
