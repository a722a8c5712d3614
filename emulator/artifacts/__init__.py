"""The artifact pipeline of one job: watcher → 500 ms stability → one-at-a-time upload (pipeline.py)."""

from emulator.artifacts.files import OUT_OF_SPACE, DiskFull, file_path, open_unfollowed, shown, signature_of
from emulator.artifacts.pipeline import ArtifactPipeline
from emulator.artifacts.report import PipelineFailure, PipelineReport, PipelineSettings
from emulator.artifacts.watch import TICK

__all__ = [
    "ArtifactPipeline",
    "DiskFull",
    "OUT_OF_SPACE",
    "PipelineFailure",
    "PipelineReport",
    "PipelineSettings",
    "TICK",
    "file_path",
    "open_unfollowed",
    "shown",
    "signature_of",
]
