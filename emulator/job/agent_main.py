"""The detached agent: `python -m emulator.job.agent_main JOB_ID PROJECT_DIR OPTIONS_JSON`.

Started by `cycle project test --detach`; runs the job to its end in its own session, so it
outlives the CLI that started it. Whatever goes wrong, the job ends (FAILED, AGENT_ERROR, with
the error as an event), its containers go and its machine is freed."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from cycle.errors import CycleError, JobCancelled
from emulator.job.context import RunOptions
from emulator.job.guard import describe_error
from emulator.models import JobState


def main(argv: list[str] | None = None) -> int:
    """Run job JOB_ID from PROJECT_DIR with OPTIONS_JSON (a RunOptions); 130 when cancelled."""
    from emulator.config import emulator_home
    from emulator.reaper import end_job
    from emulator.store import StateStore

    job_id, project_dir, options = (argv or sys.argv[1:])[:3]
    try:
        from emulator.platform import EmulatorPlatform

        platform = EmulatorPlatform()
        platform.run_existing(int(job_id), Path(project_dir), RunOptions(**json.loads(options)))
    except JobCancelled:
        return 130
    except BaseException as error:  # noqa: BLE001 - the job must end whatever happened
        traceback.print_exc()  # into agents/<job>.log
        text = error.message if isinstance(error, CycleError) else describe_error(error)
        home = emulator_home()
        end_job(StateStore(home / "state.db"), home, int(job_id), JobState.FAILED, "AGENT_ERROR",
                f"job failed: the agent stopped on an error: {text}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
