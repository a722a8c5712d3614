"""Reassignment drills: prove that a job survives being moved to another machine.

A drill runs the project through the emulator (detached), forces reassignments at chosen times,
waits for the job to end and judges it. Verdict FAIL when the job fails, times out, ended before
every move could be made, or restarted from scratch after a move; a warning when a move left it
half a checkpoint (--strict: a FAIL).

"Restarted from scratch", the rule: after a move the job rewrites a file that had been restored
to it and that matches a progress glob (default: checkpoint patterns), with bytes no new file
holds (a `latest.pt` link re-pointed at the newest checkpoint holds that checkpoint's bytes: it is
moved on, not rewritten). A job that resumes writes new checkpoints and leaves the restored ones
alone; a job that starts over at step 0 rewrites the first checkpoint it had already saved. The
rule needs at least one checkpoint uploaded before a move, and the report says when no move
restored any.

"Half a checkpoint", the warning: a move splits a checkpoint (checkpoint_of) when one of its files
was restored and another was lost in the old machine's upload queue (LIFO stores a small
step-5.json before the step-5.pt written just before it), and the job never stored the lost file
again (a job that resumes only from complete checkpoints redoes step 5 and writes it again). It
warns rather than fails: the records cannot say which checkpoint the job loaded.
"""

from __future__ import annotations

import fnmatch
import random
import re
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cycle.api.keys import natural_key
from cycle.api.options import DrillOptions as DrillPlan  # one definition of a drill's plan: the contract's
from cycle.api.wording import listed, lost_named, older_restored
from cycle.errors import BadInput, DrillInterrupted
from emulator.models import Artifact, Job, JobState, Move

RESUME_HINT = ("Load the newest checkpoint from /artifacts when the job starts instead of starting at step 0 "
               "(see \"Resuming from artifacts\" in the platform docs: look for {layout} and resume from it), "
               "comparing step numbers as numbers: sorted by name, step-9 comes after step-30.")
GENERIC_LAYOUT = "your checkpoints (e.g. /artifacts/checkpoints/step-*.*)"
SPLIT_HINT = ("Write a checkpoint's files first and a small marker or metadata file (step-N.json) last, and resume "
              "only from a checkpoint whose every file is present (or write one file per checkpoint, or check "
              "each file's size or sha256 before loading it).")
NUMBERED_HINT = ("Save each checkpoint under its step's number (checkpoint-<step>.pt, keeping the last few) and "
                 "resume from the newest: a drill then sees whether the job went on from it or wrote step 1 again.")
DRILL_REQUESTER = "`cycle drill`"  # named in each move's trigger and event, as `cycle job reassign` and cycle tui are


def move_times(plan: DrillPlan) -> list[float]:
    """Seconds after the job started at which to move it."""
    if plan.at:
        return sorted(plan.at)
    if plan.every:
        return [plan.every * (i + 1) for i in range(plan.moves)]
    rng = random.Random(plan.seed)
    times, now = [], 0.0
    for _ in range(plan.moves):
        now += rng.uniform(2.0, 6.0)
        times.append(round(now, 2))
    return times


def is_progress(path: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], g) for g in globs)


def scratch_restarts(moves: list[Move], versions: list[Artifact], globs: tuple[str, ...]) -> list[str]:
    """Findings of the rule above, one sentence each (judged_rewrites' first list)."""
    return judged_rewrites(moves, versions, globs)[0]


