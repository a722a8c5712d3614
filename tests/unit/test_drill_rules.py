"""The drill's pure rules: move times, progress files, the restart-from-scratch rule, the verdict."""

from __future__ import annotations

import os
import signal

import pytest

from emulator.drill import (
    DrillPlan,
    is_progress,
    judge,
    judged_rewrites,
    move_times,
    scratch_restarts,
    split_checkpoints,
)
from emulator.models import Artifact, Job, JobState, Move


def test_move_times():
    assert move_times(DrillPlan(at=(9, 3))) == [3, 9]
    assert move_times(DrillPlan(moves=3, every=4)) == [4, 8, 12]
    seeded = move_times(DrillPlan(moves=4, seed=7))
    assert seeded == move_times(DrillPlan(moves=4, seed=7)) and len(seeded) == 4
    assert all(2 <= b - a <= 6 for a, b in zip([0, *seeded], seeded))


def test_progress_globs():
    globs = DrillPlan().progress_globs
    assert is_progress("checkpoints/step-000004.ckpt", globs)
    assert is_progress("model/epoch_10.pt", globs)
    assert not is_progress("results.json", globs) and not is_progress("progress.log", globs)


def art(path, at, sha256=None, mtime=0):
    """A stored version; its bytes are its own (path and time) unless `sha256` says whose they are;
    written at `mtime` (0: a record that kept none, read as its upload time)."""
    return Artifact(path, f"jobs/j/artifacts/{path}", 1, sha256 or f"{path}@{at}", mtime, at)


def move(number, ts, restarted, restored):
    return Move(number, 1, f"m{number}", f"m{number + 1}", "test", ts, 0, [], restored, 0, 0.0, restarted, 0.1)


def test_rewriting_a_restored_checkpoint_after_a_move_is_a_restart_from_scratch():
    moves = [move(1, 100, 110, ["checkpoints/step-2.ckpt", "results.json"])]
    resumed = [art("checkpoints/step-2.ckpt", 50), art("checkpoints/step-4.ckpt", 120), art("results.json", 130)]
    assert scratch_restarts(moves, resumed, DrillPlan().progress_globs) == []
    restarted = resumed + [art("checkpoints/step-2.ckpt", 125)]
    findings = scratch_restarts(moves, restarted, DrillPlan().progress_globs)
    assert len(findings) == 1 and "step-2.ckpt" in findings[0] and "move 1" in findings[0]


def test_a_link_to_the_newest_checkpoint_moved_on_after_a_move_is_not_a_restart():
    """`latest.pt -> ckpt-N.pt` re-pointed each step (a user test: the drill failed a job that resumed)."""
    moves = [move(1, 100, 110, ["ckpt-2.pt", "latest.pt"])]
    versions = [art("ckpt-1.pt", 20), art("ckpt-2.pt", 50), art("latest.pt", 51, sha256="ckpt-2.pt@50"),
                art("ckpt-3.pt", 120), art("latest.pt", 121, sha256="ckpt-3.pt@120")]
    assert scratch_restarts(moves, versions, ("*.pt",)) == []
    started_over = [*versions, art("ckpt-2.pt", 130), art("latest.pt", 131, sha256="ckpt-2.pt@130")]
    findings = scratch_restarts(moves, started_over, ("*.pt",))
    assert len(findings) == 1 and "ckpt-2.pt" in findings[0]  # and latest.pt, pointing at it


def test_a_restart_is_not_excused_by_a_latest_link_lost_in_the_queue_at_the_move():
    """A user test: latest.pt was lost in the queue at the move (so new to the records), ckpt-1.pt
    restored; the job started over, rewrote ckpt-1.pt and pointed latest.pt at it. latest.pt's
    bytes excused the rewrite: a false PASS. Only a new numbered file's bytes excuse a restored
    numbered checkpoint; a restored pointer moved on to a new checkpoint is still no restart."""
    moves = [lost_move(1, 100, 110, ["ckpt-1.pt"], ["latest.pt"])]
    started_over = [art("ckpt-1.pt", 50), art("ckpt-1.pt", 120), art("latest.pt", 121, sha256="ckpt-1.pt@120")]
    findings = scratch_restarts(moves, started_over, ("*.pt",))
    assert len(findings) == 1 and "rewrote ckpt-1.pt," in findings[0]
    moves = [lost_move(1, 100, 110, ["ckpt-1.pt", "latest.pt"], ["ckpt-2.pt"])]
    resumed = [art("ckpt-1.pt", 50), art("latest.pt", 51, sha256="ckpt-1.pt@50"), art("ckpt-2.pt", 120),
               art("latest.pt", 121, sha256="ckpt-2.pt@120")]
    assert scratch_restarts(moves, resumed, ("*.pt",)) == []


def test_redoing_a_checkpoint_newer_than_the_one_the_restored_latest_names_is_no_restart():
    """A user test: the move came between storing ckpt-2.pt and re-pointing latest.pt, so latest.pt
    came back naming ckpt-1.pt; the job resumed from it and redid step 2 (rewrote ckpt-2.pt, then
    latest.pt): a false FAIL. A job that starts over rewrites ckpt-1.pt, which latest.pt names."""
    moves = [move(1, 100, 110, ["ckpt-1.pt", "ckpt-2.pt", "latest.pt"])]
    before = [art("ckpt-1.pt", 20), art("latest.pt", 21, sha256="ckpt-1.pt@20"), art("ckpt-2.pt", 50)]
    resumed = [*before, art("ckpt-2.pt", 120), art("latest.pt", 121, sha256="ckpt-2.pt@120"),
               art("ckpt-3.pt", 130), art("latest.pt", 131, sha256="ckpt-3.pt@130")]
    assert scratch_restarts(moves, resumed, ("*.pt",)) == []
    started_over = [*before, art("ckpt-1.pt", 120), art("latest.pt", 121, sha256="ckpt-1.pt@120"),
                    art("ckpt-2.pt", 130), art("latest.pt", 131, sha256="ckpt-2.pt@130")]
    findings = scratch_restarts(moves, started_over, ("*.pt",))
    assert len(findings) == 1 and "rewrote ckpt-1.pt, latest.pt," in findings[0]


