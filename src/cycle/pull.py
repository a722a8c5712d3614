"""Writers of <project-root>/.cycleswap/jobs/<job-name>/: output.log and artifacts/ (pull, tail).

Nothing is ever written outside that folder: the job name is checked, every artifact key is
mapped back to a relative path that cannot hold '..' or be absolute, and the resolved target must
stay inside artifacts/. Files land under a short temporary name in their folder (.cycle-part-<random>,
never longer than the final name) and are renamed once complete and checked, so an interrupted
pull never leaves a half-written file under its final name.

A folder that cannot be written (read-only, immutable, a file where a folder should be) or a full
disk ends in one paragraph naming the path and the fix (`saving_into`), never a traceback: pull,
tail and the TUI's download all write through this module. So does a file already there that
cannot be read to compare it with the stored one (`comparing_in`).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cycle.api import Artifact, Job, LogRecord, Platform
from cycle.api.keys import artifact_relative, check_job_name, is_inside
from cycle.api.tree import newest_tree
from cycle.errors import BadInput, CycleError
from cycle.logline import log_line


def format_line(record: LogRecord) -> str:
    """The record as `cycle job logs` prints it (the format: cycle.logline.log_line)."""
    return log_line(record.ts_ns, record.stream.value, record.text)


def job_folder(project_root: Path, job_name: str) -> Path:
    check_job_name(job_name)
    return project_root / ".cycleswap" / "jobs" / job_name


OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)
REFUSED = (errno.EACCES, errno.EPERM, errno.EROFS)
IN_THE_WAY = (errno.EEXIST, errno.ENOTDIR, errno.EISDIR)


@contextmanager
def saving_into(folder: Path, writing: Path | None = None) -> Iterator[None]:
    """Turn an OSError about a path under the project's root (folder is <root>/.cycleswap/jobs/<job>)
    into one paragraph: exit 1 when the disk is full (nothing the input can fix), exit 2 when the
    folder itself is the problem. `writing` names the file for errors that carry no path (a write
    on an open file: only a full disk, since a connection reset carries no path either). Errors
    about other paths (the emulator's home) or of other kinds pass unchanged."""
    try:
        yield
    except OSError as error:
        if error.filename is None:
            path, ours = writing, error.errno in OUT_OF_SPACE
        else:
            path, ours = Path(os.fsdecode(error.filename)), error.errno in OUT_OF_SPACE + REFUSED + IN_THE_WAY
        if not ours or path is None or not _in_project(folder, path):
            raise
        if writing is not None and path.parent == writing.parent:
            path = writing  # the file being saved, not the temporary name it is written under
        raise save_error(error, path) from None


def _in_project(folder: Path, path: Path) -> bool:
    """Whether `path` lies under the project whose job folder is `folder` (<root>/.cycleswap/jobs/<job>):
    only errors about the user's own files are theirs to fix; the emulator's home's are not."""
    return is_inside(os.path.abspath(folder.parents[2]), os.path.abspath(path))


def save_error(error: OSError, path: Path) -> CycleError:
    """The paragraph for `error` met while saving `path` into a project's folder."""
    where = path.parent
    if error.errno in OUT_OF_SPACE:
        return CycleError(f"out of disk space writing {path} ({_free_space(where)}): the download stopped and left "
                          "no partial file under its final name. Free space on that disk, or pull into a project "
                          "folder on another disk (`cycle job pull JOB --project-dir PATH`).")
    if error.errno in REFUSED:
        return BadInput(f"cannot write {path.name}: {error.strerror}; the folder {where} is not writable. Make it "
                        "writable (`chmod u+w FOLDER`, or `chattr -i FOLDER` if it was made immutable), or pull "
                        "into another project folder (`cycle job pull JOB --project-dir PATH`).")
    return BadInput(f"cannot write {path}: {error.strerror}. Something in {where} is in the way (e.g. a file "
                    "where a folder should be); move it aside, or pull into another project folder "
                    "(`cycle job pull JOB --project-dir PATH`).")


def _free_space(folder: Path) -> str:
    try:
        disk = os.statvfs(folder)
    except OSError:
        return "free space unknown"
    return f"{disk.f_bavail * disk.f_frsize} bytes free there"


def local_path(folder: Path, job_name: str, key: str) -> Path:
    """Where the artifact stored under `key` goes inside <folder>/artifacts/; refuses escapes."""
    relative = artifact_relative(job_name, key)
    root = folder / "artifacts"
    target = Path(os.fsdecode(os.path.join(os.fsencode(root), relative)))
    if not is_inside(os.path.realpath(root), os.path.realpath(target.parent)):
        raise BadInput(f"refusing storage key {key!r}: it would be written outside {root}.")
    if target.is_symlink():
        raise BadInput(f"refusing to write through the symlink {target}.")
    return target


@contextmanager
def comparing_in(folder: Path) -> Iterator[None]:
    """Turn an OSError met while comparing a file already in the job's folder with the stored one
    (a file that cannot be read, a folder that cannot be searched) into one paragraph naming it
    (exit 2), as saving_into does for writes. Errors about other paths pass unchanged."""
    try:
        yield
    except OSError as error:
        if error.filename is None:
            raise
        path = Path(os.fsdecode(error.filename))
        if not _in_project(folder, path):
            raise
        raise BadInput(f"cannot read {path}, already in {folder}, to compare it with the stored artifact: "
                       f"{error.strerror}. Make it readable (`chmod u+r FILE`, `chmod u+rx FOLDER` for a folder), "
                       "move it aside, or pull into another project folder "
                       "(`cycle job pull JOB --project-dir PATH`).") from None


def same_file(path: Path, size: int, sha256: str) -> bool:
    if not path.is_file() or path.stat().st_size != size:
        return False
    import hashlib  # here: `cycle job logs` imports this module for format_line (issue 14)

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest() == sha256


@dataclass
class SyncResult:
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)  # a newer file or folder of the same name replaced them
    bytes: int = 0
    archived: bool = False  # the job's artifacts were deleted (`cycle job archive`): nothing to download
    wanted: int = 0  # files found missing or changed here, to download


