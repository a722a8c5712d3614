"""Shared fixtures. Docker tests talk to the real engine that scripts/setup.sh made answer."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, tests/tui_fakes.py
from helpers import TEST_PROJECT_PREFIX  # noqa: E402

BASE_TAG = "cycle/base:busybox"
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test with its tier, from its folder: `-m unit` selects the fast tier (no Docker engine,
    no S3 server), `-m integration` the tests against the real engine and S3."""
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else None
        if tier in ("unit", "integration"):
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    """A fresh emulator home for the test, using the offline base image for every version."""
    folder = tmp_path / "cycle-home"
    folder.mkdir()
    monkeypatch.setenv("CYCLE_HOME", str(folder))
    monkeypatch.setenv("CYCLE_BASE_IMAGE", BASE_TAG)
    return folder


@pytest.fixture(scope="session")
def engine():
    """cycle's own client of the real engine (emulator/engine/api.py); the base image is made when
    missing. Fails (never skips) without an engine."""
    from emulator.engine import docker as runtime
    from emulator.engine.baseimage import make_base_image

    api = runtime.connect()
    if runtime.image_info(api, BASE_TAG) is None:
        make_base_image(api, BASE_TAG)
    return api


@pytest.fixture(scope="session")
def docker_client(engine):
    """docker-py, to inspect what cycle made in the engine through a client independent of cycle's
    own (a test-only dependency); this session's project images are removed at the end."""
    import docker

    client = docker.from_env(timeout=300)
    yield client
    for image in client.images.list(filters={"label": "cycleswap.project"}):
        if image.labels.get("cycleswap.project", "").startswith(TEST_PROJECT_PREFIX):
            try:
                client.images.remove(image.id, force=True)
            except Exception:  # a parent of another test image: removed with it
                pass


@dataclass
class Run:
    exit_code: int
    output: str
    job: object
    logs: list


@dataclass
class Project:
    root: Path

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    name: str = "proj"

    def manifest(self, name: str | None = None, build_files=(), env: dict | None = None, extra: str = "") -> None:
        name = name or self.name
        env_text = ", ".join(f'{k} = "{v}"' for k, v in (env or {}).items())
        files = ", ".join(f'"{f}"' for f in build_files)
        self.write(".cycleswap/manifest.toml", f"""\
            [main]
            name = "{name}"
            build_files = [{files}]
            [ubuntu]
            version = "24.04"
            [job]
            env_vars = {{ {env_text} }}
            email_on_success = false
            email_on_failure = false
            {extra}
            """)

    def test(self, *args: str) -> Run:
        """`cycle project test` in-process; returns exit code, output, the job and its log."""
        from cycle.cli import app
        from emulator.platform import EmulatorPlatform

        result = CliRunner().invoke(app, ["project", "test", str(self.root), *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a bug, not a user error: show its traceback
        platform = EmulatorPlatform()
        jobs = platform.jobs(limit=1)
        job = jobs[0] if jobs else None
        logs = platform.logs(job.name) if job else []
        return Run(result.exit_code, result.output, job, logs)


@pytest.fixture
def project(tmp_path: Path, home: Path, docker_client) -> Project:
    """A small project whose build.sh and run.sh the test rewrites as it needs."""
    # Build images live in the engine, shared by every home: a unique name keeps tests apart.
    p = Project(tmp_path / "proj", name=f"{TEST_PROJECT_PREFIX}{uuid.uuid4().hex[:10]}")
    p.manifest()
    p.write(".cycleswap/build.sh", "echo building\n")
    p.write(".cycleswap/run.sh", "echo hello\n")
    return p


@pytest.fixture(scope="session")
def s3_host(tmp_path_factory):
    """moto's S3 server on 127.0.0.1, started the way `cycle emulator storage start` starts it."""
    from emulator.storage import start_server, stop_server

    server_home = tmp_path_factory.mktemp("s3-server-home")
    host = start_server(server_home)
    yield host
    stop_server(server_home)


@pytest.fixture
def s3_storage(s3_host, monkeypatch) -> str:
    """Jobs in this test store artifacts in the real S3 server."""
    monkeypatch.setenv("CYCLE_STORAGE", "s3")
    monkeypatch.setenv("LOCALSTACK_HOST", s3_host)
    return s3_host


@pytest.fixture
def fake_gpu(tmp_path, monkeypatch):
    """A fake nvidia-smi on PATH that reports a driver supporting CUDA 12.4 (no GPU exists here)."""
    folder = tmp_path / "fakebin"
    folder.mkdir()
    smi = folder / "nvidia-smi"
    smi.write_text('#!/bin/sh\necho "| NVIDIA-SMI 550.54.14   Driver Version: 550.54.14   CUDA Version: 12.4 |"\n')
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    monkeypatch.delenv("CYCLE_MACHINE_CUDA", raising=False)
    return smi


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch) -> Path:
    """CYCLE_HOME naming a folder that does not exist yet (what a first command sees)."""
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("CYCLE_HOME", str(home))
    return home
