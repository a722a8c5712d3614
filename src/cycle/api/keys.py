"""Storage keys for artifacts, and the checks that keep every path inside its job's folder.

Part of the contract (cycle.api): the platform stores a job's files under
`jobs/<job-name>/artifacts/<path>`, and a client maps a key back to a path only through these
rules (cycle.pull), so it never writes outside its job's folder. Pure.

File names on Linux are bytes: they may hold newlines or invalid UTF-8. A key component
keeps the name as it is when it is clean UTF-8 and percent-encodes only the bytes that are not
(invalid UTF-8, control characters) and '%' itself, so the mapping is reversible and every key is
valid UTF-8 without a single '..' or absolute part.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath
from urllib.parse import unquote_to_bytes

from cycle.errors import BadInput

ARTIFACTS = "artifacts"


def _encode_component(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "%" not in text and all(ch >= " " and ch != "\x7f" for ch in text):
        return text
    out: list[str] = []
    for byte in raw:
        if byte < 0x20 or byte == 0x7F or byte == 0x25 or byte >= 0x80:
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    encoded = "".join(out)
    # keep clean multi-byte UTF-8 readable: decode the %XX runs that form valid characters
    return _readable(encoded)


def _readable(encoded: str) -> str:
    """Undo percent-encoding for runs of bytes >= 0x80 that are valid UTF-8."""
    result: list[str] = []
    i = 0
    while i < len(encoded):
        if encoded[i] == "%" and encoded[i + 1:i + 3] >= "80":
            j = i
            chunk = bytearray()
            while j < len(encoded) and encoded[j] == "%" and encoded[j + 1:j + 3] >= "80":
                chunk.append(int(encoded[j + 1:j + 3], 16))
                j += 3
            try:
                result.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                result.append(encoded[i:j])
            i = j
        else:
            result.append(encoded[i])
            i += 1
    return "".join(result)


def relative_key(relative: str) -> str:
    """The key part for a path relative to /artifacts (a str from os.walk or watchdog). A printable
    ASCII path without '%' is its own key (nothing to encode): checked without encoding it, as
    this runs once per stored file."""
    if relative.isascii() and relative.isprintable() and "%" not in relative:
        if relative in ("", ".", "..") or ("/" in relative and any(p in ("", ".", "..") for p in relative.split("/"))):
            raise ValueError(f"not a clean relative path: {relative!r}")
        return relative
    parts = os.fsencode(relative).split(b"/")
    if not relative or any(p in (b"", b".", b"..") for p in parts):
        raise ValueError(f"not a clean relative path: {relative!r}")
    return "/".join(_encode_component(p) for p in parts)


def natural_key(name: str) -> list[str | int]:
    """`step-9` before `step-10`: runs of digits compare as numbers, the rest case-insensitively
    (re.split alternates text and digits, so the parts compared always have the same type). The
    TUI lists artifacts in this order, and the uploader breaks ties of write time with it."""
    parts: list[str | int] = _DIGIT_RUNS.split(name.lower())
    parts[1::2] = map(int, parts[1::2])  # the digit runs, in place: the uploader sorts thousands at once
    return parts


_DIGIT_RUNS = re.compile(r"(\d+)")


JOBS_PREFIX = "jobs/"
"""Every job's keys start so: jobs/<job-name>/artifacts/<path>."""


def artifact_prefix(job_name: str) -> str:
    check_job_name(job_name)
    return f"{JOBS_PREFIX}{job_name}/{ARTIFACTS}/"


def artifact_key(job_name: str, relative: str) -> str:
    return artifact_prefix(job_name) + relative_key(relative)


def check_job_name(name: str) -> str:
    """A job name used in a key or a folder: no separators, no '..', nothing hidden."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or "\x00" in name:
        raise BadInput(f"{name!r} is not a job name: job names have no '/', no '..' and do not start with '.'.")
    return name


def local_relative(key_rel: str) -> bytes:
    """The file path (bytes, relative) a stored key part maps back to; refuses anything that could
    escape the folder it is written under (absolute, '..', empty parts, NUL)."""
    if key_rel.startswith("/") or "\x00" in key_rel:
        raise BadInput(f"refusing storage key {key_rel!r}: it is absolute or holds a NUL byte.")
    parts = key_rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise BadInput(f"refusing storage key {key_rel!r}: it has an empty, '.' or '..' part.")
    raw = [unquote_to_bytes(p) if "%" in p else p.encode("utf-8") for p in parts]
    if any(r in (b"", b".", b"..") or b"/" in r or b"\x00" in r for r in raw):
        raise BadInput(f"refusing storage key {key_rel!r}: it decodes to a path outside its folder.")
    return b"/".join(raw)


def readable_component(component: str) -> str:
    """A key's path part as a person reads the file's name: `%25` as `%`, a UTF-8 character as
    itself; what a screen cannot show as it is (control bytes, a newline, bytes that are not UTF-8)
    as Python writes them in a string (`\\n`, `\\x1b`, `\\xff`). For display only: keys stay as they are."""
    if "%" not in component:
        return component
    text = unquote_to_bytes(component).decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode() for ch in text)


def artifact_relative(job_name: str, key: str) -> bytes:
    """The relative path (bytes) a stored artifact key of this job maps back to; refuses a key
    outside the job's prefix or one that could escape the folder it is written under."""
    prefix = artifact_prefix(job_name)
    if not key.startswith(prefix):
        raise BadInput(f"refusing storage key {key!r}: it is not under this job's prefix {prefix}.")
    return local_relative(key[len(prefix):])


def is_inside(root: str | os.PathLike[str], candidate: str | os.PathLike[str]) -> bool:
    """True when `candidate` (already resolved) is `root` or below it."""
    root_path, path = PurePosixPath(os.fspath(root)), PurePosixPath(os.fspath(candidate))
    return path == root_path or root_path in path.parents
