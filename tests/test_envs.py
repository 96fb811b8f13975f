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


def test_the_asr_env_installs_what_setup_installs_without_dependencies():
    # Resemblyzer (its weights, not its torch) comes in with --no-deps: make setup from requirements-nodeps.lock,
    # a conda env through its post-deploy script; both pin the same version and hash.
    lock = (REPO / "requirements-nodeps.lock").read_text()
    script = (REPO / "envs" / "asr.post-deploy.sh").read_text()
    pinned = re.findall(r"^([a-z0-9-]+==\S+)\s*\\?\s*\n?\s*(--hash=sha256:[0-9a-f]{64})", lock, re.M)
    assert [pin for pin, _ in pinned] == ["resemblyzer==0.1.4"]
    for pin, digest in pinned:
        assert f"{pin} {digest}" in script
    assert "--no-deps" in script and "--no-deps" in (REPO / "Makefile").read_text()
