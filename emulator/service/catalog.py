"""Volumes, storage usage and the outbox.

One part of EmulatorPlatform (emulator/platform.py composes the parts); each part uses the
platform's `home` and `store` and may call the others' methods through `self`."""

from __future__ import annotations

from pathlib import Path

from cycle.errors import BadInput
from emulator.settings import load as load_settings


class Catalog:
    def upload_volume(self, name: str, folder: Path, progress=None):
        from emulator.volumes import upload_volume

        return upload_volume(self.store, self.blob_store(), name, folder, progress)

    def volumes(self) -> list:
        """The newest version of every volume."""
        return [self.store.volume_versions(name)[-1] for name in self.store.volume_names()]

    def volume_versions(self, name: str) -> list:
        from emulator.volumes import check_volume_name

        versions = self.store.volume_versions(check_volume_name(name))
        if not versions:
            raise BadInput(f"volume {name!r} was never uploaded. `cycle volume list` shows the volumes.")
        return versions

    def usage(self) -> dict:
        volumes = sum(v.new_bytes for name in self.store.volume_names() for v in self.store.volume_versions(name))
        return {"projects": self.store.usage(), "volumes": volumes,
                "quota": load_settings().storage_quota_bytes}

    def outbox(self) -> list[dict]:
        from emulator.mail import read_outbox

        return read_outbox(self.home)
