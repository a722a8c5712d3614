"""Volumes, storage usage and the outbox.

One part of EmulatorPlatform (emulator/platform.py composes the parts); each part uses the
platform's `home` and `store` and may call the others' methods through `self`."""

from __future__ import annotations

from pathlib import Path

from emulator.settings import load as load_settings


class Catalog:
    def upload_volume(self, name: str, folder: Path, progress=None, scanned=None):
        """The name and folder are checked before the store is opened: refused input (an empty
        folder too) creates no home."""
        from emulator.volumes import check_volume_name, scan_volume_folder, upload_volume

        check_volume_name(name)
        scan = scan_volume_folder(folder)
        if scanned:
            scanned(scan)
        return upload_volume(self.store, self.blob_store(), name, scan, progress)

    def volumes(self) -> list:
        """The newest version of every volume."""
        return [self.store.volume_versions(name)[-1] for name in self.store.volume_names()]

    def volume_versions(self, name: str) -> list:
        from emulator.volumes import check_volume_name, never_uploaded

        check_volume_name(name)
        versions = self.store.volume_versions(name) if self.has_state() else []  # no state.db: none, and none made
        if not versions:
            raise never_uploaded(name)
        return versions

    def usage(self) -> dict:
        """What the soft quota counts and what the home holds on disk, by part (emulator/usage.py)."""
        from emulator.usage import report

        return report(self.home, self.store, load_settings().storage_quota_bytes)

    def outbox(self) -> list[dict]:
        from emulator.mail import read_outbox

        return read_outbox(self.home)