def judged_rewrites(moves: list[Move], versions: list[Artifact], globs: tuple[str, ...]
                    ) -> tuple[list[str], list[str]]:
    """(findings of the rule above, rewrites it cannot judge), one sentence each. A restored file
    of an incomplete checkpoint is no evidence: rewriting it redoes that checkpoint, as a job
    resuming from the last whole one does. Incomplete: the move split it (split_checkpoints'
    case), or it has fewer kinds of file than another restored checkpoint of its folder (the kill
    came while it was being written: step-4.pt restored, step-4.json never written, step-3's three
    files whole). Files with no step of their own rewritten alone are no evidence while numbered
    checkpoints were restored: a job resuming from global_step200/ rewrites DeepSpeed's `latest`
    ("global_step300"), whose bytes no new file holds (a reviewer's false FAIL), and the
    `zero_to_fp32.py` it copies beside its checkpoint folders (a number in a script's name is no
    step); one that starts over rewrites global_step100/. A restored checkpoint saved again under
    a versioned name (Lightning's ModelCheckpoint writes `epoch=0-step=100-v1.ckpt` when the file
    is there and the job did not resume: a false PASS) is a rewrite. When no numbered checkpoint
    came back (one `checkpoint.pt` overwritten every epoch), a rewrite proves a restart only when
    its bytes are those of an older version than the one restored (the job went back,
    deterministically); new bytes, or the restored ones saved again, are what resuming and starting
    over both may write: not judged (a warning)."""
    findings, unjudged = [], []
    for number, move in enumerate(moves, start=1):
        if not move.restarted_ns:
            continue
        later = moves[number].ts_ns if number < len(moves) else None  # the next move ends this stay
        rewritten, proof = _rewrites(move, move.restarted_ns, later, versions, globs)
        where = f"after move {number} ({move.from_machine} -> {move.to_machine}) the job"
        if rewritten and proof == OLD_BYTES:
            findings.append(f"{where} rewrote {listed(rewritten, 5)}, which had been restored to it, with the bytes "
                            "of a version stored before the move: it went back to an older checkpoint (or started "
                            "over) instead of resuming from the newest.")
        elif rewritten and proof:
            findings.append(f"{where} rewrote {listed(rewritten, 5)}, which had been restored to it: it started over "
                            "(or went back to an older checkpoint) instead of resuming from the newest.")
        elif rewritten:
            unjudged.append(f"{where} overwrote {listed(rewritten, 5)}, restored to it, with no older version's "
                            "bytes: resuming and starting over both do that to a checkpoint kept in one file, so the "
                            "drill could not judge whether it resumed (no numbered checkpoint came back).")
    return findings, unjudged


OLD_BYTES = "old bytes"  # _rewrites' proof when only the bytes of an earlier version prove the restart


def _rewrites(move: Move, since: int, later: int | None, versions: list[Artifact], globs: tuple[str, ...]
              ) -> tuple[list[str], str | None]:
    """The restored progress files the job rewrote during its stay after `move` (from its restart,
    `since`, until `later`), in natural order (step-6 before step-10, as a reader counts), and
    what proves that a restart (judged_rewrites): numbered checkpoints came back, a versioned save,
    or OLD_BYTES; None: nothing does."""
    split = {p for split_set in _split_sets(move, globs).values() for p in split_set[0]}
    incomplete = split | _unfinished_checkpoints(move.restored)
    numbered = _numbered_beside(move.restored)
    restored = {p for p in move.restored if is_progress(p, globs) and p not in incomplete}
    in_stay = [v for v in versions if v.uploaded_ns > since and (later is None or v.uploaded_ns < later)]
    moved_on = _bytes_of_new_files(versions, set(move.restored))
    new_checkpoints = _bytes_of_new_files(versions, set(move.restored), numbered_only=True)
    following = _step_after_the_commit(move, versions, globs)
    stay = [v for v in in_stay if v.path in restored]
    redone = {v.path for v in stay if following is not None and _step_of(v.path) == following}
    redone_bytes = {v.sha256 for v in stay if v.path in redone}
    rewritten = {v.path for v in stay if v.path not in redone
                 and v.sha256 not in (new_checkpoints if numbered(v.path) else moved_on | redone_bytes)}
    numbered_back = any(numbered(path) for path in restored)
    if not any(numbered(path) for path in rewritten) and numbered_back:
        rewritten = set()  # pointers alone (DeepSpeed's text `latest`, Megatron's latest_…_iteration.txt): no evidence
    again = {base: v.path for v in in_stay if v.path not in move.restored
             and (base := _unversioned(v.path)) in restored and (following is None or _step_of(base) != following)}
    named = sorted(rewritten | set(again), key=natural_key)
    shown = [f"{path} (again, as {again[path]})" if path in again else path for path in named]
    if again or numbered_back:
        return shown, "numbered checkpoints" if not again else "a versioned save"
    return shown, OLD_BYTES if _went_back(versions, since, [v for v in stay if v.path in rewritten]) else None