def test_going_back_to_a_pointer_that_lags_on_purpose_is_still_a_restart():
    """A reviewer: best.pt holds ckpt-2.pt's bytes (the best so far) of five; a job that goes back
    to it rewrites ckpt-3..5. Only the one step after the committed one is excused (the move's
    gap between a checkpoint and its pointer), so this still fails, with latest.pt lost or not."""
    before = [art("ckpt-1.pt", 10), art("ckpt-2.pt", 20), art("best.pt", 21, sha256="ckpt-2.pt@20"),
              art("ckpt-3.pt", 30), art("ckpt-4.pt", 40), art("ckpt-5.pt", 50)]
    restored = ["ckpt-1.pt", "ckpt-2.pt", "ckpt-3.pt", "ckpt-4.pt", "ckpt-5.pt", "best.pt"]
    went_back = [*before, art("ckpt-3.pt", 120), art("latest.pt", 121, sha256="ckpt-3.pt@120"),
                 art("ckpt-4.pt", 130), art("ckpt-5.pt", 140)]
    for moves in ([move(1, 100, 110, restored)], [lost_move(1, 100, 110, restored, ["latest.pt"])]):
        findings = scratch_restarts(moves, went_back, ("*.pt",))
        assert len(findings) == 1 and "rewrote ckpt-4.pt, ckpt-5.pt," in findings[0]


@pytest.mark.parametrize("folder", ["runs/exp2/", "lightning_logs/version_0/checkpoints/"])
def test_a_pointer_in_a_folder_with_a_number_in_its_name_is_still_a_pointer(folder):
    """A reviewer: `_numbered` saw the digit of runs/exp2/ and took latest.pt for a checkpoint, so
    the redo the committed-step rule excuses failed anyway."""
    ckpt = [f"{folder}ckpt-{n}.pt" for n in (1, 2, 3)]
    latest = f"{folder}latest.pt"
    moves = [move(1, 100, 110, [ckpt[0], ckpt[1], latest])]
    before = [art(ckpt[0], 20), art(latest, 21, sha256=f"{ckpt[0]}@20"), art(ckpt[1], 50)]
    resumed = [*before, art(ckpt[1], 120), art(latest, 121, sha256=f"{ckpt[1]}@120"),
               art(ckpt[2], 130), art(latest, 131, sha256=f"{ckpt[2]}@130")]
    assert scratch_restarts(moves, resumed, ("*.pt",)) == []


def test_bytes_every_checkpoint_shares_name_no_step():
    """A reviewer: config.json is the same in every step_N/ folder, so the latest/ copy's config
    named every step and the committed step read as the newest; step_300's redo failed."""
    def checkpoint(step, at):
        return [art(f"checkpoints/step_{step}/model.pt", at), art(f"checkpoints/step_{step}/config.json", at,
                                                                   sha256="C")]
    before = [*checkpoint(100, 10), art("checkpoints/latest/model.pt", 11, sha256="checkpoints/step_100/model.pt@10"),
              art("checkpoints/latest/config.json", 11, sha256="C"), *checkpoint(200, 20),
              art("checkpoints/latest/model.pt", 21, sha256="checkpoints/step_200/model.pt@20"), *checkpoint(300, 30)]
    moves = [move(1, 100, 110, sorted({v.path for v in before}))]
    resumed = [*before, *checkpoint(300, 120),
               art("checkpoints/latest/model.pt", 121, sha256="checkpoints/step_300/model.pt@120"),
               *checkpoint(400, 130),
               art("checkpoints/latest/model.pt", 131, sha256="checkpoints/step_400/model.pt@130")]
    assert scratch_restarts(moves, resumed, DrillPlan().progress_globs) == []


def test_pointers_rewritten_alone_are_no_evidence_while_numbered_checkpoints_came_back():
    """A reviewer: DeepSpeed's text `latest` ("global_step300") is rewritten by a job that resumed,
    with bytes no new file holds: a false FAIL. A job that starts over rewrites global_step100/ as
    well, and that (with the pointer) fails."""
    def saved(step, at):
        return [art(f"checkpoints/global_step{step}/mp_rank_00_model_states.pt", at),
                art("checkpoints/latest", at + 1, sha256=f"text:global_step{step}")]
    before = [*saved(100, 10), *saved(200, 20)]
    moves = [move(1, 100, 110, sorted({v.path for v in before}))]
    assert scratch_restarts(moves, [*before, *saved(300, 120)], DrillPlan().progress_globs) == []
    findings = scratch_restarts(moves, [*before, *saved(100, 120)], DrillPlan().progress_globs)
    assert len(findings) == 1 and "global_step100/mp_rank_00_model_states.pt" in findings[0]
    assert "checkpoints/latest" in findings[0]


