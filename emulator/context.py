"""Which files go into a build and into /app, and the build cache key.

Pure apart from reading the project folder: tested without Docker.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from cycle.errors import BadInput
from emulator.rules.build_plan import BASE_IMAGE_INPUT, FILE_INPUT, SCRIPT_INPUT, UBUNTU_INPUT
from emulator.rules.ignore_patterns import IgnorePattern, NotAPattern, is_left_out, parse_line

IGNORE_FILE = ".cycleignore"
ALWAYS_EXCLUDED = (".git", ".cycleswap/jobs")
# Never copied into /app even without a .cycleignore: a host virtualenv copied over the one build.sh
# made in /app/.venv breaks it (uv finds an interpreter that does not exist in the container,
# deletes the venv and reinstalls at every run, which fails without network), and bytecode caches
# are the host's. Any folder holding pyvenv.cfg is a virtualenv, whatever its name.
DEFAULT_IGNORED = (".venv", "__pycache__")
VENV_MARKER = "pyvenv.cfg"


def read_ignore_patterns(root: Path) -> list[IgnorePattern]:
    """The patterns of <root>/.cycleignore, read as git reads a .gitignore
    (rules/ignore_patterns.py; a UTF-8 byte order mark is skipped, bytes that are not UTF-8 stand
    for themselves, as in file names). A line that is no pattern (a lone `!`, a range like
    `[z-a]`) is refused naming its line: skipped, it would put files into /app that the user
    meant to keep out."""
    path = root / IGNORE_FILE
    if not path.is_file():
        return []
    text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
    patterns = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            pattern = parse_line(line)
        except NotAPattern as error:
            raise BadInput(f"{path}:{number}: {line!r} is not a pattern ({error}); {IGNORE_FILE} takes "
                           ".gitignore's patterns, one a line. Fix or delete the line and run again.") from None
        if pattern is not None:
            patterns.append(pattern)
    return patterns


def leaving_out(relative: str, patterns: list[IgnorePattern], folder: bool = False) -> IgnorePattern | None:
    """The pattern that leaves `relative` out: the one leaving out the first folder above it that
    is left out (nothing inside that one can come back, as in git), else its own; None: none."""
    parts = relative.split("/")
    for depth in range(1, len(parts) + 1):
        found = is_left_out(patterns, "/".join(parts[:depth]), folder or depth < len(parts))
        if found is not None:
            return found
    return None


def _never_copied(relative: str) -> bool:
    """ALWAYS_EXCLUDED, and a path in or of a DEFAULT_IGNORED folder: never copied, whatever
    .cycleignore re-includes."""
    return (any(relative == p or relative.startswith(p + "/") for p in ALWAYS_EXCLUDED)
            or any(part in DEFAULT_IGNORED for part in relative.split("/")))


def is_virtualenv(folder: Path) -> bool:
    """A Python virtualenv (venv, virtualenv, uv) is marked by the pyvenv.cfg at its top."""
    return not folder.is_symlink() and (folder / VENV_MARKER).is_file()


CYCLESWAP = ".cycleswap"


def project_files(root: Path) -> dict[str, Path]:
    """Every file, folder and symlink of the project that is copied into /app, by relative path.

    Left out: .git, .cycleswap/jobs, DEFAULT_IGNORED, any virtualenv, and what .cycleignore lists,
    except in .cycleswap/: it is always taken whole (cycleswap_files), whatever .cycleignore says.
    The build image holds the .cycleswap/ of the build that made it, and the build key does not
    cover run.sh or manifest.toml, so a run.sh left out here would run as it was at that build.
    """
    patterns = read_ignore_patterns(root)
    files = _walk(root, root, lambda rel, folder: rel == CYCLESWAP or _never_copied(rel)
                  or is_left_out(patterns, rel, folder) is not None)  # the walk never enters a folder left out
    files.update(cycleswap_files(root))
    return dict(sorted(files.items()))


def cycleswap_files(root: Path) -> dict[str, Path]:
    """The project's .cycleswap/ folder and everything in it but jobs/ (pulled logs and artifacts,
    never walked), DEFAULT_IGNORED and virtualenvs: what both the build and /app take from it,
    .cycleignore or not."""
    cycleswap = root / CYCLESWAP
    if cycleswap.is_symlink() or not cycleswap.is_dir():
        return {CYCLESWAP: cycleswap} if cycleswap.is_symlink() else {}
    return {CYCLESWAP: cycleswap,
            **_walk(root, cycleswap, lambda rel, _folder: _never_copied(rel))}


def _walk(root: Path, top: Path, left_out: Callable[[str, bool], bool]) -> dict[str, Path]:
    """Files, folders and symlinks under `top` by path relative to `root`, but those `left_out`
    (asked with whether the path is a folder, not a link to one) and virtualenvs; a folder left
    out (or a link to one) is never walked into."""
    files: dict[str, Path] = {}
    for folder, dirnames, filenames in os.walk(top):
        base = Path(folder)
        rel_base = base.relative_to(root).as_posix()
        kept = []
        for name in sorted(dirnames):
            rel = name if rel_base == "." else f"{rel_base}/{name}"
            if left_out(rel, not (base / name).is_symlink()) or is_virtualenv(base / name):
                continue
            files[rel] = base / name
            if not (base / name).is_symlink():
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = name if rel_base == "." else f"{rel_base}/{name}"
            if not left_out(rel, False):
                files[rel] = base / name
    return files


def kept_despite_ignore(root: Path) -> list[tuple[str, str]]:
    """(path, pattern) for each file of .cycleswap/ that a .cycleignore pattern matches: it goes to
    /app anyway (project_files), and the user who wrote the pattern is told so."""
    patterns = read_ignore_patterns(root)
    found = []
    for rel, path in sorted(cycleswap_files(root).items()):
        if path.is_dir() and not path.is_symlink():
            continue
        pattern = leaving_out(rel, patterns)
        if pattern is not None:
            found.append((rel, pattern.text))
    return found


def ignore_note(root: Path) -> str | None:
    """One line about the .cycleswap/ files .cycleignore would have left out (None: none)."""
    found = kept_despite_ignore(root)
    if not found:
        return None
    listed = ", ".join(f"{rel} (pattern {pattern!r})" for rel, pattern in found)
    return (f"note: {IGNORE_FILE} matches {listed}; they go to /app anyway: .cycleswap/ always goes as it is in "
            "the project (left out, the build image's older copy would run), so no pattern keeps it out.")


def build_context_files(root: Path, build_files: tuple[str, ...]) -> dict[str, Path]:
    """What build.sh can see: .cycleswap/ (not its jobs/) and the manifest's build_files."""
    files = cycleswap_files(root) or {CYCLESWAP: root / CYCLESWAP}
    for entry in build_files:
        rel = (root / entry).resolve().relative_to(root.resolve()).as_posix()
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            files.setdefault("/".join(parts[:depth]), root / "/".join(parts[:depth]))
        files[rel] = root / rel
    return files