def _went_back(versions: list[Artifact], since: int, rewrites: list[Artifact]) -> bool:
    """Whether a rewrite of a restored file holds bytes of a version stored before the move (since):
    an older version's (the job went back, deterministically), or the restored version's when the
    job wrote the file again after them (a restart after one save writes step 1's bytes, then
    step 2's); the restored bytes as the last write are none (a job re-saving its state at its end)."""
    earlier = _stored_before(versions, since)
    restored = {v.path: v.sha256 for v in earlier}  # the newest of each path
    older = {(v.path, v.sha256) for v in earlier} - set(restored.items())
    last = {v.path: v for v in sorted(rewrites, key=lambda v: v.uploaded_ns)}
    return any((v.path, v.sha256) in older or (restored.get(v.path) == v.sha256 and v is not last[v.path])
               for v in rewrites)


LIGHTNING_VERSION = re.compile(r"(?P<stem>.+)-v\d+(?P<extension>\.[^./]+)?")
"""`epoch=0-step=100-v1.ckpt`, `last-v2.ckpt`: Lightning's ModelCheckpoint saving a name that is taken."""


def _unversioned(path: str) -> str | None:
    """The name a versioned save (LIGHTNING_VERSION) was made in place of, or None."""
    folder, slash, name = path.rpartition("/")
    found = LIGHTNING_VERSION.fullmatch(name)
    return f"{folder}{slash}{found['stem']}{found['extension'] or ''}" if found else None


def checkpoint_layout(moves: list[Move], globs: tuple[str, ...]) -> str:
    """Where this job keeps its checkpoints, for the fix: its restored progress files as patterns
    (`/artifacts/ckpt/model_*.pt`; `step-*.pt` with `step-*.json` as `step-*.*`; a checkpoint folder
    as `checkpoint-*/`; Lightning's versioned `-v1` saves left out), else its restored progress files
    with no number as they are (`/artifacts/checkpoint.pt`), else GENERIC_LAYOUT. The fix named
    `checkpoints/step-*.*` whatever the job wrote, sending its reader to look for files the job had
    none of."""
    extensions: dict[str, set[str]] = {}  # a pattern without its extension -> the extensions seen
    unnumbered: set[str] = set()  # progress files with no number (checkpoint.pt): named as they are
    for move in moves:
        holders = _checkpoint_holders(move.restored)  # zero_to_fp32.py beside global_step500/ is no layout
        for path in move.restored:
            if (not is_progress(path, globs) or is_temporary(path) or _loose_beside(path, holders)
                    or _unversioned(path) in move.restored):  # (Lightning's -v1 save of a restored name)
                continue
            if found := _pattern_of(path):
                extensions.setdefault(found[0], set()).add(found[1])
            else:
                unnumbered.add(f"/artifacts/{path}")
    shown = sorted(f"/artifacts/{pattern}{seen.pop() if len(seen) == 1 else '.*'}"
                   for pattern, seen in extensions.items()) or sorted(unnumbered, key=natural_key)
    return listed(shown, 3) if shown else GENERIC_LAYOUT


def _pattern_of(path: str) -> tuple[str, str] | None:
    """(the path with its checkpoint's numbers starred, its extension): `ckpt/step-5.pt` ->
    (`ckpt/step-*`, `.pt`), `checkpoint-500/model.safetensors` -> (`checkpoint-*/`, ``); None for
    a file with no number (`latest.pt`: no layout to name)."""
    parts = path.split("/")
    if depth := _checkpoint_folder_at(parts):
        return "/".join([*parts[:depth - 1], re.sub(r"\d+", "*", parts[depth - 1])]) + "/", ""
    stem, dot, extension = parts[-1].rpartition(".")
    if not dot:
        stem, extension = extension, ""
    if not re.search(r"\d", stem):
        return None
    return "/".join([*parts[:-1], re.sub(r"\d+", "*", stem)]), dot + extension


