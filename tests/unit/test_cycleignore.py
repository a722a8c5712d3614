""".cycleignore is read as git reads a .gitignore (the README says "gitignore-like", and users
write one as they write the other): `*` stops at a slash, `**` crosses folders, `!` re-includes,
a trailing slash means folders only, a slash anchors. Checked against git itself on the same
tree. Pure file listing; no engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cycle.errors import BadInput
from emulator.context import kept_despite_ignore, project_files, read_ignore_patterns

TREE = [
    "main.py", "notes.md", "top.txt", "x/top.txt", "a b.txt", "weird[1].txt",
    "data/a.csv", "data/keep.csv", "data/sub/b.csv", "data/sub/keep.csv",
    "build/out.bin", "src/build/x.py", "src/pkg/mod.py", "src/pkg/mod.pyc", "src/pkg/deep/er.py",
    "docs/tmp/g.txt", "docs/a/b/tmp/f.txt", "logs/run.log", "logs/keep/important.log",
    "checkpoints/step-1/model.pt", "checkpoints/latest.pt", "step-2/x.bin", "atom.txt", "b.txt",
    "#not-a-comment.txt", "!bang.txt", "trail.txt ", " lead.txt", "caf\udce9.txt",
    "run.1", "run.x", "Upper.md", "Ugly.md", "mixed_9.txt", "mixed_-.txt",
]

CASES = {
    "a star stops at a slash": "data/*.csv\n",
    "negation re-includes a file": "data/*.csv\n!data/keep.csv\n",
    "a double star crosses folders": "docs/**/tmp\n",
    "a double star in the middle": "src/**/*.py\n",
    "a trailing slash matches folders only": "build/\n",
    "a leading slash anchors": "/top.txt\n",
    "no slash matches at any depth": "*.pyc\nkeep.csv\n",
    "a folder left out is never re-entered": "logs/\n!logs/keep/important.log\n",
    "the last matching pattern decides": "checkpoints/\n*.pt\n!latest.pt\n",
    "spaces and escaped brackets": "a b.txt\nweird\\[1\\].txt\n",
    "only these files (folders re-included)": "*\n!*/\n!*.txt\n!*.py\n",
    "only these files with a double star": "*\n!**/\n!*.py\n",
    "a folder and its files re-included": "*\n!data\n!data/*\n",
    "folders below a folder": "docs/**/\n",
    "classes and question marks": "step-?/\n[ab]*.txt\nsrc/pkg/[!m]*.py\n",
    "escapes and trailing spaces": "\\#not-a-comment.txt   \n!\\!bang.txt\ntrail.txt\\ \n",
    "named character classes": "*.[[:digit:]]\n[[:upper:]]*\n!Ug*\nmixed_[[:alnum:]].txt\n[![:alpha:]]*.txt\n",
    "a named class beside other characters": "mixed_[-[:digit:]].txt\n[[:punct:]]*\n",
}


def _tree(root: Path, ignore: str) -> None:
    for rel in TREE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(os.fsencode(rel))
    (root / ".cycleignore").write_text(ignore)


def _kept_by_git(root: Path) -> set[str]:
    """The files git keeps (lists as untracked, not ignored) with .cycleignore as its exclude file."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--others", "--exclude-from=.cycleignore"],
                            capture_output=True, check=True).stdout.decode("utf-8", "surrogateescape")
    return set(filter(None, listed.split("\0")))


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git, the reference for .gitignore's patterns")
@pytest.mark.parametrize("ignore", CASES.values(), ids=CASES)
def test_cycleignore_leaves_out_exactly_what_git_ignores(tmp_path, ignore):
    _tree(tmp_path, ignore)
    assert {rel for rel, path in project_files(tmp_path).items() if path.is_file()} == _kept_by_git(tmp_path)


BYTES_CASES = {
    "a byte order mark": b"\xef\xbb\xbfatom.txt\n",
    "CRLF line ends": b"atom.txt\r\nb.txt\r\n",
    "a trailing tab is part of the pattern": b"atom.txt\t\n",
    "a leading space is part of the pattern": b" lead.txt\n",
    "bytes that are not UTF-8": b"caf\xe9.txt\n",
}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git, the reference for .gitignore's patterns")
@pytest.mark.parametrize("ignore", BYTES_CASES.values(), ids=BYTES_CASES)
def test_cycleignore_bytes_are_read_as_git_reads_them(tmp_path, ignore):
    _tree(tmp_path, "")
    (tmp_path / ".cycleignore").write_bytes(ignore)
    assert {rel for rel, path in project_files(tmp_path).items() if path.is_file()} == _kept_by_git(tmp_path)


def test_a_line_that_is_no_pattern_is_refused_naming_its_file_and_line(tmp_path):
    (tmp_path / ".cycleignore").write_text("# results\n*.pyc\n\ndata/[z-a]*.csv\n")
    with pytest.raises(BadInput) as refused:
        read_ignore_patterns(tmp_path)
    message = str(refused.value)
    assert f"{tmp_path / '.cycleignore'}:4: 'data/[z-a]*.csv' is not a pattern" in message
    assert "Fix or delete the line" in message and refused.value.exit_code == 2


def test_an_unknown_character_class_is_refused_naming_the_classes_git_knows(tmp_path):
    """git matches nothing with `[[:digits:]]` (a typo), so the files it meant to leave out would
    reach /app: refused, with the names that exist."""
    (tmp_path / ".cycleignore").write_text("ckpt-[[:digits:]]*\n")
    with pytest.raises(BadInput) as refused:
        read_ignore_patterns(tmp_path)
    message = str(refused.value)
    assert f"{tmp_path / '.cycleignore'}:1:" in message and "[:digits:] is no character class" in message
    assert "digit" in message.split("known:")[1]


def test_the_note_names_the_pattern_that_decided(tmp_path):
    """A later `!` pattern re-includes what an earlier one left out: the note about .cycleswap/
    files names the last pattern that matched, and none when a `!` had the last word."""
    (tmp_path / ".cycleswap").mkdir()
    for name in ("run.sh", "build.sh", "manifest.toml"):
        (tmp_path / ".cycleswap" / name).write_text("")
    (tmp_path / ".cycleignore").write_text("*.sh\n!build.sh\n.cycleswap/*.toml\n")
    assert kept_despite_ignore(tmp_path) == [(".cycleswap/manifest.toml", ".cycleswap/*.toml"),
                                             (".cycleswap/run.sh", "*.sh")]


def test_project_test_refuses_a_bad_cycleignore_before_any_job_or_engine(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cycle.cli import app

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")  # reaching the engine would fail
    project = tmp_path / "trainer"
    project.mkdir()
    assert CliRunner().invoke(app, ["project", "init", str(project)]).exit_code == 0
    (project / ".cycleignore").write_text("checkpoints/\n!\n")
    result = CliRunner().invoke(app, ["project", "test", str(project)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{project / '.cycleignore'}:2: '!' is not a pattern" in result.output
    listed = CliRunner().invoke(app, ["job", "list", "--json"])
    assert listed.exit_code == 0 and listed.stdout.strip() in ("[]", "")
