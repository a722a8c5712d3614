"""Volume details against the real engine (user test s7): a job that drops root reads its volume
(the folder was 0700), and a misspelt volume name in the manifest says where and which name."""

from __future__ import annotations

from helpers import cli


def _with_volumes(project, *names: str) -> None:
    path = project.root / ".cycleswap" / "manifest.toml"
    listed = ", ".join(f'"{name}"' for name in names)
    path.write_text(path.read_text().replace("build_files = []", f"build_files = []\nvolumes = [{listed}]"))


def _upload_labels(tmp_path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "labels.csv").write_text("a,b\n")
    (data / "sub" / "more.csv").write_text("c,d\n")
    assert cli("volume", "upload", "labels", str(data)).exit_code == 0


def test_a_job_that_drops_root_reads_its_volume(project, home, tmp_path):
    _upload_labels(tmp_path)
    _with_volumes(project, "labels")
    project.write(".cycleswap/run.sh", """\
        su -s /bin/sh nobody -c 'cat /volumes/labels/labels.csv /volumes/labels/sub/more.csv && echo READ-AS-NOBODY'
        """)
    run = project.test()
    assert run.exit_code == 0, run.output
    assert "a,b" in run.output and "c,d" in run.output and "READ-AS-NOBODY" in run.output, run.output


def test_a_misspelt_volume_names_the_manifest_line_and_the_uploaded_name(project, home, tmp_path):
    _upload_labels(tmp_path)
    _with_volumes(project, "lables")
    manifest = project.root / ".cycleswap" / "manifest.toml"
    line = next(n for n, text in enumerate(manifest.read_text().splitlines(), start=1) if text.startswith("volumes"))
    run = project.test()
    assert run.exit_code == 2, run.output
    assert f"{manifest}:{line}: volume 'lables'" in " ".join(run.output.split()), run.output
    assert "Did you mean `labels`?" in run.output and "Traceback" not in run.output, run.output
