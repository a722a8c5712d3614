"""The real Python trainer (fixtures/python-trainer: uv + numpy, the platform's default run.sh and
build.sh) on the real Debian base image, against the real engine.

The tests of this module share one emulator home and one project name, so the build image the
first one makes is the cache hit and the "previous build image" of the others. Builds reach PyPI
and Debian's mirror through host networking (this engine has no bridge). The project name does not
start with conftest's "test-" prefix: other test sessions on the same engine remove "test-" images
when they end, and these builds are worth keeping for the module; the module removes its own.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import Project

from emulator.models import JobState, Stream
from emulator.platform import EmulatorPlatform

from helpers import cli

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests/integration/../..)
FIXTURE = ROOT / "fixtures" / "python-trainer"
BASE = "cycle/base:bookworm"
PROJECT_NAME = f"pytest-python-trainer-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def module_home(tmp_path_factory, docker_client):
    """One emulator home for the module, on the Debian base image; its build images removed after."""
    from docker.errors import ImageNotFound

    try:
        docker_client.images.get(BASE)
    except ImageNotFound:
        pytest.fail(f"{BASE} is not in the engine: run `cycle emulator base-image` (scripts/setup.sh does) first.")
    folder = tmp_path_factory.mktemp("python-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CYCLE_HOME", str(folder))
        patch.setenv("CYCLE_BASE_IMAGE", BASE)
        patch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
        yield folder
    for image in docker_client.images.list(filters={"label": f"cycleswap.project={PROJECT_NAME}"}):
        try:
            docker_client.images.remove(image.id, force=True)
        except Exception:  # a parent of another of them: removed with it
            pass


@pytest.fixture
def trainer(module_home) -> Project:
    """A fresh copy of the fixture under the module's project name, always in the same folder: a
    project name belongs to one folder (a second folder with the same name is refused)."""
    folder = module_home.parent / f"{module_home.name}-python-trainer"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(FIXTURE, folder, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    manifest = folder / ".cycleswap" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('name = "python-trainer"', f'name = "{PROJECT_NAME}"')
                        .replace('STEP_SECONDS = "0.25"', 'STEP_SECONDS = "0.05"'))
    return Project(folder, name=PROJECT_NAME)


def system(run) -> list[str]:
    return [r.text for r in run.logs if r.stream is Stream.SYSTEM]


def stdout(run) -> list[str]:
    return [r.text for r in run.logs if r.stream is Stream.STDOUT]


def test_the_python_trainer_builds_runs_and_hits_the_cache_without_network(trainer):
    first = trainer.test()
    assert first.exit_code == 0, first.output
    assert first.job.state is JobState.FINISHED
    assert "training done: final step 40" in " ".join(stdout(first))
    assert any(line.startswith("build cache miss") and f"on the base image {BASE}" in line for line in system(first))
    assert "[build]  + numpy==2.2.6" in system(first)  # uv sync installed the locked version
    again = trainer.test("--network", "none")
    assert again.exit_code == 0, again.output
    assert any(line.startswith("build cache hit") for line in system(again))
    # uv run used build.sh's /app/.venv: no venv re-created, nothing downloaded at run time
    assert not any("Creating virtual environment" in r.text or "Ignoring existing virtual environment" in r.text
                   for r in again.logs)


def test_a_changed_pyproject_rebuilds_on_the_previous_image_and_clean_starts_from_the_base(trainer):
    built = trainer.test()
    assert built.exit_code == 0, built.output
    previous = built.job.image
    with (trainer.root / "pyproject.toml").open("a") as pyproject:
        pyproject.write(f"# changed {uuid.uuid4().hex}\n")
    rebuilt = trainer.test()
    assert rebuilt.exit_code == 0, rebuilt.output
    assert any(line.startswith("build cache miss") and f"on the previous build image {previous}" in line
               for line in system(rebuilt)), system(rebuilt)
    clean = trainer.test("--clean")
    assert clean.exit_code == 0, clean.output
    assert any(line.startswith("--clean") and f"on the base image {BASE}" in line
               for line in system(clean)), system(clean)


def test_a_drill_of_the_python_trainer_passes_and_it_resumes_from_its_checkpoints(trainer, tmp_path):
    assert trainer.test().exit_code == 0  # the build (a cache hit after the tests above)
    manifest = trainer.root / ".cycleswap" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('STEP_SECONDS = "0.05"', 'STEP_SECONDS = "0.25"'))
    result = cli("drill", str(trainer.root), "--moves", "2", "--every", "4", "--timeout", "180",
                 "--json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 0, result.output
    assert report["verdict"] == "PASS" and report["final_state"] == "FINISHED" and len(report["moves"]) == 2
    logs = [r.text for r in EmulatorPlatform().logs(report["job"], stream=Stream.STDOUT)]
    assert sum(1 for t in logs if t.startswith("resuming from checkpoint step-")) == 2, logs
    assert any(t.startswith("training done: final step 40") for t in logs)
