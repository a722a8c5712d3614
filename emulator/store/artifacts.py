"""Artifacts: every stored version of each job's files, and storage usage."""

from __future__ import annotations

import json

from emulator.models import Artifact
from emulator.store.db import Database

# A job's newest record of each path, the versions readers see (what `artifacts` lists and
# `artifact_totals` counts): one definition for every query that needs it.
NEWEST_OF_EACH_PATH = "SELECT MAX(id) FROM artifacts WHERE job_id = ? GROUP BY path"
NEWEST_OF_EACH_PATH_OF_JOBS = ("SELECT MAX(id) FROM artifacts WHERE job_id IN (SELECT value FROM json_each(?)) "
                              "GROUP BY job_id, path")
"""NEWEST_OF_EACH_PATH for the jobs whose ids one JSON array lists."""
ARTIFACT_COLUMNS = "path, key, size, sha256, mtime_ns, uploaded_ns, store"


class ArtifactsTable(Database):
    def add_artifact(self, job_id: int, artifact: Artifact) -> None:
        self.add_artifacts(job_id, [artifact])

    def add_artifacts(self, job_id: int, artifacts: list[Artifact]) -> None:
        """Record stored files in ONE transaction (a commit costs ~0.1 ms on a disk: as much as
        storing a small file), all or none."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO artifacts(job_id, path, key, size, sha256, mtime_ns, uploaded_ns, store) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(job_id, a.path, a.key, a.size, a.sha256, a.mtime_ns, a.uploaded_ns, a.store) for a in artifacts],
            )

    def artifacts(self, job_id: int) -> list[Artifact]:
        """The newest stored version of each of the job's files, by path."""
        rows = self._connection().execute(
            f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE id IN ({NEWEST_OF_EACH_PATH}) ORDER BY path",
            (job_id,),
        )
        return [Artifact(*row) for row in rows]

    def artifact_totals(self, job_id: int) -> tuple[int, int]:
        """(files, bytes) of the newest stored version of each of the job's files, the versions
        `artifacts` lists, summed by ONE SQL aggregate: a status of a job with 100,000 files
        reads two numbers instead of every record."""
        files, size = self._connection().execute(
            f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM artifacts WHERE id IN ({NEWEST_OF_EACH_PATH})",
            (job_id,),
        ).fetchone()
        return files, size

    def artifact_totals_of(self, job_ids: list[int]) -> dict[int, tuple[int, int]]:
        """`artifact_totals` of many jobs in ONE query grouped by job (a listed job with no stored
        file is absent: 0, 0). The ids go in as one JSON array, so a list of any length is one
        statement (no limit on SQL variables), and the (job_id, path, id) index answers the newest
        version of each path job by job: `job list --json` of 10,000 jobs never queries per job."""
        if not job_ids:
            return {}
        rows = self._connection().execute(
            "SELECT job_id, COUNT(*), COALESCE(SUM(size), 0) FROM artifacts WHERE id IN "
            f"({NEWEST_OF_EACH_PATH_OF_JOBS}) GROUP BY job_id",
            (json.dumps(job_ids),),
        )
        return {job_id: (files, size) for job_id, files, size in rows}

    def artifact_versions(self, job_id: int) -> list[Artifact]:
        """Every stored version, in upload order."""
        rows = self._connection().execute(
            f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE job_id = ? ORDER BY id",
            (job_id,)
        )
        return [Artifact(*row) for row in rows]

    def usage(self) -> list[dict]:
        """Bytes stored per project: artifacts (the newest version of each file), logs (text)."""
        rows = self._connection().execute(
            "SELECT j.project, "
            "COALESCE((SELECT SUM(a.size) FROM artifacts a "
            "WHERE a.job_id IN (SELECT id FROM jobs WHERE project = j.project AND archived = 0) "
            "AND a.id IN (SELECT MAX(id) FROM artifacts GROUP BY job_id, path)), 0), "
            "COALESCE((SELECT SUM(LENGTH(CAST(l.text AS BLOB)) + 1) FROM logs l "
            "WHERE l.job_id IN (SELECT id FROM jobs WHERE project = j.project)), 0) "
            "FROM jobs j GROUP BY j.project ORDER BY j.project")
        return [{"project": row[0], "artifacts": row[1], "logs": row[2]} for row in rows]