def _unfinished_checkpoints(restored: list[str]) -> set[str]:
    """The restored files of checkpoints with fewer kinds of file (their names with the numbers
    taken out: step-#.pt, step-#.json) than another restored checkpoint of the same folder."""
    key_of = {path: checkpoint_of(path) for path in restored}
    kinds: dict[str, set[str]] = {}
    for path, key in key_of.items():
        kinds.setdefault(key, set()).add(re.sub(r"\d+", "#", path))
    folder_of = {key: key.rstrip("/").rpartition("/")[0] for key in kinds}
    short = {key for key, mine in kinds.items()
             if any(folder_of[other] == folder_of[key] and mine < theirs for other, theirs in kinds.items())}
    return {path for path, key in key_of.items() if key in short}


CHECKPOINT_FOLDER = re.compile(r"(?:checkpoint|ckpt|global[-_]?step|step|epoch|iter(?:ation)?)[-_=]?\d+",
                               re.IGNORECASE)
"""A folder that is one checkpoint: HF's checkpoint-500/, DeepSpeed's global_step500/, ckpt-5/, epoch=3/."""
CHECKPOINTS_FOLDER = re.compile(r"checkpoint|ckpt", re.IGNORECASE)
"""A folder whose folders named by a bare number are checkpoints (Orbax's checkpoints/500/): elsewhere a
bare number is a run (`runs/1/`, Hydra's multirun `0/`) or a date (`2024/`), not a step."""


def _checkpoint_folder_at(parts: list[str]) -> int:
    """How many of `parts` (a path's folders, then its name) lead to the outermost folder that is one
    checkpoint (CHECKPOINT_FOLDER, or a bare number inside a CHECKPOINTS_FOLDER); 0 for none."""
    for depth, part in enumerate(parts[:-1], start=1):
        if CHECKPOINT_FOLDER.fullmatch(part) or (part.isdigit() and depth > 1
                                                   and CHECKPOINTS_FOLDER.search(parts[depth - 2])):
            return depth
    return 0


def checkpoint_of(path: str) -> str:
    """The checkpoint a file belongs to: the outermost folder on its path named as one checkpoint
    (CHECKPOINT_FOLDER: `checkpoint-500/model.safetensors`, `checkpoint-500/global_step500/…`,
    `checkpoints/500/…`), else
    its folder and the last number in its name before the extension (step-5.pt, step-5.json,
    model_5.pt and optim_5.pt are step 5; shards `…-00002-of-00002.bin` go together), else its
    folder and its name up to the first dot (latest.pt, latest.json). Other numbered folders
    (`exp1/`, a run's `runs/May01_12-30-45/`) hold many checkpoints, or none."""
    parts = path.split("/")
    if depth := _checkpoint_folder_at(parts):
        return "/".join(parts[:depth]) + "/"
    folder, name = "/".join(parts[:-1]), parts[-1].lstrip(".")
    numbers = re.findall(r"\d+", name.rsplit(".", 1)[0])
    key = f"#{int(numbers[-1])}" if numbers else name.split(".", 1)[0]
    return f"{folder}/{key}" if folder else key


def is_temporary(path: str) -> bool:
    """A file written to be renamed (`.step-5.pt.tmp`, `step-5.pt.partial`): not part of a
    checkpoint yet, so losing it splits none (the kill, not the queue, cut that write short)."""
    name = path.rpartition("/")[2]
    return name.startswith(".") or name.endswith((".tmp", ".temp", ".partial", "~"))


def _split_sets(move: Move, globs: tuple[str, ...]) -> dict[str, tuple[list[str], list[str]]]:
    """checkpoint -> (its files restored, its files lost) for each checkpoint holding a progress
    file that the move split: a file restored whose newest version was not lost, and another lost.
    A checkpoint lost whole (the job resumes from the older one) or restored whole is no split;
    nor is one whose every file had an older version restored (an older checkpoint, complete)."""
    lost = {p for p in move.lost if not is_temporary(p)}
    members: dict[str, tuple[list[str], list[str]]] = {}
    for path in sorted(set(move.restored) - lost, key=natural_key):
        members.setdefault(checkpoint_of(path), ([], []))[0].append(path)
    for path in sorted(lost, key=natural_key):
        if (key := checkpoint_of(path)) in members:
            members[key][1].append(path)
    return {key: (restored, gone) for key, (restored, gone) in members.items()
            if gone and any(is_progress(p, globs) for p in restored + gone)}


