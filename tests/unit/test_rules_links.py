"""A link inside /artifacts follows its target's changes (rules/links.py): its signature, and the
map that lets an event on the target touch the link. Pure, plus signature_of on a real folder."""

from __future__ import annotations

import os

import pytest

from emulator.rules.links import LOOP, MISSING, OUT, LinkTargets, Resolved, link_signature, resolve
from emulator.rules.stability import StabilityTracker


def test_a_links_signature_is_its_targets():
    assert link_signature((7, 100, 100), (4096, 200, 200, 5)) == (4096, 200, 200, 5)
    assert link_signature((7, 100, 100), (4096, 300, 300, 5)) != link_signature((7, 100, 100), (4096, 200, 200, 5))
    assert link_signature((7, 100, 100), (4096, 200, 200, 6)) != link_signature((7, 100, 100), (4096, 200, 200, 5))
    # made again at the same file (`ln -sfn ckpt-1.pt best.pt` each epoch): no change, not stored again
    assert link_signature((7, 150, 150), (4096, 200, 200, 5)) == link_signature((7, 100, 100), (4096, 200, 200, 5))


def test_a_link_to_no_regular_file_keeps_its_own_signature():
    assert link_signature((7, 100), None) == (7, 100)


def test_the_window_of_a_link_restarts_when_only_its_target_changes():
    """No event names the link; its due-time stat sees the target's new signature and waits again."""
    tracker, target = StabilityTracker(0.5), {"sig": (2, 0)}
    stat = lambda path: link_signature((7, 0), target["sig"])  # noqa: E731
    tracker.touch("latest.pt", 0.0, stat("latest.pt"))
    target["sig"] = (9, 400_000_000)  # ckpt.pt rewritten at 0.4 s
    assert tracker.due(0.5, stat) == []
    assert [s.signature for s in tracker.due(1.0, stat)] == [(9, 400_000_000)]


def test_link_targets_map_each_target_to_its_links():
    links = LinkTargets()
    assert not links and links.links_to("ckpt.pt") == []
    links.point("latest.pt", ["ckpt.pt"])
    links.point("best.pt", ["ckpt.pt"])
    assert links and links.links_to("ckpt.pt") == ["best.pt", "latest.pt"]


def test_a_link_pointed_elsewhere_leaves_its_old_target():
    links = LinkTargets()
    links.point("latest.pt", ["ckpt-1.pt"])
    links.point("latest.pt", ["ckpt-2.pt"])
    assert links.links_to("ckpt-1.pt") == [] and links.links_to("ckpt-2.pt") == ["latest.pt"]


def test_a_forgotten_link_is_no_longer_touched_and_the_map_empties():
    links = LinkTargets()
    links.point("latest.pt", ["ckpt.pt"])
    links.forget("latest.pt")
    links.forget("never-seen")
    assert not links and links.links_to("ckpt.pt") == []


def test_signature_of_a_link_changes_with_its_target_on_a_real_folder(tmp_path):
    from emulator.artifacts import signature_of

    root = tmp_path / "artifacts"
    root.mkdir()
    inside = f"{os.path.realpath(root)}/"
    (root / "ckpt.pt").write_bytes(b"v1")
    (root / "latest.pt").symlink_to("ckpt.pt")
    (root / "dangling").symlink_to("nothing")
    (root / "folder-link").symlink_to(root)
    before = signature_of(root / "latest.pt", inside)
    (root / "ckpt.pt").write_bytes(b"v2 longer")
    os.utime(root / "ckpt.pt", ns=(0, 123))
    ctime = os.lstat(root / "ckpt.pt").st_ctime_ns
    ino = os.lstat(root / "ckpt.pt").st_ino  # the target's inode too: a link pointed at a same-stat file changes
    assert before != signature_of(root / "latest.pt", inside) == (9, 123, ctime, ino)
    assert signature_of(root / "ckpt.pt", inside) == (9, 123, ctime)  # a regular file: (size, mtime_ns, ctime_ns)
    for name in ("dangling", "folder-link"):
        own = os.lstat(root / name)
        assert signature_of(root / name, inside) == (own.st_size, own.st_mtime_ns, own.st_ctime_ns)


def test_a_link_out_of_artifacts_is_not_followed_even_for_its_targets_metadata(tmp_path):
    from emulator.artifacts import signature_of

    root = tmp_path / "artifacts"
    root.mkdir()
    (tmp_path / "host-secret").write_bytes(b"host bytes")
    (root / "out").symlink_to(tmp_path / "host-secret")
    own = os.lstat(root / "out")
    assert signature_of(root / "out", f"{os.path.realpath(root)}/") == (own.st_size, own.st_mtime_ns, own.st_ctime_ns)