def test_a_rewrite_is_charged_to_the_move_whose_stay_it_happened_in():
    moves = [move(1, 100, 110, ["checkpoints/step-1.ckpt"]),
             move(2, 200, 210, ["checkpoints/step-1.ckpt", "checkpoints/step-2.ckpt"])]
    versions = [art("checkpoints/step-2.ckpt", 150), art("checkpoints/step-2.ckpt", 220)]
    findings = scratch_restarts(moves, versions, DrillPlan().progress_globs)
    assert len(findings) == 1 and findings[0].startswith("after move 2")


def job(state=JobState.FINISHED, reason=None):
    return Job(1, "p-1", "p", state, reason, "m", "img", 0, 1, 2, 0)


def test_verdicts():
    moves = [move(1, 100, 110, ["checkpoints/a.ckpt"])]
    ok = judge(job(), moves, [], [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert ok.verdict == "PASS" and ok.reasons == [] and "PASS" in ok.text()
    failed = judge(job(JobState.FAILED, "EXIT_CODE_1"), moves, [], [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert failed.verdict == "FAIL" and "EXIT_CODE_1" in failed.reasons[0]
    short = judge(job(), moves, [], [1.0, 2.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert short.verdict == "FAIL" and "1 of 2" in short.reasons[0]
    late = judge(job(JobState.CANCELLED), moves, [], [1.0], 0, 5.0, DrillPlan(timeout=3), timed_out=True)
    assert late.verdict == "FAIL" and "--timeout" in late.reasons[0]
    nothing = judge(job(), [move(1, 100, 110, ["results.json"])], [], [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert nothing.verdict == "FAIL" and "could not be checked" in nothing.reasons[0]
    assert "though results.json came back: if those are your checkpoints, name them (--progress-glob '*.json')" in (
        nothing.reasons[0])
    empty = judge(job(), [move(1, 100, 110, [])], [], [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert empty.reasons[0].endswith("so resuming could not be checked: move later, or checkpoint sooner.")
    keras = judge(job(), [move(1, 100, 110, ["weights/weights.04.h5"])], [], [1.0], 0, 5.0, DrillPlan(),
                  timed_out=False)
    assert keras.reasons == []  # Keras's ModelCheckpoint files are checkpoints by default
    as_json = ok.to_dict()
    assert as_json["moves"][0]["restored_files"] == 1 and as_json["verdict"] == "PASS"


class OneMovePlatform:
    """Just enough of the Platform for run_drill: the job runs until it is moved once, then finishes;
    the move's trigger is built from the requester as the agent builds it."""

    def __init__(self) -> None:
        self.moved: list[Move] = []
        self.requesters: list[str | None] = []

    def start_detached(self, project_dir, options):
        return job(JobState.PENDING)

    def job(self, name):
        return job(JobState.FINISHED if self.moved else JobState.RUNNING)

    def reassign(self, name, to=None, grace=None, wait=120.0, requester=None):
        from emulator.rules.moves import request_trigger

        self.requesters.append(requester)
        self.moved.append(Move(1, 1, "local-0", "local-1", request_trigger(to, requester), 10, 0, [],
                               ["checkpoints/a.ckpt"], 0, 0.0, 20, 0.1))
        return self.moved[-1]

    def moves(self, name):
        return self.moved

    def artifact_versions(self, name):
        return []


def test_the_drills_moves_are_requested_by_cycle_drill():
    """The drill's moves were attributed to `cycle job reassign` (it named no requester)."""
    from emulator.drill import run_drill

    platform = OneMovePlatform()
    report = run_drill(platform, None, DrillPlan(at=(0,), timeout=10), lambda line: None)
    assert platform.requesters == ["`cycle drill`"]
    assert report.moves[0]["trigger"] == "requested by `cycle drill`"
    assert "(requested by `cycle drill`)" in report.text()


def test_the_drill_names_a_lost_file_whose_older_version_came_back():
    moves = [Move(1, 1, "m1", "m2", "test", 100, 3, ["latest.pt", "ckpt-3.pt"], ["ckpt-2.pt", "latest.pt"], 2, 0.1,
                  110, 0.1)]
    report = judge(job(), moves, [], [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert report.moves[0]["files_lost_older_restored"] == ["latest.pt"]
    assert "    lost: latest.pt (an older version restored), ckpt-3.pt" in report.text()


def lost_move(number, ts, restarted, restored, lost):
    return Move(number, 1, f"m{number}", f"m{number + 1}", "test", ts, 0, lost, restored, 0, 0.0, restarted, 0.1)


def test_checkpoint_of_groups_a_checkpoints_files():
    from emulator.drill import checkpoint_of

    assert len({checkpoint_of(p) for p in ("checkpoints/step-5.pt", "checkpoints/step-5.json",
                                           "checkpoints/step-5.opt.pt", "checkpoints/optim_5.pt")}) == 1
    assert checkpoint_of("checkpoints/step-4.pt") != checkpoint_of("checkpoints/step-5.pt")
    assert checkpoint_of("model.v2.pt") != checkpoint_of("model.v3.pt")
    assert checkpoint_of("latest.pt") == checkpoint_of("latest.json") != checkpoint_of("latest-5.pt")
    assert checkpoint_of("ckpt-5/model.pt") == checkpoint_of("ckpt-5/optim.pt") == "ckpt-5/"
    assert checkpoint_of("ckpt/checkpoint-500/pytorch_model-00001-of-00002.bin") == "ckpt/checkpoint-500/"
    assert checkpoint_of("out/checkpoint-500/global_step500/mp_rank_00_model_states.pt") == "out/checkpoint-500/"
    assert checkpoint_of("run-3/step-5.pt") != checkpoint_of("run-3/step-6.pt")  # a run's folder holds many
    # numbered folders that are not one checkpoint: an experiment, a TensorBoard run
    assert checkpoint_of("runs/May01_12-30-45_host/model.pt") != checkpoint_of(
        "runs/May01_12-30-45_host/events.out.tfevents.1714566645.host")
    assert checkpoint_of("exp1/model.pt") != checkpoint_of("exp1/metrics.csv")


def test_a_move_that_splits_a_checkpoint_is_a_finding():
    """LIFO stored step-5.json, the step-5.pt written before it was lost with the machine (a user test:
    the drill said PASS)."""
    moves = [lost_move(1, 100, 110, ["checkpoints/step-4.json", "checkpoints/step-4.pt", "checkpoints/step-5.json"],
                       ["checkpoints/step-5.pt"])]
    versions = [art("checkpoints/step-6.pt", 120), art("checkpoints/step-6.json", 121)]
    findings = split_checkpoints(moves, versions, DrillPlan().progress_globs)
    assert findings == ["move 1 (m1 -> m2) split a checkpoint: checkpoints/step-5.json restored, "
                        "checkpoints/step-5.pt lost in the upload queue and never written again: a job resuming "
                        "from it had half a checkpoint."]
    report = judge(job(), moves, versions, [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert report.verdict == "PASS" and report.reasons == [] and report.warnings == findings
    assert "marker" in report.hint and report.to_dict()["warnings"] == findings
    assert "PASS with 1 warning(s)" in report.text() and f"  warning: {findings[0]}" in report.text()
    strict = judge(job(), moves, versions, [1.0], 0, 5.0, DrillPlan(strict=True), timed_out=False)
    assert strict.verdict == "FAIL" and strict.reasons == findings and strict.warnings == []


def test_a_job_moved_again_before_it_redid_the_split_step_is_not_warned_about():
    """It went back to step 4 after move 1, was moved again before writing step 5, and wrote it
    after move 2: it repaired the split, only later (the drill's moves are 2-6 s apart)."""
    moves = [lost_move(1, 100, 110, ["checkpoints/step-4.json", "checkpoints/step-4.pt", "checkpoints/step-5.json"],
                       ["checkpoints/step-5.pt"]), lost_move(2, 115, 118, ["checkpoints/step-5.json"], [])]
    redone = [art("checkpoints/step-5.pt", 125), art("checkpoints/step-5.json", 126)]
    assert split_checkpoints(moves, redone, DrillPlan().progress_globs) == []


def test_a_tensorboard_run_folder_is_no_checkpoint_to_split():
    """A model saved beside a TensorBoard events file in runs/<date>_<host>/: losing the events file
    (the resumed job starts a new one) split nothing."""
    folder = "runs/May01_12-30-45_host"
    moves = [lost_move(1, 100, 110, [f"{folder}/model.pt"], [f"{folder}/events.out.tfevents.1714566645.host"])]
    assert split_checkpoints(moves, [], DrillPlan().progress_globs) == []


def test_a_checkpoint_folder_split_is_a_finding():
    moves = [lost_move(1, 100, 110, ["ckpt-5/trainer_state.json"], ["ckpt-5/model.safetensors"])]
    assert len(split_checkpoints(moves, [], DrillPlan().progress_globs)) == 1


def test_what_is_not_half_a_checkpoint():
    globs = DrillPlan().progress_globs
    cases = {
        # the spec allows it: a newer checkpoint lost whole, the job resumes from the older complete one
        "newer lost whole": lost_move(1, 100, 110, ["checkpoints/step-4.json", "checkpoints/step-4.pt"],
                                      ["checkpoints/step-5.json", "checkpoints/step-5.pt"]),
        # both files rewritten in place each step, both newest versions lost: the older pair is whole
        "older versions of every file": lost_move(1, 100, 110, ["last.json", "last.pt"], ["last.json", "last.pt"]),
        # a temporary file cut short by the kill is no file of the checkpoint yet
        "write-then-rename": lost_move(1, 100, 110, ["checkpoints/step-4.ckpt"], ["checkpoints/.step-5.ckpt.tmp"]),
        # a link is stored as its target's bytes: restored, it is a whole copy of ckpt-5.pt, not a dangling link
        "latest link": lost_move(1, 100, 110, ["ckpt-4.pt", "latest.pt"], ["ckpt-5.pt"]),
        # not progress: results and logs
        "no progress file": lost_move(1, 100, 110, ["step-3.ckpt", "results.json"], ["results.csv"]),
    }
    for why, case in cases.items():
        assert split_checkpoints([case], [], globs) == [], why
        assert judge(job(), [case], [], [1.0], 0, 5.0, DrillPlan(), timed_out=False).verdict == "PASS", why


def test_a_split_the_job_repaired_is_not_a_finding_nor_a_restart():
    """A job that resumes only from whole checkpoints goes back to step 4 and writes step 5 again."""
    moves = [lost_move(1, 100, 110, ["checkpoints/step-4.json", "checkpoints/step-4.pt", "checkpoints/step-5.json"],
                       ["checkpoints/step-5.pt"])]
    redone = [art("checkpoints/step-5.pt", 120), art("checkpoints/step-5.json", 121)]
    globs = DrillPlan().progress_globs
    assert split_checkpoints(moves, redone, globs) == [] and scratch_restarts(moves, redone, globs) == []


def test_model_and_optimizer_files_of_one_step_are_one_checkpoint():
    """model_5.pt restored and optim_5.pt lost: different names, one step (the review's false PASS)."""
    moves = [lost_move(1, 100, 110, ["ckpts/model_4.pt", "ckpts/optim_4.pt", "ckpts/model_5.pt"],
                       ["ckpts/optim_5.pt"])]
    assert len(split_checkpoints(moves, [], DrillPlan().progress_globs)) == 1


def test_redoing_a_checkpoint_the_kill_cut_short_is_no_restart_but_going_back_to_a_whole_one_is():
    """A user test: step-4.pt was stored, the kill came before step-4.opt.pt and step-4.json were
    written; the job resumed from step 3 (its newest whole checkpoint, as the fix advises) and
    wrote step-4.pt again. The drill said it "restarted from scratch"."""
    whole = [f"ckpt/step-{n}.{kind}" for n in (2, 3) for kind in ("pt", "opt.pt", "json")]
    moves = [move(1, 100, 110, [*whole, "ckpt/step-4.pt"])]
    redone = [art("ckpt/step-4.pt", 120), art("ckpt/step-4.opt.pt", 121), art("ckpt/step-4.json", 122)]
    assert scratch_restarts(moves, redone, DrillPlan().progress_globs) == []
    went_back = [art("ckpt/step-3.pt", 120), *redone]  # rewrote a whole checkpoint: it did not resume from it
    [finding] = scratch_restarts(moves, went_back, DrillPlan().progress_globs)
    assert "rewrote ckpt/step-3.pt" in finding and "went back to an older checkpoint" in finding


def test_a_restart_names_every_rewritten_file_in_natural_order_and_how_many_more():
    """A user test: the why line listed at most five files, in text order (step-10 before step-6),
    with no "and N more"."""
    paths = [f"ckpt/step-{n}.pt" for n in range(1, 13)]
    moves = [move(1, 100, 110, paths)]
    versions = [art(p, 50) for p in paths] + [art(p, 120) for p in paths]
    findings = scratch_restarts(moves, versions, ("*.pt",))
    assert len(findings) == 1
    assert ("rewrote ckpt/step-1.pt, ckpt/step-2.pt, ckpt/step-3.pt, ckpt/step-4.pt, ckpt/step-5.pt and 7 more, "
            "which had been restored") in findings[0]
    few = scratch_restarts(moves, [art(p, 50) for p in paths] + [art("ckpt/step-10.pt", 120),
                                                                  art("ckpt/step-6.pt", 121)], ("*.pt",))
    assert "rewrote ckpt/step-6.pt, ckpt/step-10.pt, which" in few[0]


def test_the_fix_names_the_checkpoint_layout_the_job_used():
    """The fix always said /artifacts/checkpoints/step-*.*, whatever the job wrote."""
    from emulator.drill import checkpoint_layout

    def hint(restored):
        moves = [move(1, 100, 110, restored)]
        versions = [art(p, 50) for p in restored] + [art(restored[0], 120)]
        return judge(job(), moves, versions, [1.0], 0, 5.0, DrillPlan(), timed_out=False).hint

    assert "look for /artifacts/ckpt/model_*.pt and resume from it" in hint(["ckpt/model_3.pt", "ckpt/model_4.pt"])
    assert "/artifacts/checkpoints/step-*.*" in hint(["checkpoints/step-3.pt", "checkpoints/step-3.json"])
    assert "look for /artifacts/out/checkpoint-*/ and" in hint(["out/checkpoint-500/model.safetensors",
                                                               "out/checkpoint-500/optimizer.pt"])
    went_back = [art("latest.pt", 30), art("latest.pt", 50), art("latest.pt", 120, sha256="latest.pt@30")]
    generic = judge(job(), [move(1, 100, 110, ["latest.pt"])], went_back, [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert "look for /artifacts/latest.pt and resume" in generic.hint  # no numbers: the file as it is
    assert checkpoint_layout([move(1, 100, 110, ["results.json"])], DrillPlan().progress_globs) == (
        "your checkpoints (e.g. /artifacts/checkpoints/step-*.*)")  # no progress file: generic
    lightning = [move(1, 100, 110, ["l/epoch=0-step=2.ckpt", "l/epoch=0-step=2-v1.ckpt", "l/last.ckpt",
                                    "l/last-v1.ckpt"])]
    assert checkpoint_layout(lightning, DrillPlan().progress_globs) == "/artifacts/l/epoch=*-step=*.ckpt"
    assert checkpoint_layout([move(1, 100, 110, ["a/x-1.pt", "b/y-1.pt", "c/z-1.pt", "d/w-1.pt", "a/.x-2.pt"])],
                             ("*.pt",)) == "/artifacts/a/x-*.pt, /artifacts/b/y-*.pt, /artifacts/c/z-*.pt and 1 more"


class InterruptedPlatform(OneMovePlatform):
    """The job runs; the drill is sent `signum` (Ctrl-C's SIGINT or a SIGTERM) as it watches it, or
    while it starts the job; cancelling ends the job CANCELLED, as the agent does."""

    def __init__(self, signum, while_starting=False) -> None:
        super().__init__()
        self.signum, self.while_starting = signum, while_starting
        self.cancels: list[str | None] = []
        self.started = False

    def start_detached(self, project_dir, options):
        if self.while_starting:
            os.kill(os.getpid(), self.signum)  # noted: the job must exist to be cancelled
        self.started = True
        return job(JobState.PENDING)

    def job(self, name):
        if self.cancels:
            return job(JobState.CANCELLED, "CANCELLED_BY_USER")
        if not self.while_starting:
            os.kill(os.getpid(), self.signum)
        return job(JobState.RUNNING)

    def cancel(self, name, requester=None):
        os.kill(os.getpid(), self.signum)  # a second interrupt while it cancels: only noted
        self.cancels.append(requester)
        return job(JobState.CANCELLED, "CANCELLED_BY_USER")


@pytest.mark.parametrize(("signum", "code", "how"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 1, "a SIGTERM")])
@pytest.mark.parametrize("while_starting", [False, True])
def test_an_interrupted_drill_cancels_its_job_and_says_so(signum, code, how, while_starting, capfd):
    """A user test: Ctrl-C or a SIGTERM killed `cycle drill` and left its (detached) job RUNNING on a machine."""
    from cycle.errors import DrillInterrupted
    from emulator.drill import run_drill

    before = signal.getsignal(signum)
    platform = InterruptedPlatform(signum, while_starting)
    with pytest.raises(DrillInterrupted) as raised:
        run_drill(platform, None, DrillPlan(at=(5,), timeout=10), lambda line: None)
    assert platform.started and platform.cancels == [f"`cycle drill`, interrupted by {how}"]
    assert raised.value.exit_code == code
    assert raised.value.message == (f"drill interrupted ({how}): job p-1 cancelled (its container removed, its machine "
                                    "freed); no verdict.")
    assert capfd.readouterr().err.count("cleaning up") == 1
    assert signal.getsignal(signum) is before


def test_a_drill_interrupted_before_its_job_ran_says_it_had_not_started(capfd):
    from dataclasses import replace

    from cycle.errors import DrillInterrupted
    from emulator.drill import run_drill

    class Waiting(InterruptedPlatform):
        def cancel(self, name, requester=None):
            return replace(super().cancel(name, requester), started_ns=None)

    with pytest.raises(DrillInterrupted) as raised:
        run_drill(Waiting(signal.SIGINT, while_starting=True), None, DrillPlan(at=(5,), timeout=10), lambda line: None)
    assert raised.value.message == ("drill interrupted (Ctrl-C): job p-1 cancelled (it had not started running); "
                                    "no verdict.")


def test_a_script_deepspeed_copies_beside_its_checkpoint_folders_is_no_numbered_checkpoint():
    """DeepSpeed copies zero_to_fp32.py (a number in its name) beside global_stepN/ at every save:
    a job that resumed rewrites it with the same bytes, and failed as if it had started over."""
    def saved(step, at):
        return [art(f"checkpoints/global_step{step}/mp_rank_00_model_states.pt", at),
                art("checkpoints/zero_to_fp32.py", at + 1, sha256="the script"),
                art("checkpoints/latest", at + 2, sha256=f"text:global_step{step}")]
    before = [*saved(100, 10), *saved(200, 20)]
    moves = [move(1, 100, 110, sorted({v.path for v in before}))]
    assert scratch_restarts(moves, [*before, *saved(300, 120)], DrillPlan().progress_globs) == []
    [finding] = scratch_restarts(moves, [*before, *saved(100, 120)], DrillPlan().progress_globs)
    assert "global_step100/mp_rank_00_model_states.pt" in finding
    from emulator.drill import checkpoint_layout

    assert checkpoint_layout(moves, DrillPlan().progress_globs) == "/artifacts/checkpoints/global_step*/"


def test_a_checkpoint_lightning_saves_again_under_a_versioned_name_is_a_restart():
    """Lightning's ModelCheckpoint, started afresh beside the restored files, writes
    epoch=0-step=100-v1.ckpt and last-v1.ckpt instead of rewriting them: the drill passed it."""
    before = [art("lightning/epoch=0-step=100.ckpt", 10), art("lightning/last.ckpt", 11),
              art("lightning/epoch=1-step=200.ckpt", 20), art("lightning/last.ckpt", 21)]
    moves = [move(1, 100, 110, ["lightning/epoch=0-step=100.ckpt", "lightning/epoch=1-step=200.ckpt",
                                "lightning/last.ckpt"])]
    resumed = [*before, art("lightning/epoch=2-step=300.ckpt", 120), art("lightning/last.ckpt", 121)]
    assert judged_rewrites(moves, resumed, DrillPlan().progress_globs) == ([], [])
    restarted = [*before, art("lightning/epoch=0-step=100-v1.ckpt", 120), art("lightning/last-v1.ckpt", 121)]
    [finding], unjudged = judged_rewrites(moves, restarted, DrillPlan().progress_globs)
    assert unjudged == [] and ("lightning/epoch=0-step=100.ckpt (again, as lightning/epoch=0-step=100-v1.ckpt)"
                               in finding) and "lightning/last.ckpt (again, as lightning/last-v1.ckpt)" in finding


def test_one_checkpoint_file_overwritten_every_epoch_is_judged_only_by_bytes_it_had_before():
    """`torch.save(state, "checkpoint.pt")` every epoch: resuming and starting over both overwrite
    it with new bytes (a resumed job failed, "it started over"): a warning that the drill could not
    judge, a FAIL with --strict; bytes of a version stored before the move prove going back."""
    moves = [move(1, 100, 110, ["checkpoint.pt", "metrics.json"])]
    before = [art("checkpoint.pt", 10), art("checkpoint.pt", 20), art("checkpoint.pt", 30), art("metrics.json", 31)]
    overwritten = [*before, art("checkpoint.pt", 120)]
    assert judged_rewrites(moves, overwritten, DrillPlan().progress_globs)[0] == []
    report = judge(job(), moves, overwritten, [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert report.verdict == "PASS" and len(report.warnings) == 1 and "could not judge" in report.warnings[0]
    assert "checkpoint-<step>.pt" in report.hint
    strict = judge(job(), moves, overwritten, [1.0], 0, 5.0, DrillPlan(strict=True), timed_out=False)
    assert strict.verdict == "FAIL" and "could not judge" in strict.reasons[0]
    went_back = [*before, art("checkpoint.pt", 120, sha256="checkpoint.pt@10")]  # epoch 1's bytes again
    [finding], unjudged = judged_rewrites(moves, went_back, DrillPlan().progress_globs)
    assert unjudged == [] and "rewrote checkpoint.pt, which had been restored to it, with the bytes of a version" \
        " stored before the move: it went back" in finding


def test_redoing_the_step_after_the_one_a_text_pointer_commits_is_no_restart():
    """A user test (DeepSpeed): the move came after global_step300/ was stored and before `latest`
    ("global_step200", bytes no checkpoint has) was re-pointed; the job resumed from what `latest`
    commits and redid step 300: a false FAIL. The pointer names the newest step whole before it."""
    def files(step, at):
        return [art(f"checkpoints/global_step{step}/mp_rank_00_model_states.pt", at),
                art(f"checkpoints/global_step{step}/zero_pp_rank_0_mp_rank_00_optim_states.pt", at + 1)]

    def pointer(step, at):
        return [art("checkpoints/zero_to_fp32.py", at, sha256="the script"),
                art("checkpoints/latest", at + 1, sha256=f"text:global_step{step}")]
    before = [*files(100, 10), *pointer(100, 12), *files(200, 20), *pointer(200, 22), *files(300, 30)]
    moves = [move(1, 100, 110, sorted({v.path for v in before}))]
    redone = [*before, *files(300, 120), *pointer(300, 122), *files(400, 130), *pointer(400, 132)]
    assert judged_rewrites(moves, redone, DrillPlan().progress_globs) == ([], [])
    started_over = [*before, *files(100, 120), *pointer(100, 122)]
    [finding] = scratch_restarts(moves, started_over, DrillPlan().progress_globs)
    assert "global_step100/mp_rank_00_model_states.pt" in finding
    went_back_two = [*before, *files(200, 120), *pointer(200, 122)]  # before the step the pointer commits
    assert len(scratch_restarts(moves, went_back_two, DrillPlan().progress_globs)) == 1


def test_lightnings_last_checkpoint_one_step_behind_excuses_redoing_the_next_step_only():
    """A user test: last.ckpt (its own bytes) was stored for step 2, the move came after
    epoch=0-step=4.ckpt and before last.ckpt was saved again; resumed from last.ckpt, the job
    redid step 4, saved as epoch=0-step=4-v1.ckpt: a false FAIL."""
    before = [art("lightning/epoch=0-step=2.ckpt", 10), art("lightning/last.ckpt", 11),
              art("lightning/epoch=0-step=4.ckpt", 20)]
    moves = [move(1, 100, 110, sorted({v.path for v in before}))]
    redone = [*before, art("lightning/epoch=0-step=4-v1.ckpt", 120), art("lightning/last.ckpt", 121),
              art("lightning/epoch=0-step=6.ckpt", 130), art("lightning/last.ckpt", 131)]
    assert judged_rewrites(moves, redone, DrillPlan().progress_globs) == ([], [])
    started_over = [*before, art("lightning/epoch=0-step=2-v1.ckpt", 120), art("lightning/last-v1.ckpt", 121)]
    [finding] = scratch_restarts(moves, started_over, DrillPlan().progress_globs)
    assert "lightning/epoch=0-step=2.ckpt (again, as lightning/epoch=0-step=2-v1.ckpt)" in finding


def test_a_pointer_stored_before_any_whole_checkpoint_commits_no_step():
    """A `checkpoints/latest` written at the start (before any checkpoint) excuses nothing: with it
    naming "the newest step stored before it", redoing the first step, a restart's mark, passed."""
    before = [art("checkpoints/latest", 5, sha256="text:none"), art("checkpoints/step-1.pt", 10),
              art("checkpoints/step-2.pt", 20)]
    moves = [move(1, 100, 110, sorted({v.path for v in before}))]
    [finding] = scratch_restarts(moves, [*before, art("checkpoints/step-1.pt", 120)], DrillPlan().progress_globs)
    assert "checkpoints/step-1.pt" in finding


def test_a_folder_named_by_its_step_alone_is_one_numbered_checkpoint():
    """A user test (Orbax's CheckpointManager: checkpoints/<step>/...): a restart that rewrote
    checkpoints/2/ was "not judged" (no numbered checkpoint came back), and the fix asked for
    numbered checkpoints the job had."""
    from emulator.drill import checkpoint_layout, checkpoint_of

    assert checkpoint_of("checkpoints/2/default/manifest.ocdbt") == checkpoint_of("checkpoints/2/meta.json") == (
        "checkpoints/2/")

    def saved(step, at):
        return [art(f"checkpoints/{step}/model.pt", at), art(f"checkpoints/{step}/meta.json", at + 1)]
    before = [*saved(2, 10), *saved(4, 20)]
    moves = [move(1, 100, 110, sorted({v.path for v in before}))]
    assert judged_rewrites(moves, [*before, *saved(6, 120)], DrillPlan().progress_globs) == ([], [])
    [finding], unjudged = judged_rewrites(moves, [*before, *saved(2, 120)], DrillPlan().progress_globs)
    assert unjudged == [] and "checkpoints/2/meta.json, checkpoints/2/model.pt" in finding
    assert checkpoint_layout(moves, DrillPlan().progress_globs) == "/artifacts/checkpoints/*/"


def test_a_pointer_stored_before_the_checkpoint_written_ahead_of_it_commits_that_checkpoint():
    """A reviewer: LIFO stores `latest` (written right after ckpt-10.pt) before ckpt-10.pt, and by
    upload order the pointer committed step 9, excusing a job that went back to ckpt-9 and redid
    step 10: a false PASS. The files' modified times order them as they were written."""
    moves = [move(1, 100, 110, ["checkpoints/ckpt-9.pt", "checkpoints/ckpt-10.pt", "checkpoints/latest"])]
    versions = [art("checkpoints/ckpt-9.pt", 40, mtime=39), art("checkpoints/latest", 41, "text9", mtime=40),
                art("checkpoints/latest", 60, "text10", mtime=51), art("checkpoints/ckpt-10.pt", 61, mtime=50),
                art("checkpoints/ckpt-10.pt", 130, mtime=129)]
    [finding] = scratch_restarts(moves, versions, DrillPlan().progress_globs)
    assert "checkpoints/ckpt-10.pt" in finding
    same_tick = [*versions[:2], art("checkpoints/latest", 60, "text10", mtime=50), *versions[3:]]  # a coarse clock
    [finding] = scratch_restarts(moves, same_tick, DrillPlan().progress_globs)
    assert "checkpoints/ckpt-10.pt" in finding


@pytest.mark.parametrize(("restored", "layout"), [
    (["runs/1/checkpoint.pt"], None),  # a run's folder: its one checkpoint file, overwritten
    (["0/ckpt-5.pt", "0/checkpoint_latest.txt"], "0/#5"),  # Hydra's multirun folder: numbered files inside
    (["2024/model_3.pt"], "2024/#3"),  # a date
    (["checkpoints/7/model.pt"], "checkpoints/7/"),  # Orbax's: under a checkpoints folder
])
def test_a_bare_number_folder_is_one_checkpoint_only_under_a_checkpoints_folder(restored, layout):
    """A reviewer: with every bare-number folder a checkpoint, `runs/1/checkpoint.pt` overwritten
    every epoch failed as a restart, and a pointer in Hydra's `0/` counted as step 0."""
    from emulator.drill import checkpoint_of

    if layout is not None:
        assert checkpoint_of(restored[0]) == layout
    if restored == ["runs/1/checkpoint.pt"]:
        versions = [art(restored[0], 40), art(restored[0], 60), art(restored[0], 130)]
        findings, unjudged = judged_rewrites([move(1, 100, 110, restored)], versions, DrillPlan().progress_globs)
        assert findings == [] and len(unjudged) == 1
    if restored[0].startswith("0/"):
        versions = [art("0/ckpt-5.pt", 40), art("0/checkpoint_latest.txt", 41), art("0/ckpt-6.pt", 120),
                    art("0/checkpoint_latest.txt", 121)]
        assert scratch_restarts([move(1, 100, 110, restored)], versions, DrillPlan().progress_globs) == []


def test_saving_the_restored_bytes_again_is_no_going_back():
    """A reviewer: a job moved after its last save, which resumes, finds nothing to do and saves
    its state again, rewrote checkpoint.pt with the bytes restored to it: "it went back"."""
    moves = [move(1, 100, 110, ["checkpoint.pt"])]
    versions = [art("checkpoint.pt", 40, "A"), art("checkpoint.pt", 60, "B"), art("checkpoint.pt", 130, "B")]
    findings, unjudged = judged_rewrites(moves, versions, DrillPlan().progress_globs)
    assert findings == [] and "with no older version's bytes" in unjudged[0]  # (a restart after one epoch too)


def test_the_glob_suggested_when_nothing_matched_is_a_numbered_files():
    report = judge(job(), [move(1, 100, 110, ["metrics.csv", "weights/model_04.bin"])], [], [1.0], 0, 5.0,
                   DrillPlan(), timed_out=False)
    assert "(--progress-glob '*.bin')" in report.reasons[0]


def test_a_file_with_no_modified_time_beside_a_pointer_with_one_is_ordered_by_upload():
    """A reviewer: a checkpoint record without an mtime (0: read as its upload time, later than the
    write) beside a pointer with one made the step count as written after the pointer: a resume
    failed. Times of one kind are compared: both mtimes, else both upload times."""
    moves = [move(1, 100, 110, ["checkpoints/ckpt-1.pt", "checkpoints/latest", "checkpoints/ckpt-2.pt"])]
    versions = [art("checkpoints/ckpt-1.pt", 55), art("checkpoints/latest", 56, "text1", mtime=52),
                art("checkpoints/ckpt-2.pt", 70), art("checkpoints/ckpt-2.pt", 130)]
    assert scratch_restarts(moves, versions, DrillPlan().progress_globs) == []


def test_the_restored_bytes_written_again_before_newer_ones_prove_a_restart():
    """A reviewer: saved once (A) before the move, a deterministic restart writes A again, then B:
    A is not the job re-saving its state at its end (it wrote the file again after), so it went back."""
    moves = [move(1, 100, 110, ["checkpoint.pt"])]
    versions = [art("checkpoint.pt", 40, "A"), art("checkpoint.pt", 130, "A"), art("checkpoint.pt", 160, "B")]
    [finding], unjudged = judged_rewrites(moves, versions, DrillPlan().progress_globs)
    assert unjudged == [] and "with the bytes of a version stored before the move" in finding


def test_the_glob_suggested_passes_over_logs_and_tensorboard_events():
    restored = ["state.msgpack", "tb/events.out.tfevents.1716900000.host.123.0", "train-3.log"]
    report = judge(job(), [move(1, 100, 110, restored)], [], [1.0], 0, 5.0, DrillPlan(), timed_out=False)
    assert "(--progress-glob '*.msgpack')" in report.reasons[0]
