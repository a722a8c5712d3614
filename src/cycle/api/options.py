"""What a client asks for when it starts a job or a drill: plain, frozen values (cycle.api)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PROGRESS_GLOBS = ("checkpoints/*", "*.ckpt", "*.pt", "*.pth", "*.safetensors", "*.h5", "*.keras",
                         "*checkpoint*", "step-*")


@dataclass(frozen=True)
class TestOptions:
    """Flags of `cycle project test` (and of `project upload`, `job queue`, `drill`)."""

    __test__ = False  # not a pytest test class, despite the name

    rebuild: bool = False
    clean: bool = False
    skip_limits: bool = False
    network: str = "auto"  # builds and jobs get the network, as on the platform; "none" for hermetic runs
    cpu: bool = False
    mounts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RunOptions(TestOptions):
    """What the agent running one job is handed: the test flags, and whether the job was queued
    (`cycle job queue`: it waits for the scheduler's next pass before taking a machine)."""

    queued: bool = False

    @classmethod
    def of(cls, options: TestOptions, queued: bool = False) -> RunOptions:
        return cls(rebuild=options.rebuild, clean=options.clean, skip_limits=options.skip_limits,
                   network=options.network, cpu=options.cpu, mounts=tuple(options.mounts), queued=queued)


@dataclass(frozen=True)
class DrillOptions:
    """Flags of `cycle drill`: when to move the job, how long to wait, which files hold progress."""

    moves: int = 3
    every: float | None = None
    at: tuple[float, ...] = ()
    seed: int | None = None
    timeout: float = 600.0
    progress_globs: tuple[str, ...] = DEFAULT_PROGRESS_GLOBS
    grace: float | None = None
    strict: bool = False  # warnings (a move that left half a checkpoint) fail the drill too
