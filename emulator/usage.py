"""`cycle emulator usage`: what the soft quota counts, and what the home holds on disk, by part.

The quota counts stored bytes as the platform charges them (store/usage.py quota_used). The home
holds more: each ended job's working copy under machines/ (until `cycle job archive`), older
versions of rewritten artifacts, uploaded project versions, materialized volumes and mounts, the
state database. One walk of the home (lstat only, no hashing) sums what each part holds on disk as
du counts it (allocated blocks, a hard-linked file once), so the parts add up to `du -s` of the home.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from cycle.api.admin import BuildImagesUsage, DiskPart, S3Holding, Usage
from cycle.api.models import FINAL_STATES
from emulator.blobs import PACKS
from emulator.store.usage import quota_total

ARCHIVE_HINT = "`cycle job archive JOB` frees a job's"
PARTS: dict[str, str] = {  # part -> what it is, in the order usage prints them
    "artifacts": "stored artifacts, newest versions (local store; a job's small files are in its packs, "
                 "older versions with them)",
    "old_artifact_versions": "older versions of rewritten artifacts (local store; freed by `cycle job archive JOB`)",
    "volumes": "volumes (local store)",
    "project_versions": "uploaded project versions (local store, storage/manifests/projects)",
    "store_other": "the local store's 256 fan-out folders, manifests, and blobs no record names",
    "ended_working_copies": f"working copies of ended jobs (machines/<m>/artifacts/<job>/; {ARCHIVE_HINT})",
    "running_working_copies": "working copies of running jobs (machines/<m>/artifacts/<job>/)",
    "project_checkouts": "uploaded versions checked out to run (project-versions/)",
    "materialized_volumes": "volumes materialized for jobs (volumes/<name>/v<N>/)",
    "job_mounts": "earlier jobs' artifacts materialized for --mount-job (mounts/)",
    "state": "job records and logs (state.db)",
    "other": "everything else (agent logs, snapshots, config, folders)",
}
TOP_FOLDERS = {"project-versions": "project_checkouts", "volumes": "materialized_volumes", "mounts": "job_mounts"}
ENDED = {state.value for state in FINAL_STATES}


def part_of(rel: tuple[str, ...], job_states: dict[str, str], blob_owners: dict[str, str]) -> tuple[str, str | None]:
    """The part a path under the home (its parts, relative) belongs to, and the job whose working
    copy it is (None for the other parts). Pure: the walk calls it once per entry."""
    if not rel:
        return "other", None
    top = rel[0]
    if top.startswith("state.db"):
        return "state", None
    if top in TOP_FOLDERS:
        return TOP_FOLDERS[top], None
    if top == "machines" and len(rel) >= 4 and rel[2] == "artifacts":
        return _working_copy(rel[3], job_states)
    if top == "storage":
        return _store_part(rel, blob_owners), None
    return "other", None


def _working_copy(job: str, job_states: dict[str, str]) -> tuple[str, str | None]:
    state = job_states.get(job)
    if state is None:
        return "other", None  # no job of that name: nothing runs it, and archive cannot free it
    return ("ended_working_copies" if state in ENDED else "running_working_copies"), job


def _store_part(rel: tuple[str, ...], blob_owners: dict[str, str]) -> str:
    if rel[1:3] == (PACKS, "jobs") and len(rel) == 5:  # a job's small artifacts, all its versions
        return "artifacts"
    if rel[1:3] == ("blobs", "sha256") and len(rel) == 5:
        return blob_owners.get(rel[4], "store_other")
    if rel[1:3] == ("manifests", "projects"):
        return "project_versions"
    return "store_other"


def disk_use(home: Path, job_states: dict[str, str], blob_owners: dict[str, str]) -> list[DiskPart]:
    """Every part's bytes on disk (and the jobs of the working-copy parts), in PARTS' order."""
    sizes = dict.fromkeys(PARTS, 0)
    jobs: dict[str, set[str]] = {"ended_working_copies": set(), "running_working_copies": set()}
    for rel, size in _walk(home):
        part, job = part_of(rel, job_states, blob_owners)
        sizes[part] += size
        if job is not None:
            jobs[part].add(job)
    return [DiskPart(part=part, bytes=sizes[part], what=what,
                     jobs=len(jobs[part]) if part in jobs else None) for part, what in PARTS.items()]


def _walk(home: Path) -> Iterator[tuple[tuple[str, ...], int]]:
    """(relative parts, bytes allocated) of the home and everything under it, links not followed,
    each inode once (as du counts a hard-linked file)."""
    seen: set[tuple[int, int]] = set()
    pending: list[tuple[str, tuple[str, ...]]] = [(str(home), ())]
    while pending:
        folder, rel = pending.pop()
        try:
            info = os.lstat(folder)
            entries = list(os.scandir(folder))
        except OSError:
            continue  # gone meanwhile (a job ended, an archive ran) or unreadable: not counted
        yield rel, info.st_blocks * 512
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                pending.append((entry.path, (*rel, entry.name)))
            elif (info.st_dev, info.st_ino) not in seen:
                if info.st_nlink > 1:
                    seen.add((info.st_dev, info.st_ino))
                yield (*rel, entry.name), info.st_blocks * 512


def build_images(image_ids: set[str]) -> BuildImagesUsage:
    """The home's build images in the engine and the bytes of their own layers (each image's size
    less its parent's: the base image and earlier builds they stack on are not counted again).
    One request to the engine; when none answers they are named as not counted."""
    if not image_ids:
        return BuildImagesUsage(counted=True, images=0, bytes=0, note="")
    from cycle.errors import CycleError
    from emulator.engine.docker import connect, image_sizes

    try:
        sizes = image_sizes(connect())
    except CycleError as error:
        return BuildImagesUsage(counted=False, images=len(image_ids), bytes=0,
                                note=f"not counted: {error.message.split('. ')[0]}")
    present = [image for image in image_ids if image in sizes]
    own = sum(sizes[image][0] - sizes.get(sizes[image][1] or "", (0, None))[0] for image in present)
    return BuildImagesUsage(counted=True, images=len(present), bytes=own,
                            note="in the Docker engine, outside the home; shared with other homes on this engine")


def report(home: Path, store, quota: int | None) -> Usage:
    """The whole of `cycle emulator usage`, from the store's records and one walk of the home."""
    parts = disk_use(home, store.job_states(), store.blob_owners())
    projects, volumes = store.usage(), store.volume_bytes()  # the heavy query once (it sums every log's text)
    return Usage(projects=projects, volumes=volumes, quota=quota, quota_used=quota_total(projects, volumes),
                 home=str(home), on_disk_total=sum(p["bytes"] for p in parts), on_disk=parts,
                 build_images=build_images(store.build_image_ids()), s3_lost=lost_on_s3(home, store))


