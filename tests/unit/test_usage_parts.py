"""Pure rules behind `cycle emulator usage` and `cycle emulator machines`: which part of the home a
path belongs to, the text's human sizes, what a machine shows it is doing. No Docker, no S3."""

from __future__ import annotations

from cycle.api.models import Machine
from cycle.cli.emulator import usage_lines
from emulator.usage import PARTS, disk_use, empty_report, part_of

STATES = {"p-1": "FINISHED", "p-2": "RUNNING"}
OWNERS = {"aa11": "artifacts", "bb22": "old_artifact_versions", "cc33": "volumes"}


def test_a_working_copy_belongs_to_its_jobs_state():
    assert part_of(("machines", "local-0", "artifacts", "p-1", "w.bin"), STATES, OWNERS) == \
        ("ended_working_copies", "p-1")
    assert part_of(("machines", "local-1", "artifacts", "p-2"), STATES, OWNERS) == ("running_working_copies", "p-2")
    assert part_of(("machines", "local-1", "artifacts", "gone-9", "x"), STATES, OWNERS) == ("other", None)
    assert part_of(("machines", "local-1"), STATES, OWNERS) == ("other", None)


def test_a_blob_belongs_to_the_record_that_keeps_it():
    blob = ("storage", "blobs", "sha256", "bb")
    assert part_of((*blob, "bb22"), STATES, OWNERS) == ("old_artifact_versions", None)
    assert part_of((*blob, "ffff"), STATES, OWNERS) == ("store_other", None)
    assert part_of(blob, STATES, OWNERS) == ("store_other", None)  # the fan-out folder itself
    assert part_of(("storage", "manifests", "projects", "p.jsonl"), STATES, OWNERS) == ("project_versions", None)
    assert part_of(("storage", "packs", "jobs", "p-1", "ab12.pack"), STATES, OWNERS) == ("artifacts", None)
    for top, part in [("project-versions", "project_checkouts"), ("volumes", "materialized_volumes"),
                      ("mounts", "job_mounts"), ("state.db-wal", "state"), ("agents", "other")]:
        assert part_of((top, "x"), STATES, OWNERS)[0] == part


def test_the_parts_add_up_to_the_whole_home(tmp_path):
    (tmp_path / "machines" / "local-0" / "artifacts" / "p-1").mkdir(parents=True)
    (tmp_path / "machines" / "local-0" / "artifacts" / "p-1" / "w.bin").write_bytes(b"x" * 10_000)
    (tmp_path / "storage" / "blobs" / "sha256" / "bb").mkdir(parents=True)
    (tmp_path / "storage" / "blobs" / "sha256" / "bb" / "bb22").write_bytes(b"y" * 5_000)
    parts = {part["part"]: part for part in disk_use(tmp_path, STATES, OWNERS)}
    assert list(parts) == list(PARTS)
    assert parts["ended_working_copies"]["jobs"] == 1 and parts["ended_working_copies"]["bytes"] >= 10_000
    assert parts["old_artifact_versions"]["bytes"] >= 5_000 and parts["running_working_copies"]["jobs"] == 0


def test_usage_text_prints_sizes_as_people_read_them(tmp_path):
    report = empty_report(tmp_path, quota=1024)
    report["projects"] = [{"project": "p", "artifacts": 1536 * 1024, "logs": 2048}]
    report["quota_used"] = 1536 * 1024 + 2048
    report["on_disk_total"] = 3 * 1024 * 1024
    report["on_disk"][5].update(bytes=3 * 1024 * 1024, jobs=20)
    text = "\n".join(usage_lines(report))
    assert "artifacts    1.5 MiB" in text and "logs    2.0 KiB" in text
    assert "soft quota 1.0 KiB: over (uploads are never rejected)" in text
    assert "3.0 MiB  20 job(s): working copies of ended jobs" in text and "`cycle job archive JOB`" in text
    assert "1572864" not in text


def test_build_images_without_an_engine_are_the_builds_recorded_not_a_count_of_images(tmp_path):
    def build_images_line(images: dict) -> str:
        report = empty_report(tmp_path, quota=1024)
        report["on_disk_total"] = 4096  # a home where jobs ran (an empty one stops before the images)
        report["build_images"] = images
        return next(line for line in usage_lines(report) if line.startswith("build images:"))

    unknown = {"counted": False, "images": 19, "bytes": 0, "note": "not counted: no engine answers"}
    assert build_images_line(unknown) == ("build images: 19 build(s) recorded, how many still in the engine and "
                                          "their size unknown (not counted: no engine answers)")
    counted = {"counted": True, "images": 9, "bytes": 2048, "note": "in the Docker engine"}
    assert build_images_line(counted) == "build images: 9, 2.0 KiB of their own layers (in the Docker engine)"


def test_a_machine_running_a_job_says_so_by_the_jobs_name():
    assert Machine("local-0", "available", None, 17, 3, "proj-17").activity == "running proj-17"
    assert Machine("local-0", "offline", None, 17, 3, "proj-17").activity == "offline, running proj-17"
    assert Machine("local-1", "busy", None, None, 0).activity == "busy"
    assert Machine("local-1", "available", None, None, 0).activity == "available"


def test_the_quota_counts_artifacts_logs_and_volumes_once_for_usage_and_a_jobs_end(tmp_path):
    """One definition (store.quota_used): `emulator usage`'s total and the warning in JobContext.end."""
    import os

    from emulator.models import Stream
    from emulator.store import StateStore
    from emulator.volumes import VolumeVersion

    store = StateStore(tmp_path / "state.db")
    job = store.create_job("p", agent_pid=os.getpid())
    store.append_logs(job.id, [(1, Stream.STDOUT, "hello")])  # 5 bytes and its newline
    store.add_volume_version(VolumeVersion("data", 1, {"a": ["ab" * 32, 700]}, 700, 1))
    assert store.quota_used() == 6 + 700


def test_a_quota_count_that_fails_never_keeps_a_job_from_its_final_state():
    """The warning is a hint said inside JobContext.end: a failing count (the database busy past its
    timeout) raised there, before the state was written, and left the job RUNNING."""
    from types import SimpleNamespace

    from emulator.job.context import JobContext
    from emulator.models import JobState

    class BusyStore:
        def quota_used(self) -> int:
            raise RuntimeError("database is locked")

        def set_state(self, job_id: int, state, **fields):
            return (job_id, state)

    events: list[str] = []
    ctx = SimpleNamespace(settings=SimpleNamespace(storage_quota_bytes=10), store=BusyStore(), event=events.append,
                          shipper=SimpleNamespace(close=lambda: None), job=SimpleNamespace(id=7))
    ctx.warn_over_soft_quota = lambda: JobContext.warn_over_soft_quota(ctx)
    assert JobContext.end(ctx, JobState.FINISHED) == (7, JobState.FINISHED) and events == []


def test_a_long_project_name_widens_the_column_instead_of_breaking_it(tmp_path):
    """A 50-character project name pushed its row's numbers right of every other row's."""
    report = empty_report(tmp_path, quota=0)
    report["projects"] = [{"project": "p" * 50, "artifacts": 1024, "logs": 10},
                          {"project": "short", "artifacts": 2048, "logs": 20}]
    rows = [line for line in usage_lines(report) if "artifacts " in line and "logs" in line and "(" not in line]
    assert len(rows) == 2 and len({row.index("artifacts ") for row in rows}) == 1
    volumes, total = (next(line for line in usage_lines(report) if line.startswith(f"  {word}"))
                      for word in ("volumes", "total"))
    assert len(volumes) == len(total) == rows[0].index("artifacts ") + 20  # sizes end under the artifacts column
