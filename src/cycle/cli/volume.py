"""`cycle volume upload|list|versions`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cycle.cli.style import CycleTyper

app = CycleTyper(help="Read-only data for jobs: mounted at /volumes/<name> when the manifest lists it.",
                  no_args_is_help=True)


def _row(version) -> dict:
    return {"name": version.name, "version": version.version, "files": len(version.files), "bytes": version.size,
            "new_bytes": version.new_bytes}


@app.command()
def upload(
    name: Annotated[str, typer.Argument(help="Volume name, as listed in [main] volumes.")],
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder whose files become the new version.")],
) -> None:
    """Upload DIR as a new version of volume NAME; files stored before are not stored again.

    Links are followed, as `cp -rL` does: each is stored as its target's bytes under the link's
    name. A dangling link or a link cycle is skipped with a warning naming it."""
    from rich.progress import BarColumn, DownloadColumn

    from cycle.cli.output import progress_bar
    from cycle.platform import open_platform

    links = 0

    def scanned(scan) -> None:
        nonlocal links
        links = scan.links_followed
        for line in scan.skipped:
            typer.echo(f"warning: skipped {line}", err=True)

    with progress_bar("[progress.description]{task.description}", BarColumn(), DownloadColumn()) as bar:
        task = bar.add_task(f"uploading {name}", total=None)
        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        version, created = open_platform().upload_volume(name, directory, progress, scanned)
    followed = f", {links} link(s) followed" if links else ""
    if created:
        folders = f", {len(version.folders)} empty folder(s)" if version.folders else ""
        typer.echo(f"volume {name} version {version.version}: {len(version.files)} file(s){folders}, {version.size} "
                   f"bytes, {version.new_bytes} new bytes stored{followed}")
    else:
        typer.echo(f"volume {name} is unchanged: still version {version.version} (no bytes stored{followed})")


@app.command("list")
def list_volumes(as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """Every volume with its newest version."""
    from cycle.platform import reading_platform

    rows = [_row(v) for v in reading_platform().volumes()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no volumes yet: `cycle volume upload NAME DIR`")
        return
    _echo_table(("NAME", "VERSION", "FILES", "BYTES"),
                [(r["name"], f"v{r['version']}", str(r["files"]), str(r["bytes"])) for r in rows])


@app.command()
def versions(
    name: Annotated[str, typer.Argument(help="Volume name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Every version of one volume, oldest first."""
    from cycle.platform import reading_platform

    rows = [_row(v) for v in reading_platform().volume_versions(name)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    _echo_table(("VERSION", "FILES", "BYTES", "NEW BYTES"),
                [(f"v{r['version']}", str(r["files"]), str(r["bytes"]), str(r["new_bytes"])) for r in rows])


def _echo_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A header and the rows in columns as wide as their longest cell, as `cycle job list` prints."""
    from cycle.cli.output import table_lines

    for line in table_lines([header, *rows]):
        typer.echo(line)