def split_checkpoints(moves: list[Move], versions: list[Artifact], globs: tuple[str, ...]) -> list[str]:
    """Warnings of the "half a checkpoint" rule, one sentence each: the move split a checkpoint and
    the job never wrote the lost files again (a job that went back to the last whole checkpoint
    redoes the step, after this move or a later one). A warning, not a verdict: the records cannot
    say which checkpoint the job loaded, and one that saves on a clock never writes step 5 again."""
    findings = []
    for number, move in enumerate(moves, start=1):
        if not move.restarted_ns:
            continue
        rewritten = {v.path for v in versions if v.uploaded_ns > move.restarted_ns}
        for _key, (restored, lost) in sorted(_split_sets(move, globs).items(),
                                             key=lambda item: natural_key(item[0])):  # in checkpoint order
            missing = [p for p in lost if p not in rewritten]
            if missing:
                findings.append(
                    f"move {number} ({move.from_machine} -> {move.to_machine}) split a checkpoint: "
                    f"{listed(restored, 5)} restored, {listed(missing, 5)} lost in the upload queue and "
                    "never written again: a job resuming from it had half a checkpoint.")
    return findings


def _bytes_of_new_files(versions: list[Artifact], restored: set[str], numbered_only: bool = False) -> set[str]:
    """The sha256 of every version of a file the move did not restore (one the job made after it,
    or one lost in the queue); `numbered_only`: of a numbered file alone (a checkpoint, ckpt-7.pt).
    A restored path rewritten with such bytes is a pointer moved on to the newest checkpoint
    (`latest.pt -> ckpt-7.pt` re-pointed with `ln -sfn`, stored as its target's bytes, or a copy),
    in either upload order, not a restart; a job that starts over rewrites restored paths with
    bytes no new file holds, its `latest.pt` pointing at a rewritten restored checkpoint. A
    restored numbered checkpoint is excused only by a new numbered file's bytes: a `latest.pt`
    lost in the queue at the move is new to the records, and a restart's latest.pt holding the
    rewritten ckpt-1.pt's bytes excused that rewrite (a user test's false PASS)."""
    return {v.sha256 for v in versions if v.path not in restored and (not numbered_only or _numbered(v.path))}


def _step_after_the_commit(move: Move, versions: list[Artifact], globs: tuple[str, ...]) -> int | None:
    """The restored step right after the one a restored pointer names, which the job may redo:
    `latest.pt` holding ckpt-1.pt's bytes, ckpt-2.pt restored too (the move came between storing
    ckpt-2.pt and re-pointing latest.pt), and the job, resuming from what latest.pt commits,
    redoes step 2. No restart (a user test's false FAIL). Only that one step: a pointer lagging on
    purpose (`best.pt` at step 2 of 5) does not excuse going back to it (a reviewer's false PASS);
    rewriting ckpt-1.pt, or anything at or before the committed step, still is a restart."""
    committed = _committed_step(move, versions, globs)
    if committed is None:
        return None
    return min((step for path in move.restored if (step := _step_of(path)) is not None and step > committed),
               default=None)


def _committed_step(move: Move, versions: list[Artifact], globs: tuple[str, ...]) -> int | None:
    """The newest step a restored pointer (a file with no step of its own: latest.pt) names: the
    step of the one checkpoint stored with the same bytes as the pointer's version restored (its
    newest stored before the job restarted); bytes every checkpoint shares (a config.json copied
    into each) name none. A progress pointer whose bytes are no checkpoint's (DeepSpeed's text
    `latest` holding "global_step200", a Lightning `last.ckpt` saved apart from its epoch file)
    names the newest step whose files were all written before it (by the files' modified times,
    not upload order: LIFO stores a pointer before the checkpoint written just ahead of it): it is
    written once they are, and a move between the two brings back a pointer one step behind (a
    user test's false FAIL). None when no restored pointer names one."""
    before = _stored_before(versions, move.restarted_ns)
    restored_version = {v.path: v for v in before}  # the newest of each path wins
    steps: dict[str, set[int]] = {}
    files_of: dict[int, list[Artifact]] = {}  # step -> its progress files' versions before the restart
    for v in before:
        if (step := _step_of(v.path)) is not None:
            steps.setdefault(v.sha256, set()).add(step)
            if is_progress(v.path, globs):
                files_of.setdefault(step, []).append(v)
    named: list[int] = []
    for path in move.restored:
        if _step_of(path) is not None or (pointer := restored_version.get(path)) is None:
            continue
        found = steps.get(pointer.sha256, set())
        if len(found) == 1:
            named += found
        elif not found and is_progress(path, globs):
            whole = [step for step, files in files_of.items() if all(_before(v, pointer) for v in files)]
            named += [max(whole)] if whole else []  # no step whole before it: it commits none
    return max(named, default=None)


