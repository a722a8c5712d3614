"""The pipeline's settings (the spec's numbers) and what it reports at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.models import Artifact
from emulator.rules.stability import STABILITY_SECONDS
from emulator.rules.upload_queue import QUEUE_WARNING_SECONDS
from emulator.settings import Settings, load


@dataclass(frozen=True)
class PipelineSettings:
    """The spec's numbers; the environment may change them for tests only."""

    stability: float = STABILITY_SECONDS
    queue_warning: float = QUEUE_WARNING_SECONDS
    retries: int = 5
    backoff: float = 0.5
    polling: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineSettings:
        return cls(
            stability=settings.stability_seconds,
            queue_warning=settings.queue_warning_seconds,
            retries=settings.upload_retries,
            backoff=settings.upload_backoff,
            polling=settings.watcher_polling,
        )

    @classmethod
    def from_env(cls) -> PipelineSettings:
        """The pipeline's part of the current settings (emulator.settings reads the environment)."""
        return cls.from_settings(load())

@dataclass(frozen=True)
class PipelineFailure:
    """Why the pipeline could not do its work (the job's reason, e.g. DISK_FULL) and the one
    paragraph that says so."""

    reason: str
    message: str

@dataclass
class PipelineReport:
    """Paths here are in their display form (a storage key's relative part), printable and storable."""

    uploaded: list[Artifact] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    failure: PipelineFailure | None = None

    @property
    def uploaded_bytes(self) -> int:
        return sum(a.size for a in self.uploaded)
