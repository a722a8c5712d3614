"""`cycle project upload`'s versions: an unchanged project keeps its latest version, as a volume
does; a change (content, a file added or gone, an execute bit) makes the next. Real sqlite and the
local blob store; no engine."""

from __future__ import annotations

from emulator.blobs import LocalStore
from emulator.store import StateStore
from emulator.upload import checkout, upload_project


def test_an_unchanged_upload_keeps_the_latest_version_and_a_change_makes_the_next(tmp_path):
    store, blobs = StateStore(tmp_path / "state.db"), LocalStore(tmp_path / "blobs")
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("print(1)\n")
    assert upload_project(store, blobs, "demo", project)[::3] == (1, True)
    version, files, new_bytes, created = upload_project(store, blobs, "demo", project)
    assert (version, new_bytes, created) == (1, 0, False) and list(files) == ["main.py"]
    (project / "main.py").chmod(0o755)
    assert upload_project(store, blobs, "demo", project)[::3] == (2, True)
    (project / "data.txt").write_text("x")
    assert upload_project(store, blobs, "demo", project)[::3] == (3, True)
    (project / "data.txt").unlink()
    assert upload_project(store, blobs, "demo", project)[::3] == (4, True)  # the files of v2, but v3 came between
    assert upload_project(store, blobs, "demo", project)[::3] == (4, False)
    assert [v for v, _ in store.project_versions("demo")] == [1, 2, 3, 4]
    folder, version = checkout(tmp_path / "home", store, lambda: blobs, "demo")  # what `job queue` runs
    assert version == 4 and (folder / "main.py").read_text() == "print(1)\n" and not (folder / "data.txt").exists()


def test_changes_since_upload_names_what_the_folder_holds_that_the_version_does_not(tmp_path):
    """`cycle job queue` runs the uploaded version: edits not uploaded yet ran as the old code with
    no word. The comparison names each file added, removed, changed (content or execute bit)."""
    from emulator.upload import changes_since_upload

    store, blobs = StateStore(tmp_path / "state.db"), LocalStore(tmp_path / "blobs")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("main.py", "train.py", "old.py", "run.sh"):
        (project / name).write_text(f"# {name}\n")
    assert changes_since_upload(store, "demo", project) is None
    upload_project(store, blobs, "demo", project)
    assert changes_since_upload(store, "demo", project) == (1, [])
    (project / "train.py").write_text("# train.py, same length\n"[:len("# train.py\n")])  # same size, new bytes
    (project / "old.py").unlink()
    (project / "new.py").write_text("x")
    (project / "run.sh").chmod(0o755)
    assert changes_since_upload(store, "demo", project) == (
        1, ["new.py added", "old.py removed", "run.sh changed", "train.py changed"])


def test_the_comparison_hashes_only_files_whose_size_and_mode_match_and_names_a_vanished_file(tmp_path, monkeypatch):
    """`job queue` hashed every file of the folder, including those whose size already differed;
    and a file gone between the listing and its read dropped the whole note."""
    import emulator.blobs
    from emulator.upload import _file_record, describe_changes

    hashed = []
    real = emulator.blobs.sha256_file
    monkeypatch.setattr(emulator.blobs, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    for name, body in (("same.py", "a"), ("longer.py", "abc"), ("edited.py", "b")):
        (tmp_path / name).write_text(body)
        (tmp_path / name).chmod(0o644)
    sha_a = real(tmp_path / "same.py")
    uploaded = {"same.py": [sha_a, 1, 0o644], "longer.py": [sha_a, 1, 0o644], "edited.py": [sha_a, 1, 0o644],
                "gone.py": [sha_a, 1, 0o644]}
    local = {name: tmp_path / name for name in ("same.py", "longer.py", "edited.py", "gone.py")}
    assert describe_changes(uploaded, local, _file_record) == ["edited.py changed", "gone.py removed",
                                                              "longer.py changed"]
    assert sorted(hashed) == ["edited.py", "same.py"]
