"""`cycle job pull` into an unwritable folder with the artifact in the real moto S3 server
(badinput 1): the S3 download writes its temporary file next to the target as the local one does,
and the same paragraph names the folder."""

from __future__ import annotations

from unwritable import finished_job_with_artifact, unwritable

from helpers import cli


def test_an_unwritable_subfolder_is_named_when_the_artifact_comes_from_s3(home, tmp_path, s3_storage):
    job = finished_job_with_artifact()
    checkpoints = tmp_path / ".cycleswap" / "jobs" / job.name / "artifacts" / "checkpoints"
    with unwritable(checkpoints):
        result = cli("job", "pull", job.name, "--project-dir", str(tmp_path))
        assert list(checkpoints.iterdir()) == []
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    assert f"the folder {checkpoints} is not writable" in result.output and "Traceback" not in result.output