def write_output_log(folder: Path, records: Iterable[LogRecord]) -> Path:
    """output.log with every shipped line, replaced atomically."""
    path = folder / "output.log"
    part = folder / "output.log.part"
    with saving_into(folder, writing=path):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with open(part, "w", encoding="utf-8", errors="surrogateescape") as f:  # a job's bytes as printed
                for record in records:
                    f.write(format_line(record) + "\n")
            os.replace(part, path)
        except BaseException:
            part.unlink(missing_ok=True)  # a full disk, Ctrl-C: no half log left beside the last whole one
            raise
    return path


def changed_artifacts(artifacts: Iterable[Artifact], folder: Path, job_name: str, result: SyncResult,
                      known: dict[str, str] | None = None) -> list[tuple[Artifact, Path]]:
    """(artifact, local target) for each artifact the folder does not already hold byte for byte:
    the one "unchanged" rule of `job pull`, `job tail` and the TUI's download. Files already there
    go to result.skipped (never rewritten, but given their recorded mtime back), keys that would
    leave the folder to result.refused."""
    wanted: list[tuple[Artifact, Path]] = []
    for artifact in artifacts:
        with comparing_in(folder):
            target = _wanted_target(artifact, folder, job_name, result, known)
        if target is not None:
            wanted.append((artifact, target))
    return wanted


def _wanted_target(artifact: Artifact, folder: Path, job_name: str, result: SyncResult,
                   known: dict[str, str] | None) -> Path | None:
    """The artifact's local target when it must be downloaded; None when refused or already there."""
    try:
        target = local_path(folder, job_name, artifact.key)
    except BadInput:
        result.refused.append(artifact.key)
        return None
    if known is not None and known.get(artifact.key) == artifact.sha256 and target.exists():
        return None  # fetched earlier in this tail: its bytes are not read again, so its time is left as it is
    if same_file(target, artifact.size, artifact.sha256):
        give_mtime_back(target, artifact.mtime_ns)
        result.skipped.append(artifact.path)
        if known is not None:
            known[artifact.key] = artifact.sha256
        return None
    return target