def build_key(build_sh: bytes, build_files: list[tuple[str, bytes]], ubuntu_version: str, base_image_id: str) -> str:
    """sha256 of build.sh, every build file (path and bytes) and the base image.

    Each part is length-prefixed so that moving bytes between a path and its content, or between
    two files, can never produce the same key.
    """
    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    part(b"build.sh")
    part(build_sh)
    for path, content in sorted(build_files):
        part(path.encode("utf-8"))
        part(content)
    part(f"ubuntu:{ubuntu_version}".encode())
    part(base_image_id.encode())
    return digest.hexdigest()


def build_inputs(build_sh: bytes, build_files: list[tuple[str, bytes]], ubuntu_version: str,
                 base_image_id: str) -> dict[str, str]:
    """What build_key is made of, part by part (digests of the files), recorded with each build so
    that a cache miss can say what changed since the last one (rules/build_plan.miss_cause)."""
    inputs = {SCRIPT_INPUT: hashlib.sha256(build_sh).hexdigest()}
    inputs.update({FILE_INPUT + path: hashlib.sha256(content).hexdigest() for path, content in sorted(build_files)})
    return {**inputs, UBUNTU_INPUT: ubuntu_version, BASE_IMAGE_INPUT: base_image_id}


def build_key_for(root: Path, build_files: tuple[str, ...], ubuntu_version: str, base_image_id: str) -> str:
    return build_key_and_inputs_for(root, build_files, ubuntu_version, base_image_id)[0]


def build_key_and_inputs_for(root: Path, build_files: tuple[str, ...], ubuntu_version: str,
                             base_image_id: str) -> tuple[str, dict[str, str]]:
    """The project's build key and its inputs (build_inputs), each file read once."""
    build_sh = root / ".cycleswap" / "build.sh"
    script = build_sh.read_bytes() if build_sh.is_file() else b""
    contents = []
    for entry in build_files:
        rel = (root / entry).resolve().relative_to(root.resolve()).as_posix()
        contents.append((rel, (root / rel).read_bytes()))
    return (build_key(script, contents, ubuntu_version, base_image_id),
            build_inputs(script, contents, ubuntu_version, base_image_id))
