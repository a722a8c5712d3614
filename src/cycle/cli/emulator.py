"""`cycle emulator …`: the local platform's engine, base images and home."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Set up and inspect the local emulator: Docker engine, base images, home folder.", no_args_is_help=True)
engine_app = typer.Typer(help="The Docker engine the emulator runs jobs in.", no_args_is_help=True)
app.add_typer(engine_app, name="engine")


def _say(text: str) -> None:
    typer.echo(f"cycle: {text}", err=True)


@engine_app.command("start")
def engine_start() -> None:
    """Use the engine that answers; otherwise (as root) install docker.io if needed and start dockerd."""
    from emulator.config import emulator_home
    from emulator.engine import ensure_engine

    _say(ensure_engine(emulator_home(), _say))


@engine_app.command("status")
def engine_status() -> None:
    """Say whether a Docker engine answers (exit 1 when none does)."""
    from emulator import runtime

    client = runtime.connect()
    version = client.version()
    typer.echo(f"Docker engine {version.get('Version')} (API {version.get('ApiVersion')}) answers")


@app.command("base-image")
def base_image(
    tag: Annotated[str, typer.Option(help="Tag for the imported image.")] = "cycle/base:busybox",
    version: Annotated[list[str] | None, typer.Option("--version", help="[ubuntu] versions to map to it (repeatable; default: all).")] = None,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when the tag already exists.")] = False,
) -> None:
    """Make an offline stand-in base image (busybox + bash, no registry needed) and map versions to it.

    It is not Ubuntu: there is no apt-get inside. Use it where no registry is reachable; elsewhere
    `cycle emulator pull VERSION` fetches the real ubuntu image.
    """
    from docker.errors import ImageNotFound

    from cycle.cli.output import fail
    from cycle.manifest import UBUNTU_VERSIONS
    from emulator import runtime
    from emulator.baseimage import make_base_image
    from emulator.config import map_versions

    versions = version or list(UBUNTU_VERSIONS)
    for v in versions:
        if v not in UBUNTU_VERSIONS:
            fail(f"--version {v!r} is not an [ubuntu] version the platform offers. Use one of: {', '.join(UBUNTU_VERSIONS)}.")
    client = runtime.connect()
    try:
        image_id = client.images.get(tag).id if if_missing else None
    except ImageNotFound:
        image_id = None
    if image_id:
        _say(f"{tag} already exists ({image_id[:19]})")
    else:
        image_id = make_base_image(client, tag)
        _say(f"imported {tag} ({image_id[:19]}) from Debian's busybox-static and bash-static")
    path = map_versions(tag, versions)
    _say(f"[ubuntu] {', '.join(versions)} now map to {tag} (recorded in {path})")


@app.command()
def pull(version: Annotated[str, typer.Argument(help='[ubuntu] version, e.g. "24.04".')]) -> None:
    """Pull ubuntu:VERSION from a registry, explicitly (cycle never pulls on its own)."""
    from cycle.cli.output import fail
    from cycle.manifest import UBUNTU_VERSIONS
    from emulator import runtime

    if version not in UBUNTU_VERSIONS:
        fail(f"{version!r} is not an [ubuntu] version the platform offers. Use one of: {', '.join(UBUNTU_VERSIONS)}.")
    client = runtime.connect()
    _say(f"pulling ubuntu:{version} …")
    try:
        client.images.pull("ubuntu", tag=version)
    except Exception as error:  # docker-py raises APIError or requests errors; both mean "no registry"
        fail(f"pulling ubuntu:{version} failed ({str(error)[:200]}). Without a registry, use `cycle emulator base-image`.", 1)
    _say(f"pulled ubuntu:{version}")


@app.command()
def images() -> None:
    """Show which image each [ubuntu] version maps to, why, and whether the engine has it."""
    from docker.errors import ImageNotFound

    from cycle.manifest import UBUNTU_VERSIONS
    from emulator import runtime
    from emulator.config import image_for

    client = runtime.connect()
    for version in UBUNTU_VERSIONS:
        choice = image_for(version)
        try:
            client.images.get(choice.image)
            present = "present"
        except ImageNotFound:
            present = "MISSING"
        typer.echo(f"{version:6} {choice.image:28} {present:8} from {choice.source}")


@app.command()
def setup() -> None:
    """Everything `cycle project test` needs here: an engine that answers and a base image."""
    engine_start()
    from emulator.baseimage import DEFAULT_TAG
    from emulator.config import image_for

    mapped = image_for("24.04").image
    if mapped in ("ubuntu:24.04", DEFAULT_TAG):
        base_image(tag=DEFAULT_TAG, version=None, if_missing=True)
    else:
        _say(f"[ubuntu] versions map to {mapped}: see `cycle emulator images`")


@app.command()
def home() -> None:
    """Print the emulator home ($CYCLE_HOME, default ~/.cycle): state.db, machines/, config.toml."""
    from emulator.config import emulator_home

    typer.echo(str(emulator_home()))