def empty_report(home: Path, quota: int | None) -> Usage:
    """A home where nothing ran (or that does not exist): nothing counted, nothing read or made."""
    parts = [DiskPart(part=part, bytes=0, what=what, jobs=0 if "working_copies" in part else None)
             for part, what in PARTS.items()]
    return Usage(projects=[], volumes=0, quota=quota, quota_used=0, home=str(home), on_disk_total=0,
                 on_disk=parts, build_images=BuildImagesUsage(counted=True, images=0, bytes=0, note=""),
                 s3_lost=None)


def lost_on_s3(home: Path, store) -> S3Holding | None:
    """The artifacts the records say cycle's moto server holds but that were stored before it last
    started: moto keeps objects in memory, so a restart lost them (None when no such server runs)."""
    from emulator.storage import moto_store

    found = moto_store(home)
    return None if found is None else moto_holding(store, found, lost=True)


def moto_holding(store, moto: tuple[str, str, int], lost: bool) -> S3Holding:
    """What the records say cycle's moto server (storage.moto_store's (name, host, start)) holds:
    stored since its start (held, lost when it stops), or before it (`lost`: gone at that start)."""
    name, host, started_ns = moto
    window = {"before_ns": started_ns} if lost else {"since_ns": started_ns}
    jobs, files, size = store.held_by_store(name, **window)
    return S3Holding(server=host, store=name, jobs=jobs, files=files, bytes=size)
