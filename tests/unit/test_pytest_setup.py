"""The test set-up itself: a pytest run must not leave its temporary files for a later run to delete.

pytest keeps the base temp folders of the last 3 sessions and deletes older ones when some LATER
pytest process exits (atexit). The integration tier writes 100,000 files in one test, so a fast-tier
run that happened to exit next spent minutes deleting them after printing its summary line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MANY_FILES = """\
def test_writes_files(tmp_path):
    for i in range(50):
        (tmp_path / f"f{i}").write_text("x")
"""


def test_a_passing_run_leaves_no_files_in_the_temp_root(tmp_path):
    (tmp_path / "test_many.py").write_text(MANY_FILES)
    temp_root = tmp_path / "temproot"
    temp_root.mkdir()
    # no third-party plugins (textual, hypothesis, xdist...): only pytest's own tmp_path handling is under test
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": str(temp_root), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                             str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(tmp_path / "test_many.py")],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    left = [p.relative_to(temp_root) for p in temp_root.rglob("*") if not p.is_dir()]
    assert not left, f"the run left {len(left)} files for a later pytest to delete, e.g. {left[:3]}"
