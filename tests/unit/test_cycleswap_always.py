"""A .cycleignore never keeps the project's .cycleswap/ out of /app: the build image holds the
.cycleswap/ of the build that made it, and the build key does not cover run.sh, so a run.sh left
out ran as it was at that build (a user's `*.sh` ran `echo OLD` after run.sh said `echo NEW`).
Pure file listing, sqlite and the local blob store; no engine."""

from __future__ import annotations

from pathlib import Path

from emulator.blobs import LocalStore
from emulator.context import build_context_files, ignore_note, kept_despite_ignore, project_files
from emulator.store import StateStore
from emulator.upload import checkout, upload_project

CYCLESWAP = [".cycleswap/manifest.toml", ".cycleswap/run.sh", ".cycleswap/build.sh", ".cycleswap/lib/setup.sh"]


def _project(root: Path, ignore: str) -> Path:
    for rel in [*CYCLESWAP, "main.py", "tools/fetch.sh", ".cycleswap/jobs/j-1/output.log",
                ".cycleswap/__pycache__/x.pyc", ".cycleswap/env/pyvenv.cfg"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")
    (root / ".cycleignore").write_text(ignore)
    return root


def test_cycleignore_patterns_never_leave_out_cycleswap_files(tmp_path):
    root = _project(tmp_path, "*.sh\n*.toml\n.cycleswap/\n.cycleswap/jobs/\n")
    files = set(project_files(root))
    assert {".cycleswap", ".cycleswap/lib", *CYCLESWAP, "main.py"} <= files
    assert "tools/fetch.sh" not in files  # outside .cycleswap/ the pattern still applies
    assert not {rel for rel in files if rel.startswith(".cycleswap/jobs")}


def test_the_build_and_app_take_the_same_cycleswap_files(tmp_path):
    root = _project(tmp_path, "*.sh\n")
    in_build = {rel for rel in build_context_files(root, ()) if rel.startswith(".cycleswap")}
    in_app = {rel for rel in project_files(root) if rel.startswith(".cycleswap")}
    assert in_build == in_app == {".cycleswap", ".cycleswap/lib", *CYCLESWAP}


def test_upload_and_queue_carry_the_current_run_sh_despite_cycleignore(tmp_path):
    store, blobs = StateStore(tmp_path / "state.db"), LocalStore(tmp_path / "blobs")
    root = _project(tmp_path / "project", "*.sh\n")
    (root / ".cycleswap" / "run.sh").write_text("echo NEW\n")
    _version, files, _bytes, _created = upload_project(store, blobs, "demo", root)
    assert ".cycleswap/run.sh" in files and ".cycleswap/build.sh" in files and "tools/fetch.sh" not in files
    folder, _ = checkout(tmp_path / "home", store, lambda: blobs, "demo")  # what `job queue` runs
    assert (folder / ".cycleswap" / "run.sh").read_text() == "echo NEW\n"
    assert project_files(folder)[".cycleswap/run.sh"] == folder / ".cycleswap" / "run.sh"


def test_a_note_names_each_cycleswap_file_a_pattern_matched(tmp_path):
    root = _project(tmp_path, "*.sh\n.cycleswap/jobs/\n")
    assert kept_despite_ignore(root) == [(".cycleswap/build.sh", "*.sh"), (".cycleswap/lib/setup.sh", "*.sh"),
                                         (".cycleswap/run.sh", "*.sh")]
    note = ignore_note(root)
    assert note is not None and ".cycleswap/run.sh (pattern '*.sh')" in note and "manifest.toml" not in note
    (root / ".cycleignore").write_text("tools/\n.cycleswap/jobs/\n__pycache__\n")
    assert ignore_note(root) is None