def _stored_before(versions: list[Artifact], since: int | None) -> list[Artifact]:
    """The versions stored before `since` (a move's restart; None: all), oldest first: the last of
    each path is the one restored."""
    return sorted((v for v in versions if since is None or v.uploaded_ns < since), key=lambda v: v.uploaded_ns)


def _before(file: Artifact, pointer: Artifact) -> bool:
    """Whether `file` was written before `pointer` (or in the same clock tick, which file times
    count in milliseconds): by the modified times both records kept, else (a record from before
    they were kept) by when each was stored."""
    if file.mtime_ns and pointer.mtime_ns:
        return file.mtime_ns <= pointer.mtime_ns
    return file.uploaded_ns < pointer.uploaded_ns


def _step_of(path: str) -> int | None:
    """The step of the checkpoint a file belongs to (checkpoint_of): step-5.pt and
    checkpoint-500/model.pt have one, latest.pt none."""
    key = checkpoint_of(path)
    if "#" in key:
        return int(key.rpartition("#")[2])
    numbers = re.findall(r"\d+", key.rstrip("/").rpartition("/")[2]) if key.endswith("/") else []
    return int(numbers[-1]) if numbers else None


def _numbered(path: str) -> bool:
    """Whether a file belongs to a numbered checkpoint (_step_of: ckpt-7.pt, checkpoint-500/model.pt),
    as a pointer (latest.pt, runs/exp2/latest.pt: a digit in a folder's name is no step) does not."""
    return _step_of(path) is not None


def _numbered_beside(restored: list[str]) -> Callable[[str], bool]:
    """_numbered, where a file loose in a folder beside restored checkpoint folders (DeepSpeed's
    `zero_to_fp32.py` and `latest` next to global_step500/) belongs to none of them: a number in
    such a file's name is no step."""
    holders = _checkpoint_holders(restored)
    return lambda path: _numbered(path) and not _loose_beside(path, holders)


def _checkpoint_holders(restored: list[str]) -> set[str]:
    """The folders that hold restored checkpoint folders (`checkpoints` for checkpoints/global_step500/)."""
    return {key.rstrip("/").rpartition("/")[0] for path in restored if (key := checkpoint_of(path)).endswith("/")}


def _loose_beside(path: str, holders: set[str]) -> bool:
    """Whether `path` is a file right in one of `holders`, in no checkpoint folder of its own."""
    return not checkpoint_of(path).endswith("/") and path.rpartition("/")[0] in holders


NOT_CHECKPOINTS = ("log", "csv", "txt", "json", "yaml", "yml", "md", "png", "jpg")  # extensions of logs, metrics, plots


def _likely_checkpoint(path: str, numbered: bool = True) -> bool:
    """A file with a real extension that is not a log's, metrics' or plot's, and no TensorBoard
    events file (events.out.tfevents.1716900000.host.0), with a number in its name when `numbered`:
    a glob for it is worth offering."""
    name = path.rpartition("/")[2]
    stem, dot, extension = name.rpartition(".")
    return bool(dot and re.search(r"[A-Za-z]", extension) and extension.lower() not in NOT_CHECKPOINTS
                and (re.search(r"\d", stem) or not numbered) and "tfevents" not in name)


