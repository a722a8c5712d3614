"""`cycle emulator …`: the local platform's engine, base images and home."""

from __future__ import annotations

from typing import Annotated

import typer

from cycle.cli.style import CycleTyper
from cycle.sizes import human_size

app = CycleTyper(help="Set up and inspect the local emulator: Docker engine, base images, home folder.",
                  no_args_is_help=True)
engine_app = CycleTyper(help="The Docker engine the emulator runs jobs in.", no_args_is_help=True)
app.add_typer(engine_app, name="engine")


def _say(text: str) -> None:
    typer.echo(f"cycle: {text}", err=True)


@engine_app.command("start")
def engine_start() -> None:
    """Use the engine that answers; otherwise (as root) install docker.io if needed and start dockerd."""
    from cycle.platform import open_admin

    _say(open_admin().engine_start(_say))


@engine_app.command("status")
def engine_status() -> None:
    """Say whether a Docker engine answers (exit 1 when none does)."""
    from cycle.platform import open_admin

    typer.echo(open_admin().engine_status())


@app.command("base-image")
def base_image(
    kind: Annotated[str, typer.Option(help="auto (real ubuntu where a registry answers, else Debian, else busybox), "
                                           "ubuntu, debian or busybox.")] = "auto",
    version: Annotated[list[str] | None, typer.Option(
        "--version", help="[ubuntu] versions to provide (repeatable; default: all).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Rebuild the stand-in even when it exists (e.g. after adding a CA certificate).")] = False,
    pull: Annotated[bool | None, typer.Option(
        "--pull/--no-pull", help="Try pulling the real ubuntu images from a registry first "
        "(default: only when CYCLE_PULL_UBUNTU=1; images already in the engine are always used).")] = None,
    pull_timeout: Annotated[float, typer.Option(
        metavar="SECONDS", help="Seconds a registry may stay silent before cycle falls through.")] = 20.0,
    if_missing: Annotated[bool, typer.Option(
        "--if-missing", hidden=True, help="Kept for old scripts: existing images are always reused.")] = False,
) -> None:
    """Provide a base image for every [ubuntu] version, best first, and record the choice.

    Best is the real ubuntu:VERSION (pulled explicitly, here and only here). Where no registry
    answers: a Debian bookworm root filesystem built with mmdebstrap from this machine's apt mirror
    (python3, venv, pip, curl; apt-get works; trusts /usr/local/share/ca-certificates). Last resort,
    with a warning: busybox + bash. Existing images are reused, so running it again takes seconds.
    """
    from cycle.api.manifest import UBUNTU_VERSIONS
    from cycle.cli.output import fail
    from cycle.platform import open_admin

    admin = open_admin()
    kinds = admin.base_image_kinds()
    if kind not in kinds:
        fail(f"--kind {kind!r} is not known. Use one of: {', '.join(kinds)}.")
    versions = version or list(UBUNTU_VERSIONS)
    for v in versions:
        if v not in UBUNTU_VERSIONS:
            fail(f"--version {v!r} is not an [ubuntu] version the platform offers. "
                 f"Use one of: {', '.join(UBUNTU_VERSIONS)}.")
    admin.provide_base_images(versions, kind, force=force, pull=pull, pull_timeout=pull_timeout, say=_say)


@app.command()
def pull(version: Annotated[str, typer.Argument(help='[ubuntu] version, e.g. "24.04".')]) -> None:
    """Pull ubuntu:VERSION from a registry, explicitly (cycle never pulls on its own)."""
    from cycle.api.manifest import UBUNTU_VERSIONS
    from cycle.cli.output import fail
    from cycle.platform import open_admin

    if version not in UBUNTU_VERSIONS:
        fail(f"{version!r} is not an [ubuntu] version the platform offers. Use one of: {', '.join(UBUNTU_VERSIONS)}.")
    open_admin().pull(version, _say)
    _say(f"pulled ubuntu:{version}")


@app.command()
def images(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """Show which image each [ubuntu] version maps to, why, and whether the engine has it."""
    import dataclasses
    import json

    from cycle.platform import open_admin

    rows = open_admin().images()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(row) for row in rows], indent=2))
        return
    for row in rows:
        present = "present" if row.present else "MISSING"
        typer.echo(f"{row.version:6} {present:8} {row.explanation}")