def give_mtime_back(target: Path, mtime_ns: int) -> None:
    """A file skipped as unchanged gets the modified time its record keeps, as a downloaded one
    does (the platform's emulator.artifacts.files.keep_mtime, which this module may not import):
    a job that resumes from the newest checkpoint by mtime must not be misled by a local `touch`
    or a copy. 0 (a record that kept no mtime) leaves the file's own time; a right time is left
    alone, so a pull that changes nothing writes nothing. A time it may not set (another user's
    file) is one paragraph (exit 2): better than a resume that goes by the wrong file."""
    if mtime_ns <= 0 or target.stat().st_mtime_ns == mtime_ns:
        return
    try:
        os.utime(target, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
    except OSError as error:
        if error.errno not in REFUSED:
            raise
        raise BadInput(f"cannot give {target} its recorded modified time: {error.strerror} (a file of another user, "
                       "or a read-only disk). Its bytes are unchanged, but a job that resumes from the newest "
                       "checkpoint by mtime would go by the wrong time. Make the file yours (`chown`), move it "
                       "aside so pull downloads it again, or pull into another project folder "
                       "(`cycle job pull JOB --project-dir PATH`).") from None


def sync_artifacts(platform: Platform, job: Job, folder: Path, on_start: Callable[[int], None] | None = None,
                   progress: Callable[[int], None] | None = None, known: dict[str, str] | None = None,
                   landed: Callable[[Artifact], None] | None = None, result: SyncResult | None = None) -> SyncResult:
    """Download the job's stored artifacts that the folder does not already hold byte for byte.

    `on_start` hears the bytes to download (`result.wanted` says how many files), `landed` each
    file once whole; `result` (a SyncResult to fill) lets a caller interrupted midway say what
    was saved. `known` (key -> sha256 already fetched) lets tail skip unchanged files without
    hashing them. An archived job has nothing stored: the result says so and nothing is written."""
    result = result or SyncResult()
    result.archived = job.archived
    if job.archived:
        return result
    artifacts, superseded = newest_tree(platform.artifacts(job.name))
    result.superseded = [artifact.path for artifact in superseded]
    wanted = changed_artifacts(artifacts, folder, job.name, result, known)
    result.wanted = len(wanted)
    if on_start:
        on_start(sum(a.size for a, _ in wanted))
    download_wanted(platform, wanted, folder, result, progress=progress, known=known, landed=landed)
    return result


def download_wanted(platform: Platform, wanted: list[tuple[Artifact, Path]], folder: Path, result: SyncResult,
                    progress: Callable[[int], None] | None = None, known: dict[str, str] | None = None,
                    landed: Callable[[Artifact], None] | None = None) -> None:
    """Each of `wanted` (changed_artifacts' list) into <folder>/artifacts/, one after the other,
    counted in `result`: the loop behind `job pull`, `job tail` and the TUI's download. `progress`
    hears bytes as they arrive, `landed` each artifact once it is whole; `known` learns its sha256."""
    for artifact, target in wanted:
        download_one(platform, artifact, target, folder, progress)
        result.downloaded.append(artifact.path)
        result.bytes += artifact.size
        if known is not None:
            known[artifact.key] = artifact.sha256
        if landed is not None:
            landed(artifact)


def download_one(platform: Platform, artifact: Artifact, target: Path, folder: Path,
                 progress: Callable[[int], None] | None = None) -> None:
    """One artifact into `target` under <folder>/artifacts/ (its folders made first): the write
    behind `job pull`, `job tail` and the TUI's download, so all three explain an unwritable
    folder or a full disk the same way (saving_into)."""
    with saving_into(folder, writing=target):
        target.parent.mkdir(parents=True, exist_ok=True)
        platform.download_artifact(artifact, target, progress)