def _nothing_to_judge(moves: list[Move], globs: tuple[str, ...]) -> str:
    """Why no move could be judged: none restored a file matching the globs. When files came back
    (a Keras `weights.04.h5` the defaults do not match), they are named with a glob that would."""
    restored = sorted({path for move in moves for path in move.restored}, key=natural_key)
    missed = (f"no move restored a checkpoint matching --progress-glob ({', '.join(globs)}), so resuming could "
              "not be checked")
    if not restored:
        return f"{missed}: move later, or checkpoint sooner."
    named = next((path for path in restored if _likely_checkpoint(path)), None) or next(
        (path for path in restored if _likely_checkpoint(path, numbered=False)), restored[0])
    folder, _, name = named.rpartition("/")
    extension = name.rpartition(".")[2] if "." in name.lstrip(".") else ""
    suggested = f"*.{extension}" if extension else f"{folder}/*" if folder else name
    return (f"{missed}, though {listed(restored, 3)} came back: if those are your checkpoints, name them "
            f"(--progress-glob '{suggested}'); else move later, or checkpoint sooner.")


@dataclass
class DrillReport:
    job: str
    project: str
    final_state: str
    reason: str | None
    wall_seconds: float
    moves_planned: list[float]
    moves: list[dict] = field(default_factory=list)
    verdict: str = "FAIL"
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # risks seen that do not decide the verdict (--strict: they do)
    hint: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        warned = f" with {len(self.warnings)} warning(s)" if self.warnings else ""
        lines = [f"drill of job {self.job} (project {self.project}): {self.verdict}{warned}",
                 f"  final state {self.final_state}" + (f" ({self.reason})" if self.reason else "")
                 + f", wall time {self.wall_seconds:.1f} s, {len(self.moves)} of {len(self.moves_planned)} planned "
                   "move(s) made"]
        for i, m in enumerate(self.moves, start=1):
            nxt = "-" if m["seconds_to_next_artifact"] is None else f"{m['seconds_to_next_artifact']:.2f} s"
            lines.append(
                f"  move {i} at {m['at_seconds']:.1f} s: {m['from']} -> {m['to']} ({m['trigger']}); "
                f"{m['files_uploaded']} file(s) in storage, {len(m['files_lost'])} lost in the queue; "
                f"restored {m['restored_files']} file(s), {m['restored_bytes']} bytes in {m['restore_seconds']:.2f} s; "
                f"next artifact after {nxt}")
            if m["files_lost"]:
                lines.append(f"    lost: {lost_named(m['files_lost'], m['files_lost_older_restored'], 10)}")
        lines += [f"  why: {r}" for r in self.reasons]
        lines += [f"  warning: {w}" for w in self.warnings]
        if self.hint:
            lines.append(f"  fix: {self.hint}")
        return "\n".join(lines)


def judge(job: Job, moves: list[Move], versions: list[Artifact], plan_times: list[float], started_ns: int,
          wall: float, plan: DrillPlan, timed_out: bool) -> DrillReport:
    report = DrillReport(job.name, job.project, job.state.value, job.reason, round(wall, 2), plan_times)
    for m in moves:
        report.moves.append({
            "at_seconds": round((m.ts_ns - started_ns) / 1e9, 2), "from": m.from_machine, "to": m.to_machine,
            "trigger": m.trigger, "files_uploaded": m.uploaded, "files_lost": m.lost,
            "files_lost_older_restored": older_restored(m.lost, m.restored),
            "restored_files": len(m.restored), "restored_bytes": m.restored_bytes,
            "restore_seconds": round(m.restore_seconds or 0.0, 3), "seconds_to_next_artifact": m.next_artifact_seconds,
        })
    if timed_out:
        report.reasons.append(f"the job did not end within --timeout {plan.timeout:g} s; it was cancelled.")
    elif job.state is not JobState.FINISHED:
        report.reasons.append(f"the job ended {job.state.value}" + (f" ({job.reason})" if job.reason else "") + ".")
    if len(moves) < len(plan_times):
        report.reasons.append(f"the job ended after {len(moves)} of {len(plan_times)} planned move(s): "
                              "make the moves earlier (--every, --at) or the job longer.")
    scratch, unjudged = judged_rewrites(moves, versions, plan.progress_globs)
    split = split_checkpoints(moves, versions, plan.progress_globs)
    report.reasons += scratch + (split + unjudged if plan.strict else [])
    report.warnings = [] if plan.strict else split + unjudged
    resume = RESUME_HINT.format(layout=checkpoint_layout(moves, plan.progress_globs))
    report.hint = " ".join(hint for hint, found in ((resume, scratch), (SPLIT_HINT, split), (NUMBERED_HINT, unjudged))
                           if found) or None
    if moves and not any(is_progress(p, plan.progress_globs) for m in moves for p in m.restored):
        report.reasons.append(_nothing_to_judge(moves, plan.progress_globs))
    report.verdict = "FAIL" if report.reasons else "PASS"
    return report


