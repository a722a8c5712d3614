"""The reads behind `cycle emulator usage` and `storage stop`'s warning: what the quota counts,
which record owns each stored blob, and what one S3 store alone holds.

One aggregate of the store (StateStore combines it with the others); only reads."""

from __future__ import annotations

import json

from emulator.store.db import Database

NEWEST_OF_EVERY_PATH = "SELECT MAX(id) FROM artifacts GROUP BY job_id, path"
KEPT_JOBS = "SELECT id FROM jobs WHERE archived = 0"


def quota_total(projects: list[dict], volume_bytes: int) -> int:
    """The soft quota's count from usage()'s rows and volume_bytes(), for a caller holding both."""
    return sum(row["artifacts"] + row["logs"] for row in projects) + volume_bytes


class UsageQueries(Database):
    def quota_used(self) -> int:
        """THE bytes the soft quota counts (usage's total and a job's end-of-run warning both read
        this): the newest version of each artifact of jobs not archived, log text, and every
        volume version's new bytes."""
        return quota_total(self.usage(), self.volume_bytes())

    def volume_bytes(self) -> int:
        """The bytes every volume version added to the store (unchanged files are stored once)."""
        return self._connection().execute("SELECT COALESCE(SUM(new_bytes), 0) FROM volume_versions").fetchone()[0]

    def build_image_ids(self) -> set[str]:
        """The ids of the build images this home's projects committed."""
        return {row[0] for row in self._connection().execute("SELECT DISTINCT image_id FROM builds")}

    def blob_owners(self) -> dict[str, str]:
        """sha256 -> the record that keeps its blob in the local store, the first that names it of:
        "artifacts" (a newest version of a kept job), "volumes", "project_versions",
        "old_artifact_versions" (only older versions of rewritten files name it)."""
        owners: dict[str, str] = {}
        newest, older = self._artifact_shas()
        for part, shas in (("artifacts", newest), ("volumes", self._catalog_shas("volume_versions")),
                           ("project_versions", self._catalog_shas("project_versions")),
                           ("old_artifact_versions", older)):
            for sha in shas:
                owners.setdefault(sha, part)
        return owners

    def _artifact_shas(self) -> tuple[set[str], set[str]]:
        rows = self._connection().execute(
            f"SELECT sha256, id IN ({NEWEST_OF_EVERY_PATH}) FROM artifacts WHERE job_id IN ({KEPT_JOBS})")
        newest: set[str] = set()
        older: set[str] = set()
        for sha, is_newest in rows:
            (newest if is_newest else older).add(sha)
        return newest, older

    def _catalog_shas(self, table: str) -> set[str]:
        """Every sha256 a version of `table` (volume_versions, project_versions) lists: files are
        path -> [sha256, size, ...]."""
        shas: set[str] = set()
        for (files,) in self._connection().execute(f"SELECT files FROM {table}"):
            shas.update(entry[0] for entry in json.loads(files).values())
        return shas

    def job_states(self) -> dict[str, str]:
        """Every job's name -> its state (what a working copy under machines/ belongs to)."""
        return dict(self._connection().execute("SELECT name, state FROM jobs"))

    def held_by_store(self, store: str, since_ns: int = 0, before_ns: int = 2**63 - 1) -> tuple[int, int, int]:
        """(jobs, files, bytes) of the newest artifact versions of jobs not archived that the store
        named `store` holds, stored from `since_ns` until before `before_ns`: what is lost when that
        store forgets (or was lost when it forgot, at `before_ns`)."""
        row = self._connection().execute(
            "SELECT COUNT(DISTINCT job_id), COUNT(*), COALESCE(SUM(size), 0) FROM artifacts "
            f"WHERE id IN ({NEWEST_OF_EVERY_PATH}) AND job_id IN ({KEPT_JOBS}) AND store = ? "
            "AND uploaded_ns >= ? AND uploaded_ns < ?",
            (store, since_ns, before_ns)).fetchone()
        return row[0], row[1], row[2]
