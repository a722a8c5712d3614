"""The catalog: projects (name to folder), builds, project versions and volume versions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from emulator.models import Build, now_ns
from emulator.store.db import Database


class CatalogTables(Database):
    def upsert_project(self, name: str, root: Path) -> None:
        """Record the project's folder the first time its name is seen; only claim_project moves
        a name to another folder (so a run never silently takes over another project's name)."""
        with self._tx() as db:
            db.execute("INSERT INTO projects(name, root, created_ns) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
                       (name, str(root), now_ns()))

    def claim_project(self, name: str, root: Path, still_owned: Callable[[Path], bool]) -> tuple[Path | None, bool]:
        """Give the project name to `root`: (None, True) when it was free or already `root`'s;
        (the folder holding it, False) while `still_owned(folder)`, nothing written; else
        (that folder, True): the name moved to `root`."""
        with self._tx() as db:
            row = db.execute("SELECT root FROM projects WHERE name = ?", (name,)).fetchone()
            if row is None or Path(row[0]) == root:
                db.execute("INSERT INTO projects(name, root, created_ns) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
                           (name, str(root), now_ns()))
                return None, True
            previous = Path(row[0])
            if still_owned(previous):
                return previous, False
            db.execute("UPDATE projects SET root = ? WHERE name = ?", (str(root), name))
        return previous, True

    def add_build(self, build: Build) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO builds(project, key, image_id, tag, parent_image, depth, created_ns, inputs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (build.project, build.key, build.image_id, build.tag, build.parent_image, build.depth,
                 build.created_ns, json.dumps(build.inputs)),
            )

    def builds(self, project: str) -> list[Build]:
        """The project's builds, newest first."""
        rows = self._connection().execute(
            "SELECT project, key, image_id, tag, parent_image, depth, created_ns, inputs FROM builds "
            "WHERE project = ? ORDER BY id DESC",
            (project,),
        )
        return [Build(**{**dict(row), "inputs": json.loads(row["inputs"])}) for row in rows]

    def project_root(self, project: str) -> Path | None:
        row = self._connection().execute("SELECT root FROM projects WHERE name = ?", (project,)).fetchone()
        return Path(row[0]) if row else None

    def add_project_version(self, name: str, files: dict) -> tuple[int, bool]:
        """A new version of the project's `files`, unless they are the latest version's: (version,
        whether it was made). An unchanged re-upload keeps the latest, as volumes do; one
        transaction, so two uploads at once cannot both make it."""
        with self._tx() as db:
            latest = db.execute("SELECT version, files FROM project_versions WHERE name = ? "
                                "ORDER BY version DESC LIMIT 1", (name,)).fetchone()
            if latest is not None and json.loads(latest[1]) == files:
                return latest[0], False
            version = (latest[0] if latest else 0) + 1
            db.execute("INSERT INTO project_versions(name, version, files, created_ns) VALUES (?, ?, ?, ?)",
                       (name, version, json.dumps(files), now_ns()))
        return version, True

    def project_versions(self, name: str) -> list[tuple[int, dict]]:
        rows = self._connection().execute(
            "SELECT version, files FROM project_versions WHERE name = ? ORDER BY version", (name,))
        return [(row[0], json.loads(row[1])) for row in rows]

    def add_volume_version(self, version) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO volume_versions(name, version, files, new_bytes, created_ns, folders) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (version.name, version.version, json.dumps(version.files), version.new_bytes,
                        version.created_ns, json.dumps(list(version.folders))))

    def volume_versions(self, name: str) -> list:
        from emulator.volumes import VolumeVersion

        rows = self._connection().execute(
            "SELECT name, version, files, new_bytes, created_ns, folders FROM volume_versions WHERE name = ? "
            "ORDER BY version", (name,))
        return [VolumeVersion(row[0], row[1], json.loads(row[2]), row[3], row[4], tuple(json.loads(row[5])))
                for row in rows]

    def volume_names(self) -> list[str]:
        return [row[0] for row in self._connection().execute("SELECT DISTINCT name FROM volume_versions ORDER BY name")]