def run_drill(platform, project_dir: Path, plan: DrillPlan, say: Callable[[str], None], options=None) -> DrillReport:
    """Start the project detached (with `cycle project test`'s options), move it at the planned times,
    wait for its end, judge. Ctrl-C or a SIGTERM cancels the job (DrillInterrupted): its agent is
    detached, so a drill that just died left it RUNNING on its machine. While the job is being
    created they wait (an interrupt then would leave a job with no name to cancel it by); while it is
    being cancelled, they are only noted."""
    from cycle.api.options import TestOptions
    from emulator.job.guard import Interrupts

    times = move_times(plan)
    wall_start = time.monotonic()
    job = None
    with Interrupts() as interrupts:
        try:
            with interrupts.deferred():
                job = platform.start_detached(project_dir, options or TestOptions())
            say(f"drill: started job {job.name}; moves planned at {', '.join(f'{t:g}' for t in times)} s after it "
                "starts")
            return _drive(platform, job, plan, times, say, wall_start)
        except KeyboardInterrupt:
            interrupts.hold()
            if job is None:
                raise
            raise _interrupted(platform, job.name, interrupts.signum != signal.SIGTERM) from None


def _drive(platform, job: Job, plan: DrillPlan, times: list[float], say: Callable[[str], None],
           wall_start: float) -> DrillReport:
    """The drill once its job exists: the moves, the wait for its end (cancelled at --timeout), the verdict."""
    while (job := platform.job(job.name)).state is JobState.PENDING:
        if time.monotonic() - wall_start > plan.timeout:
            break
        time.sleep(0.05)
    started = time.monotonic()
    started_ns = job.started_ns or time.time_ns()
    timed_out = False
    for number, at in enumerate(times, start=1):
        while time.monotonic() - started < at and not platform.job(job.name).state.is_final:
            time.sleep(0.05)
        if platform.job(job.name).state is not JobState.RUNNING:
            break
        try:
            move = platform.reassign(job.name, grace=plan.grace, requester=DRILL_REQUESTER)
        except Exception as error:  # the job ended while we asked: judged below
            say(f"drill: move {number} not made: {error}")
            break
        say(f"drill: move {number} at {(move.ts_ns - started_ns) / 1e9:.1f} s: {move.from_machine} -> "
            f"{move.to_machine}, "
            f"restored {len(move.restored)} file(s), lost {len(move.lost)}; restarted after "
            f"{(move.restarted_ns - move.ts_ns) / 1e9:.1f} s")
    while not (job := platform.job(job.name)).state.is_final:
        if time.monotonic() - wall_start > plan.timeout:
            timed_out = True
            job = platform.cancel(job.name)
            break
        time.sleep(0.1)
    versions = platform.artifact_versions(job.name)
    return judge(job, platform.moves(job.name), versions, times, started_ns, time.monotonic() - wall_start, plan,
                 timed_out)


def _interrupted(platform, name: str, ctrl_c: bool) -> DrillInterrupted:
    """Cancel the drill's job after Ctrl-C or a SIGTERM, and the one line that says so."""
    how = "Ctrl-C" if ctrl_c else "a SIGTERM"
    job = platform.job(name)
    if not job.state.is_final:
        try:
            job = platform.cancel(name, requester=f"{DRILL_REQUESTER}, interrupted by {how}")
        except BadInput:  # it ended meanwhile
            job = platform.job(name)
    if job.state is JobState.CANCELLED:  # one that never ran (it waited for a machine, or built) had no container
        after = "its container removed, its machine freed" if job.started_ns else "it had not started running"
        return DrillInterrupted(f"drill interrupted ({how}): job {name} cancelled ({after}); no verdict.", ctrl_c)
    return DrillInterrupted(f"drill interrupted ({how}): job {name} had already ended {job.state.value}"
                            + (f" ({job.reason})" if job.reason else "") + "; no verdict.", ctrl_c)