def folder(entries: dict[str, str]):
    """A job's folder as rules/links.Lookup sees it: path -> "file", "dir" or "-> text" (a link)."""
    def lookup(rel: str):
        kind = entries.get(rel)
        if kind is None:
            return None
        return ("link", kind[3:]) if kind.startswith("-> ") else (kind, "")
    return lookup


JOB = folder({"ckpt.pt": "file", "sub": "dir", "sub/x.pt": "file", "deep": "dir", "deep/er": "dir",
              "best.pt": "-> ckpt.pt", "latest.pt": "-> /artifacts/best.pt", "up": "-> ..",
              "cur": "-> sub", "a": "-> /artifacts/b", "b": "-> a", "fifo": "other", "gone": "-> nothing",
              "s": "-> deep/er"})
MOUNT = ("artifacts",)


@pytest.mark.parametrize("text, path, kind", [
    ("ckpt.pt", "ckpt.pt", "file"),
    ("/artifacts/ckpt.pt", "ckpt.pt", "file"),
    ("//artifacts/./sub/../ckpt.pt", "ckpt.pt", "file"),
    ("/artifacts/../artifacts/sub/x.pt", "sub/x.pt", "file"),  # `..` above the folder climbs the container's path
    ("../artifacts/ckpt.pt", "ckpt.pt", "file"),
    ("s/../../ckpt.pt", "ckpt.pt", "file"),  # the kernel follows s before its `..`
    ("/artifacts/latest.pt", "ckpt.pt", "file"),  # absolute, then relative
    ("cur/x.pt", "sub/x.pt", "file"),
    ("/artifacts/up/artifacts/ckpt.pt", "ckpt.pt", "file"),  # out through `up` and back in: still the folder
    ("/artifacts/", "", "dir"),
    ("sub", "sub", "dir"),
    ("fifo", "fifo", "other"),
])
def test_a_link_resolves_as_the_container_resolves_it_inside_the_folder(text, path, kind):
    lookup = folder({"l": f"-> {text}"})
    resolved = resolve("l", MOUNT, lambda rel: lookup(rel) or JOB(rel))
    assert isinstance(resolved, Resolved) and (resolved.path, resolved.kind) == (path, kind)


@pytest.mark.parametrize("text, why", [
    ("/etc/passwd", OUT), ("../../etc/passwd", OUT), ("/artifacts/../job-2/x.pt", OUT), ("/artifactsX/x", OUT),
    ("/", OUT), ("..", OUT), ("/artifacts/up", OUT),
    ("a", LOOP), ("l", LOOP),
    ("nothing", MISSING), ("gone", MISSING), ("ckpt.pt/x", MISSING), ("ckpt.pt/..", MISSING),
    ("ckpt.pt/", MISSING), ("ckpt.pt/.", MISSING), ("/artifacts/ckpt.pt/", MISSING),  # the kernel's ENOTDIR
])
def test_a_link_out_a_loop_or_a_dangling_link_resolves_to_nothing(text, why):
    lookup = folder({"l": f"-> {text}"})
    assert resolve("l", MOUNT, lambda rel: lookup(rel) or JOB(rel)).kind == why


def test_the_links_passed_on_the_way_are_named_and_nothing_above_the_folder_is_looked_up():
    asked = []

    def lookup(rel):
        asked.append(rel)
        return JOB(rel)

    resolved = resolve("latest.pt", MOUNT, lookup)
    assert resolved == Resolved("ckpt.pt", "file", ("latest.pt", "best.pt"), "ckpt.pt")
    assert resolve("up", MOUNT, lookup).kind == OUT
    assert resolve("gone", MOUNT, lookup) == Resolved("nothing", MISSING, ("gone",), "nothing")  # what may come
    assert all(not rel.startswith("..") and not rel.startswith("/") for rel in asked)


def test_a_link_through_others_is_touched_by_each_of_them_and_forgotten_by_all():
    links = LinkTargets()
    links.point("latest.pt", ["latest.pt", "best.pt", "ckpt.pt"])  # the link itself is not its own target
    assert links.links_to("best.pt") == links.links_to("ckpt.pt") == ["latest.pt"]
    assert links.links_to("latest.pt") == []
    links.point("latest.pt", ["best.pt", "ckpt-2.pt"])
    assert links.links_to("ckpt.pt") == [] and links.links_to("ckpt-2.pt") == ["latest.pt"]
    links.forget("latest.pt")
    assert not links and links.links_to("best.pt") == []