@app.command()
def setup() -> None:
    """Everything `cycle project test` needs here: an engine, a base image per [ubuntu] version, a check.

    Images you mapped yourself (CYCLE_BASE_IMAGE, config.toml) are left alone; otherwise the best
    base image is provided (see `cycle emulator base-image`). Ends with `cycle emulator doctor`.
    """
    from cycle.platform import open_admin

    engine_start()
    mapped = open_admin().user_mapped_image()
    if mapped is None:
        # set-up contacts a registry only when asked (the emulator's settings: CYCLE_PULL_UBUNTU=1)
        base_image(kind="auto", version=None, force=False, pull=None, pull_timeout=20.0, if_missing=False)
    else:
        _say(f"[ubuntu] versions map to {mapped}: see `cycle emulator images`")
    doctor(as_json=False)


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """Check what this machine needs, each line OK, WARN or FAIL with the fix (exit 1 on a FAIL).

    The engine, the base image of each [ubuntu] version, builds reaching PyPI (a probe container),
    the artifact store, free disk and inotify limits under the home, the GPU driver's CUDA version
    and the engine's NVIDIA runtime.
    """
    import json

    from cycle.platform import open_admin

    report = open_admin().doctor()
    typer.echo(json.dumps(report.records, indent=2) if as_json else report.text)
    raise typer.Exit(report.exit_code)


@app.command()
def machines(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """The simulated machines: name, what each does (available, `running JOB`, busy, offline), CUDA."""
    import dataclasses
    import json

    from cycle.platform import open_admin

    rows = open_admin().machines()
    if as_json:
        typer.echo(json.dumps([{**dataclasses.asdict(m), "activity": m.activity} for m in rows], indent=2))
        return
    width = max((len(m.activity) for m in rows), default=10)
    for m in rows:
        typer.echo(f"{m.name:10} {m.activity:{width}}  cuda={m.cuda or '-'}")


@app.command()
def machine(
    name: Annotated[str, typer.Argument(help="Machine name, e.g. local-1.")],
    state: Annotated[str, typer.Argument(help="available, busy (its owner's own work) or offline.")],
) -> None:
    """Set a machine's state; a job on a machine that goes busy or offline is reassigned."""
    from cycle.platform import open_admin

    m = open_admin().set_machine_state(name, state)
    typer.echo(f"{m.name}: {m.state}")


@app.command()
def outbox(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """The emails jobs sent (email_on_success / email_on_failure), oldest first."""
    import json

    from cycle.platform import open_admin

    mails = open_admin().outbox()
    if as_json:
        typer.echo(json.dumps(mails, indent=2))
        return
    for mail in mails:
        typer.echo(f"{mail['date']}  {mail['subject']}")
    if not mails:
        typer.echo("the outbox is empty")


def _holding(held) -> str:
    """What cycle's moto server holds or lost (an S3Holding), as usage, storage stop and status say it."""
    return f"{held['files']} artifact(s) of {held['jobs']} job(s), {human_size(held['bytes'])}"


@app.command()
def usage(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts (bytes).")] = False) -> None:
    """What the soft quota counts (per project: artifacts, logs; volumes), and what the home holds on
    disk by part: working copies of ended jobs, older artifact versions, project versions, ...; the
    home's build images in the Docker engine."""
    import json

    from cycle.platform import open_admin

    report = open_admin().usage()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for line in usage_lines(report):
        typer.echo(line)


def usage_lines(report) -> list[str]:
    """`emulator usage`'s text: sizes as `job status` prints them (1.5 MiB); --json keeps bytes."""
    size = human_size
    lines = ["counted for the soft quota (the newest version of each artifact of jobs not archived, log text, "
             "volumes):"]
    width = max([38, *(len(row["project"]) for row in report["projects"])])  # a long name widens the column
    lines += [f"  {row['project']:{width}} artifacts {size(row['artifacts']):>10}   logs {size(row['logs']):>10}"
              for row in report["projects"]]
    lines.append(f"  {'volumes':{width}} {size(report['volumes']):>20}")
    total = f"  {'total':{width}} {size(report['quota_used']):>20}"
    if report["quota"]:
        state = "over" if report["quota_used"] > report["quota"] else "within"
        total += f"   soft quota {size(report['quota'])}: {state} (uploads are never rejected)"
    lines.append(total)
    if not report["on_disk_total"]:
        return [*lines, f"on disk in {report['home']}: nothing yet (no job has run)"]
    lines.append(f"on disk in {report['home']}: {size(report['on_disk_total'])} (as du counts it), by part:")
    for part in report["on_disk"]:
        if part["bytes"] or part["jobs"]:
            what = part["what"] if part["jobs"] is None else f"{part['jobs']} job(s): {part['what']}"
            lines.append(f"  {size(part['bytes']):>10}  {what}")
    lost = report["s3_lost"]
    if lost and lost["files"]:
        lines.append(f"lost: {_holding(lost)}, were on "
                     f"cycle's moto server at {lost['server']} before it restarted (it keeps objects in memory); "
                     "their records remain")
    images = report["build_images"]
    if images["images"]:
        if images["counted"]:
            lines.append(f"build images: {images['images']}, {size(images['bytes'])} of their own layers "
                         f"({images['note']})")
        else:  # without an engine, the recorded builds: some of their images may be gone from it
            lines.append(f"build images: {images['images']} build(s) recorded, how many still in the engine and "
                         f"their size unknown ({images['note']})")
    return lines


@app.command()
def home() -> None:
    """Print the emulator home ($CYCLE_HOME, default ~/.cycle): state.db, machines/, config.toml."""
    from cycle.platform import open_admin

    typer.echo(str(open_admin().home()))


storage_app = CycleTyper(help="Where artifacts are stored: the local folder (default) or an S3 API.",
                          no_args_is_help=True)
app.add_typer(storage_app, name="storage")


@storage_app.command("start")
def storage_start(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")] = None,
) -> None:
    """Start moto's S3 server on 127.0.0.1 and store artifacts there (objects live in its memory)."""
    from cycle.platform import open_admin

    host = open_admin().storage_start(port)
    _say(f"S3 server (moto) answers on http://{host}; artifacts now go to bucket 'cycleswap' there. "
         "moto keeps objects in memory: they are lost when it stops.")


@storage_app.command("stop")
def storage_stop(
    force: Annotated[bool, typer.Option("--force", help="Stop it even while jobs run or wait (their uploads fail).")
                     ] = False,
) -> None:
    """Stop the S3 server started by `storage start` and go back to the local folder store.

    moto keeps objects in memory: the artifacts only that server holds are lost, and it says how many.
    Refused (exit 2) while jobs run or wait, as they may store artifacts in it, unless --force."""
    from cycle.platform import open_admin

    admin = open_admin()
    held = admin.storage_held()  # asked first: the server's objects are gone once it stops
    if not admin.storage_stop(force=force):
        _say("no S3 server started by cycle was running")
        return
    if held and held["files"]:
        _say(f"warning: {_holding(held)}, lived only in the S3 server at {held['server']} (moto keeps objects in "
             "memory) and are lost with it, as are the volume and project versions uploaded while it was the store. "
             "Their records stay: pulling them will say they are gone.")
    _say("stopped the S3 server; artifacts go to the local folder store again")


@storage_app.command("use")
def storage_use(
    kind: Annotated[str, typer.Argument(help="local, or s3 (an S3 API such as a LocalStack you run).")],
    host: Annotated[str | None, typer.Option(
        help="host:port of the S3 API (default: $LOCALSTACK_HOST or localhost:4566).")] = None,
    bucket: Annotated[str | None, typer.Option(help="Bucket name (default: cycleswap).")] = None,
) -> None:
    """Choose the artifact store: the local folder, or an S3 API reached through localstack-client."""
    from cycle.cli.output import fail
    from cycle.platform import open_admin

    if kind not in ("local", "s3"):
        fail(f"storage kind {kind!r} is not known. Use `local` or `s3`.")
    _say(f"artifacts go to {open_admin().storage_use(kind, host, bucket)}")


@storage_app.command("status")
def storage_status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """Say which store artifacts go to and whether it answers; with cycle's moto server, what only it holds."""
    import json

    from cycle.platform import open_admin

    report = open_admin().storage_report()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(report["description"] + " (answers)")
    if report["held"] is not None:
        held = report["held"]
        typer.echo(f"cycle's moto server at {held['server']} holds {_holding(held)}, in memory only: "
                   "`cycle emulator storage stop` loses them")
    lost = report["lost"]
    if lost and lost["files"]:
        typer.echo(f"lost: {_holding(lost)}, stored there before the server restarted")
