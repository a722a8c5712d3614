"""Load, validate and create `.cycleswap/manifest.toml`: the project format, part of the platform's
contract, so the clients and the emulator share this one reading of it.

Pure logic apart from reading the files it is pointed at (tomllib parses; tomlkit explains syntax
errors and writes new manifests): no Docker, no storage. Every problem names the file, the line,
the field and the fix, because a manifest is the first thing a new user gets wrong and the platform
would only tell them minutes later.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cycle.errors import BadInput, ManifestError

if TYPE_CHECKING:
    from tomlkit.exceptions import ParseError

CYCLESWAP_DIR = ".cycleswap"
MANIFEST_NAME = "manifest.toml"
UBUNTU_VERSIONS = ("22.04", "24.04", "25.04", "25.10", "26.04")
IMAGE_SECTIONS = {"ubuntu": UBUNTU_VERSIONS}
# Names a user may reach for as an image section; the platform has only [ubuntu].
OTHER_IMAGE_NAMES = ("debian", "alpine", "fedora", "centos", "rocky", "arch", "nvidia", "cuda", "python")
UPLOAD_ORDERS = ("FIFO", "LIFO")
MAIN_FIELDS = ("name", "volumes", "build_files")
JOB_FIELDS = ("cuda", "env_vars", "email_on_success", "email_on_failure", "artifact_upload_order")
BUILTIN_ENV = {"INSIDE_CYCLESWAP_CONTAINER": "1"}

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
VOLUME_RE = re.compile(r"^(builtin/)?[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
CUDA_RE = re.compile(r"^\d{1,2}\.\d{1,2}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What one exec can carry on Linux, so a job never fails at start for its environment: each
# NAME=value string with its NUL below MAX_ARG_STRLEN (128 KiB); all of them together well under
# ARG_MAX (2 MiB with the usual 8 MiB stack, shared with the arguments); and a count that keeps
# Docker's create request and the process table sane.
ENV_ENTRY_MAX_BYTES = 128 * 1024
ENV_TOTAL_MAX_BYTES = 1024 * 1024
ENV_MAX_COUNT = 4096


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. `root` is the project root (the folder holding .cycleswap/)."""

    path: Path
    root: Path
    name: str
    ubuntu_version: str
    email_on_success: bool
    email_on_failure: bool
    volumes: tuple[str, ...] = ()
    build_files: tuple[str, ...] = ()
    cuda: str | None = None
    env_vars: dict[str, str] = field(default_factory=dict)
    artifact_upload_order: str = "FIFO"

    @property
    def cycleswap_dir(self) -> Path:
        return self.root / CYCLESWAP_DIR

    def container_env(self) -> dict[str, str]:
        """env_vars plus the built-in variables, which always win."""
        return {**self.env_vars, **BUILTIN_ENV}


def manifest_path(project_dir: Path) -> Path:
    return project_dir / CYCLESWAP_DIR / MANIFEST_NAME


def project_name(project_dir: Path) -> str | None:
    """The [main] name the project's manifest gives, read without checking the rest (None: it names
    none). OSError (no manifest, unreadable) and ValueError (not TOML, not UTF-8) are the caller's."""
    main = tomllib.loads(manifest_path(project_dir).read_text(encoding="utf-8")).get("main")
    name = main.get("name") if isinstance(main, dict) else None
    return name if isinstance(name, str) else None


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds .cycleswap/manifest.toml."""
    start = start.resolve()
    if not start.exists():
        raise BadInput(f"{start} does not exist. Pass the project's folder (the one holding {CYCLESWAP_DIR}/), or any "
                       "folder inside it.")
    if not start.is_dir():  # a file inside a project would run the whole project: a slip, not a choice
        root = next((folder for folder in start.parents if manifest_path(folder).is_file()), None)
        fix = (f"Pass the project's folder, {root}" if root else
               f"No project holds it. Run `cycle project init {start.parent}` to make its folder one")
        raise BadInput(f"{start} is a file, not a folder. {fix}.")
    for folder in (start, *start.parents):
        if manifest_path(folder).is_file():
            return folder
    raise BadInput(
        f"No {CYCLESWAP_DIR}/{MANIFEST_NAME} in {start} or any folder above it. "
        f"Run `cycle project init {start}` to create one, or pass the project folder."
    )


class _Locator:
    """Finds the line a table or key sits on, so messages can point at it. A dotted key
    (`job.cuda = "12.6"`, or `env_vars.A = "1"` under [job]) is found under the table it names."""

    HEADER_RE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")
    KEY_RE = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")
    PART_RE = re.compile(r'"[^"]*"|\'[^\']*\'|[^.]+')

    def __init__(self, text: str) -> None:
        self.tables: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        self.line_count = max(len(text.splitlines()), 1)
        self.table_on_line: dict[int, str] = {}
        table = ""
        for number, line in enumerate(text.splitlines(), start=1):
            header = self.HEADER_RE.match(line)
            if header:
                table = ".".join(self._parts(header.group(1)))
                self.tables.setdefault(table, number)
                continue
            self.table_on_line[number] = table
            key = self.KEY_RE.match(line)
            if key:
                *parents, name = self._parts(key.group(1)) or [""]
                for depth in range(len(parents)):
                    self.tables.setdefault(".".join([table, *parents[: depth + 1]]).lstrip("."), number)
                self.keys.setdefault((".".join([table, *parents]).lstrip("."), name), number)

    def _parts(self, dotted: str) -> list[str]:
        return [part.strip().strip("\"'") for part in self.PART_RE.findall(dotted) if part.strip()]

    def line(self, table: str, key: str | None = None) -> int | None:
        """The key's line, else its table's: a [header], or a table written as a value
        (`job = { ... }`, or `main = 1` where a table belongs)."""
        if key is not None and (table, key) in self.keys:
            return self.keys[(table, key)]
        if table in self.tables:
            return self.tables[table]
        parent, _, name = table.rpartition(".")
        return self.keys.get((parent, name))


class _Checker:
    """Collects problems while walking the parsed document; `problems` lists them in line order,
    as an editor shows them (they are found section by section, not top to bottom)."""

    def __init__(self, path: Path, root: Path, text: str) -> None:
        self.path = path
        self.root = root
        self.where = _Locator(text)
        self._found: list[tuple[int, str]] = []
        # tables missing whose name an unknown table is close to ([jobs] for [job]): the unknown
        # table's problem says "Did you mean", and the missing table's own problems (every field it
        # needs) would only repeat it, as wrong advice (the fields are there, under [jobs])
        self.misspelled: set[str] = set()

    @property
    def problems(self) -> list[str]:
        return [message for _, message in sorted(self._found, key=lambda found: found[0])]

    def problem(self, table: str | None, key: str | None, message: str) -> None:
        """Record `message` at the line of `table`/`key`; something missing altogether (a table,
        the image section) is named at the file's last line, where it can be added."""
        line = self.where.line(table, key) if table is not None else None
        line = line or self.where.line_count
        self._found.append((line, f"{self.path}:{line}: {message}"))

    def unknown_keys(self, table: str, values: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in values:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                self.problem(
                    table, key,
                    f"[{table}] has no field `{key}`.{hint} Fields of [{table}]: {', '.join(allowed)}.",
                )

    def string_list(self, table: str, key: str, value: Any) -> list[str] | None:
        if not isinstance(value, list):
            got = _show(value)
        elif bad := [(number, item) for number, item in enumerate(value, 1) if not isinstance(item, str)]:
            got = "; ".join(f"item {number} is {_show(item)}, not a string" for number, item in bad)
        else:
            return [str(v) for v in value]
        example = f'{key} = ["a", "b"]'
        self.problem(table, key, f"[{table}] {key} must be an array of strings, e.g. {example}; got {got}.")
        return None


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """" Did you mean `<closest>`?" (difflib), or "" when nothing is close: for manifest keys here
    and for volume names (emulator/volumes.py)."""
    return _suggesting(closest(word, choices))


def _suggesting(close: str | None) -> str:
    """did_you_mean's words for a match already found."""
    return f" Did you mean `{close}`?" if close else ""


def closest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The choice closest to `word` (difflib), or None when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    return repr(_plain(value))


def _plain(value: Any) -> Any:
    """tomlkit items as plain Python values."""
    if hasattr(value, "unwrap"):
        return value.unwrap()
    return value


UTF8_BOM = b"\xef\xbb\xbf"  # what an editor's "UTF-8 with BOM" (Windows Notepad) puts first


def load_manifest(project_dir: Path) -> Manifest:
    """Read and validate the manifest of the project at `project_dir`."""
    root = project_dir.resolve()
    path = manifest_path(root)
    if not path.is_file():
        raise BadInput(
            f"{path} does not exist. Run `cycle project init {root}` to create "
            f"{CYCLESWAP_DIR}/ with a manifest, run.sh and build.sh."
        )
    data = path.read_bytes()
    if data.startswith(UTF8_BOM):  # TOML has no BOM: tomllib said "Empty key" at 1:1, of a comment
        raise ManifestError([f"{path}:1:1: the file starts with a byte-order mark (saved as \"UTF-8 with BOM\", "
                             f"as Windows Notepad saves), which TOML does not allow. Save it as UTF-8 without BOM: "
                             f"sed -i '1s/^\\xEF\\xBB\\xBF//' {path}."])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ManifestError([_not_utf8(path, data, error)]) from None
    return parse_manifest(text, path=path, root=root)


def _not_utf8(path: Path, data: bytes, error: UnicodeDecodeError) -> str:
    """Where the first byte that is not UTF-8 sits, as path:line:column (column in bytes from 1)."""
    line = data.count(b"\n", 0, error.start) + 1
    column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
    return (f"{path}:{line}:{column}: the file is not UTF-8 text (byte 0x{data[error.start]:02x}: "
            f"{error.reason}). Save it as UTF-8, e.g. `iconv -f latin1 -t utf-8`.")


def parse_manifest(text: str, path: Path, root: Path) -> Manifest:
    """Validate manifest `text`; raise ManifestError listing every problem found."""
    document = _parsed(text, path)
    check = _Checker(path, root, text)
    main = _table(check, document, "main")
    job = _table(check, document, "job")
    ubuntu_version = _image_section(check, document)

    name = _main_name(check, main)
    volumes = _volumes(check, main)
    build_files = _build_files(check, main, root)
    job_values = _job(check, job)

    if check.problems:
        raise ManifestError(check.problems)
    return Manifest(
        path=path, root=root, name=name, ubuntu_version=ubuntu_version,
        volumes=tuple(volumes), build_files=tuple(build_files), **job_values,
    )


def _parsed(text: str, path: Path) -> dict[str, Any]:
    """The manifest as plain values, read by the standard library's tomllib (TOML 1.0, as the
    platform reads it; importing tomlkit costs more than the read). A file tomllib rejects is
    never used: tomlkit only words the error when it finds one too (its messages carry the line
    and column ours name); tomlkit accepts some text TOML 1.0 does not (a trailing comma in an
    inline table), and then tomllib's own message is the answer."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as rejected:
        from tomlkit import parse
        from tomlkit.exceptions import ParseError, TOMLKitError

        try:
            parse(text)
        except ParseError as error:
            raise ManifestError([_syntax_error(text, path, error)]) from None
        except TOMLKitError as error:
            raise ManifestError([_repeated_key(text, path, rejected, error)]) from None
        raise ManifestError([_tomllib_error(path, rejected)]) from None


def _repeated_key(text: str, path: Path, rejected: tomllib.TOMLDecodeError, error: Exception) -> str:
    """A key set twice in one table: tomlkit names the key but not the line, tomllib the line
    (of the second one) but not the key. Both, with the line of the first one."""
    found = re.search(r'Key "(.+)" already exists', str(error))
    place = re.search(r"\(at line (\d+), column \d+\)$", str(rejected))
    if not found or not place:
        return _tomllib_error(path, rejected)
    key, line = found[1], int(place[1])
    source = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
    column = len(source) - len(source.lstrip()) + 1
    where = _Locator(text)
    table = where.table_on_line.get(line, "")
    first = where.line(table, key)
    earlier = f" (first on line {first})" if first and first != line else ""
    section = f" in [{table}]" if table else ""
    return (f"{path}:{line}:{column}: TOML syntax error: `{key}` is set twice{section}{earlier}. Each key may "
            "appear only once per table: remove one of them.")


def _tomllib_error(path: Path, error: tomllib.TOMLDecodeError) -> str:
    """tomllib's message ("Invalid initial character for a key part (at line 18, column 1)") as
    path:line:column, as the other syntax errors are."""
    found = re.search(r"\(at line (\d+), column (\d+)\)$", str(error))
    where = f"{path}:{found[1]}:{found[2]}" if found else str(path)
    reason = str(error)[: found.start()].strip() if found else str(error)
    return (f"{where}: TOML syntax error: {reason}. Fix the TOML at that line (TOML 1.0: an inline table "
            "{ ... } stays on one line with no comma after its last value).")


# tomlkit reads past the last character as '\x00' and reports it as an "Unexpected character"
END_OF_TEXT = repr("\x00")


def _syntax_error(text: str, path: Path, error: ParseError) -> str:
    """tomlkit's ParseError as an editor would place it (line and column from 1). Text that ends
    inside an array, inline table or string is an "unexpected end of file" at the file's real end
    (tomlkit says "Unexpected character: '\\x00'" there, at column 0 of some line)."""
    reason = str(error).split(" at line ")[0].rstrip(".")
    if END_OF_TEXT in reason or reason == "Unexpected end of file":
        brackets, string = _open_at(text, len(text))
        opener = string or (brackets[-1] if brackets else None)
        if opener is not None:
            kind, line, column = opener
            return (f"{path}:{line}:{column}: TOML syntax error: the {kind} opened here is not closed before the "
                    f"end of the file. {UNCLOSED_FIXES[kind]}")
        lines = text.splitlines() or [""]
        return (f"{path}:{len(lines)}:{len(lines[-1]) + 1}: TOML syntax error: unexpected end of file. Something "
                "opened at or above that line is not closed: an array's `]`, an inline table's `}` or a string's "
                "quote.")
    unclosed = _unclosed_opener(text, error.line, error.col)
    if unclosed is not None:
        kind, line, column = unclosed
        return (f"{path}:{line}:{column}: TOML syntax error: the {kind} opened here is not closed. "
                f"{UNCLOSED_FIXES[kind]}")
    line = _duplicate_line(text, reason) or error.line
    reason = reason.replace("character: " + repr("\n"), "end of line")
    return (f"{path}:{line}:{error.col + 1}: TOML syntax error: {reason}. "
            "Fix the TOML at that line (strings need quotes, tables are written [name], each key once).")


UNCLOSED_FIXES = {
    "array": "Close the array with ] after its last value (values are separated by commas).",
    "inline table": "Close the inline table with } on the same line (an inline table stays on one line).",
    "string": 'Close the string with " on the same line (or write a multi-line string between """ and """).',
    "literal string": "Close the string with ' on the same line.",
    "multi-line string": 'Close the multi-line string with """.',
    "multi-line literal string": "Close the multi-line string with '''.",
}
"""The fix for each thing a manifest can leave open, by the name the error gives it."""

# A line tomlkit stops at when what was opened above runs into it: the next `key =` or `[table]`.
NEXT_ENTRY = re.compile(r"""\s*(\[\[?[^\]]*\]\]?|[A-Za-z0-9_."'\- ]+=)""")


def _unclosed_opener(text: str, error_line: int, error_col: int) -> tuple[str, int, int] | None:
    """(what, line, column from 1) of the array, inline table or string the syntax error at
    (error_line, error_col from 0) really is: a string still open where the error is (a missing
    closing quote ends at the line's end), or an array or inline table still open at the start of
    the line the error is on when that line begins the next key or table. tomlkit reports where
    it noticed, which is the next key's line or "control characters"; the user needs the opener."""
    lines = text.split("\n")
    if not 1 <= error_line <= len(lines):
        return None
    before_line = sum(len(line) + 1 for line in lines[: error_line - 1])
    brackets, string = _open_at(text, before_line + error_col)
    if string is not None:
        return string
    closer = text[before_line + error_col:before_line + error_col + 1]
    if brackets and closer in "]}" and closer and brackets[-1][0] != ("array" if closer == "]" else "inline table"):
        return brackets[-1]  # `{ A = ["x", "y" }`: the array inside is what was left open
    if NEXT_ENTRY.match(lines[error_line - 1]):
        brackets, _ = _open_at(text, before_line)
        if brackets:
            return brackets[-1]
    return None


def _open_at(text: str, end: int) -> tuple[list[tuple[str, int, int]], tuple[str, int, int] | None]:
    """What is open just before offset `end` of TOML `text`: the arrays and inline tables (outermost
    first) and a one-line string (or None), each as (what, line, column from 1). Table headers,
    comments and closed strings of every kind are skipped."""
    brackets: list[tuple[str, int, int]] = []
    line, line_start, i = 1, 0, 0
    while i < end:
        char = text[i]
        where = (line, i - line_start + 1)
        if char == "\n":
            line, line_start = line + 1, i + 1
        elif char == "#":
            i = _line_end(text, i) - 1
        elif char in "\"'" and text.startswith(char * 3, i):
            close = text.find(char * 3, i + 3)
            if close == -1 or close >= end:
                return brackets, ("multi-line string" if char == '"' else "multi-line literal string", *where)
            line += text.count("\n", i, close)
            line_start = text.rfind("\n", 0, close) + 1 if "\n" in text[i:close] else line_start
            i = close + 2
        elif char in "\"'":
            closing = _string_end(text, i, char)
            if closing is None or closing >= end:
                return brackets, ("string" if char == '"' else "literal string", *where)
            i = closing
        elif char == "[" and not brackets and not text[line_start:i].strip():
            i = text.find("]", i, _line_end(text, i))  # a table header: [name] or [[name]]
            if i == -1:
                return brackets, None
            i += text.startswith("]]", i)
        elif char in "[{":
            brackets.append(("array" if char == "[" else "inline table", *where))
        elif char in "]}" and brackets:
            brackets.pop()
        i += 1
    return brackets, None


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end == -1 else end


def _string_end(text: str, i: int, quote: str) -> int | None:
    """The offset of the quote closing the one-line string opened at `i`, or None when the line
    ends first (basic strings skip backslash escapes; literal strings have none)."""
    j = i + 1
    while j < len(text) and text[j] != "\n":
        if text[j] == "\\" and quote == '"':
            j += 2
            continue
        if text[j] == quote:
            return j
        j += 1
    return None


def _duplicate_line(text: str, reason: str) -> int | None:
    """tomlkit reports a repeated table where it noticed it; point at the repeated header instead."""
    found = re.match(r'Key "(.+)" already exists', reason)
    if not found:
        return None
    header = re.compile(rf"^\s*\[\s*{re.escape(found.group(1))}\s*\]")
    headers = [n for n, line in enumerate(text.splitlines(), 1) if header.match(line)]
    return headers[1] if len(headers) > 1 else None


def _table(check: _Checker, document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        check.problem(name, name, f"`{name}` must be a table written [{name}], not a value.")
        return {}
    return value


def _image_section(check: _Checker, document: dict[str, Any]) -> str:
    known = ("main", "job", *IMAGE_SECTIONS)
    images = [k for k in document if k in IMAGE_SECTIONS or k in OTHER_IMAGE_NAMES]
    for key in document:
        if key in known or key in OTHER_IMAGE_NAMES:
            continue
        meant = closest(key, known)
        check.problem(
            key, None,
            f"unknown table [{key}].{_suggesting(meant)} A manifest has [main], [job] and exactly one image "
            "section ([ubuntu]).",
        )
        if meant is not None and meant not in document:
            check.misspelled.add(meant)
    if not images:
        if not check.misspelled & set(IMAGE_SECTIONS):  # ([ubuntuu]: its own problem says it)
            check.problem(
                None, None,
                'no image section. Add exactly one, e.g.\n  [ubuntu]\n  version = "24.04"',
            )
        return ""
    if len(images) > 1:
        listed = " and ".join(f"[{k}]" for k in images)
        extra = next((k for k in images if k not in IMAGE_SECTIONS), images[1])
        check.problem(extra, None, f"found {listed}: exactly one image section is allowed. Keep [ubuntu] only.")
        return ""
    section = images[0]
    if section not in IMAGE_SECTIONS:
        check.problem(section, None, f"[{section}] is not an image section the platform offers. "
                                     f"Use [ubuntu] with version one of {', '.join(UBUNTU_VERSIONS)}.")
        return ""
    values = _table(check, document, section)
    check.unknown_keys(section, values, ("version",))
    version = values.get("version")
    if version is None:
        check.problem(section, None,
                      f'[{section}] needs `version`, e.g. version = "24.04". One of: {", ".join(UBUNTU_VERSIONS)}.')
        return ""
    if not isinstance(version, str):
        check.problem(section, "version",
                      f'[{section}] version must be a quoted string, e.g. version = "24.04"; got {_show(version)}.')
        return ""
    if version not in UBUNTU_VERSIONS:
        check.problem(section, "version",
                      f'[{section}] version "{version}" is not offered. Use one of: {", ".join(UBUNTU_VERSIONS)}.')
        return ""
    return version


def _main_name(check: _Checker, main: dict[str, Any]) -> str:
    check.unknown_keys("main", main, MAIN_FIELDS)
    if not main:
        if "main" not in check.misspelled:
            check.problem("main", None, '[main] with a `name` is required, e.g.\n  [main]\n  name = "my-experiment"')
        return ""
    name = main.get("name")
    if name is None:
        check.problem("main", None, '[main] needs `name`, the project name, e.g. name = "my-experiment".')
        return ""
    if not isinstance(name, str) or not NAME_RE.match(name):
        check.problem(
            "main", "name",
            f"[main] name {_show(name)} is not a valid project name. Use 1-63 letters, digits, '.', '_' or '-', "
            'starting with a letter or digit, e.g. name = "my-experiment".',
        )
        return ""
    return name


def _volumes(check: _Checker, main: dict[str, Any]) -> list[str]:
    if "volumes" not in main:
        return []
    volumes = check.string_list("main", "volumes", main["volumes"])
    for volume in volumes or []:
        if not VOLUME_RE.match(volume):
            check.problem("main", "volumes",
                          f'[main] volumes: "{volume}" is not a volume name. '
                          'Use letters, digits, ".", "_" or "-" (built-in volumes: "builtin/<name>").')
    return volumes or []


def volumes_place(manifest: Manifest) -> str:
    """Where [main] volumes sits, as `path:line` (just the path when the line cannot be found), for
    the errors found after loading, such as a volume that was never uploaded."""
    try:
        line = _Locator(manifest.path.read_text(encoding="utf-8")).line("main", "volumes")
    except (OSError, UnicodeDecodeError):
        line = None
    return f"{manifest.path}:{line}" if line else str(manifest.path)


def _build_files(check: _Checker, main: dict[str, Any], root: Path) -> list[str]:
    if "build_files" not in main:
        return []
    files = check.string_list("main", "build_files", main["build_files"])
    for entry in files or []:
        problem = build_file_problem(root, entry)
        if problem:
            check.problem("main", "build_files", f'[main] build_files: "{entry}" {problem}')
    return files or []


def build_file_problem(root: Path, entry: str) -> str | None:
    """Why `entry` cannot be a build file of the project at `root`, or None when it can."""
    if not entry or entry.strip() != entry:
        return "is empty or has surrounding spaces. Name a file relative to the project root, e.g. \"pyproject.toml\"."
    if Path(entry).is_absolute() or entry.startswith("~"):
        return "is an absolute path. Name it relative to the project root, e.g. \"pyproject.toml\"."
    target = (root / entry).resolve()
    if target != root and root not in target.parents:
        return f"points outside the project ({root}). Build files must live inside the project; copy the file in."
    if not target.exists():
        return f"does not exist ({target}). Create it or remove it from build_files."
    if not target.is_file():
        return "is not a regular file. List files, not folders."
    return None


def _job(check: _Checker, job: dict[str, Any]) -> dict[str, Any]:
    check.unknown_keys("job", job, JOB_FIELDS)
    values: dict[str, Any] = {"email_on_success": False, "email_on_failure": False}
    if not job and "job" in check.misspelled:
        return values  # (the misspelled table's problem is the one to fix)
    for key in ("email_on_success", "email_on_failure"):
        if key not in job:
            check.problem("job", None, f"[job] needs `{key}` (true or false): it is required. Add {key} = false.")
        elif not isinstance(job[key], bool):
            check.problem("job", key, f"[job] {key} must be true or false (no quotes); got {_show(job[key])}.")
        else:
            values[key] = job[key]
    cuda = job.get("cuda")
    if cuda is not None:
        if not isinstance(cuda, str) or not CUDA_RE.match(cuda):
            check.problem("job", "cuda", f'[job] cuda {_show(cuda)} is not a CUDA version. Write "MAJOR.MINOR" as a '
                                         'string, e.g. cuda = "12.6", or remove it if the job needs no GPU.')
        else:
            values["cuda"] = cuda
    values["env_vars"] = _env_vars(check, job.get("env_vars", {}))
    order = job.get("artifact_upload_order", "FIFO")
    if order not in UPLOAD_ORDERS:
        capitals = isinstance(order, str) and order.upper() in UPLOAD_ORDERS
        hint = f' Write "{order.upper()}" in capitals.' if capitals else ""
        check.problem("job", "artifact_upload_order",
                      f'[job] artifact_upload_order {_show(order)} must be "FIFO" (the default) or "LIFO".{hint}')
    else:
        values["artifact_upload_order"] = order
    return values


def _env_vars(check: _Checker, env: Any) -> dict[str, str]:
    if not isinstance(env, dict):
        check.problem("job", "env_vars", '[job] env_vars must be a table of strings, '
                                         f'e.g. env_vars = {{ LEARNING_RATE = "3e-4" }}; got {_show(env)}.')
        return {}
    result: dict[str, str] = {}
    for key, value in env.items():
        table, field_key = _env_place(check, key)
        problem = _env_var_problem(key, value)
        if problem:
            check.problem(table, field_key, f"[job] env_vars: {problem}")
        else:
            result[key] = value
    _env_totals(check, {**result, **BUILTIN_ENV}, len(env))
    return result


def _env_place(check: _Checker, key: str) -> tuple[str, str]:
    """The line of `key` itself when env_vars is a [job.env_vars] table, else the env_vars line."""
    if ("job.env_vars", key) in check.where.keys:
        return "job.env_vars", key
    return "job", "env_vars"


def _env_var_problem(key: str, value: Any) -> str | None:
    """Why `key = value` cannot be one environment variable of a Linux process, or None."""
    shown = key if len(key) <= 64 else key[:64] + "…"
    if not ENV_NAME_RE.match(key):
        return (f"`{shown}` is not a valid environment variable name. "
                "Use letters, digits and '_', not starting with a digit.")
    if key in BUILTIN_ENV:
        return f"`{key}` is built in and set by the platform. Remove it from env_vars."
    if not isinstance(value, str):
        return f'{shown} = {_show(value)} must be a string. Quote it: {shown} = "{_plain(value)}".'
    if "\0" in value:
        return (f"the value of {shown} contains a NUL character (\\u0000 at position {value.index(chr(0))}); "
                "no environment variable can hold one. Remove it.")
    size = _env_entry_bytes(key, value)
    if size > ENV_ENTRY_MAX_BYTES:
        return (f"{shown}=… is {size:,} bytes; Linux allows at most {ENV_ENTRY_MAX_BYTES:,} bytes (128 KiB, "
                "MAX_ARG_STRLEN) per environment string. Put large data in a file of the project or a volume "
                "and pass its path instead.")
    return None


def _env_entry_bytes(key: str, value: str) -> int:
    """The bytes `KEY=value` takes in a process's environment, its terminating NUL included."""
    return len(key.encode()) + 1 + len(value.encode("utf-8", "surrogatepass")) + 1


def _env_totals(check: _Checker, env: dict[str, str], count: int) -> None:
    """The limits on the whole environment: how many variables, and how many bytes together."""
    if count > ENV_MAX_COUNT:
        check.problem("job", "env_vars", f"[job] env_vars has {count} variables; at most {ENV_MAX_COUNT} are allowed. "
                                         "Pass bulk settings in a file of the project instead.")
        return
    total = sum(_env_entry_bytes(k, v) for k, v in env.items())
    if total > ENV_TOTAL_MAX_BYTES:
        check.problem("job", "env_vars",
                      f"[job] env_vars take {total:,} bytes together; at most {ENV_TOTAL_MAX_BYTES:,} "
                      "(1 MiB, half of Linux's ARG_MAX of 2 MiB, which the job's arguments share) are "
                      "allowed. Put large values in a file of the project or a volume.")


DEFAULT_RUN_SH = """export PATH="$HOME/.local/bin:$PATH"

uv run main.py
"""

DEFAULT_BUILD_SH = """apt-get update -qq && apt-get install -y -qq curl && rm -rf /var/lib/apt/lists/*
curl -LsSf https://astral.sh/uv/install.sh | sh

export PATH="$HOME/.local/bin:$PATH"

uv sync
"""


# what each script is for, said when it is missing: the spec makes both part of every project
SCRIPT_ROLES = {
    "run.sh": ("every job runs `bash .cycleswap/run.sh` in /app",
               "write it (the platform's default runs `uv run main.py`)"),
    "build.sh": ("every image build runs it", "write it (an empty build.sh means no build step)"),
}


def check_scripts(root: Path) -> None:
    """.cycleswap/run.sh and build.sh must be files before any job exists: a missing one used to
    pass every check, then fail the job with exit 127 (a folder: 126) after its build, or a queued
    upload long after. ManifestError lists each problem with its fix."""
    problems = []
    for script, (role, fix) in SCRIPT_ROLES.items():
        path = root / CYCLESWAP_DIR / script
        if path.is_symlink():  # is_file() follows it, but an upload copies files, never links
            problems.append(f"{path}: is a link; {role}, and `cycle project upload` copies files, not links, so a "
                            f"queued job would not find it (exit 127). Make it a file: cp --remove-destination "
                            f"\"$(readlink -f {path})\" {path}.")
            continue
        if path.is_file():
            problems += _script_text_problems(path, role)
            continue
        if path.is_dir():
            problems.append(f"{path}: is a folder, not a script; {role}, so the job would fail (exit 126). "
                            f"Move the folder aside and {fix}.")
        else:
            problems.append(f"{path}: does not exist; {role}, so the job would fail (exit 127). {fix[0].upper()}"
                            f"{fix[1:]}, or run `cycle project init` in an empty folder and copy its {script}.")
    if problems:
        raise ManifestError(problems)


def _script_text_problems(path: Path, role: str) -> list[str]:
    """A script saved by a Windows editor: CRLF line endings make bash read each line's `\\r` as part
    of its last word (`$'\\r': command not found`, `uv sync\\r`: "unrecognized subcommand"), a
    byte-order mark makes the first line's command unknown. Both failed only in the job, and the
    build's diagnosis blamed a missing command."""
    try:
        with open(path, "rb") as script:
            text = script.read(1 << 20)
    except OSError:
        return []  # unreadable: the job says so (as before)
    problems = []
    if text.startswith(UTF8_BOM):
        problems.append(f"{path}: starts with a byte-order mark (saved as \"UTF-8 with BOM\"); {role}, and bash "
                        f"would take those bytes for part of the first command. Save it as UTF-8 without BOM: "
                        f"sed -i '1s/^\\xEF\\xBB\\xBF//' {path}.")
    line = _first_crlf_command(text.split(b"\n")[:-1])  # (each ended by a newline)
    if line:
        problems.append(f"{path}:{line}: has Windows line endings (CRLF); {role}, and bash would read each line's "
                        f"carriage return as part of its command (`$'\\r': command not found`). Convert it: "
                        f"sed -i 's/\\r$//' {path} (or dos2unix), and keep LF (git: core.autocrlf=input).")
    return problems


HEREDOC = re.compile(rb"(?<!<)<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def _first_crlf_command(lines: list[bytes]) -> int | None:
    """The number (from 1) of the first line of bash ending in a carriage return, or None: lines of
    a here-doc's data (`cat > req.txt <<'EOF'` ... `EOF`: an HTTP request's CRLF written out on
    purpose) are data, not commands; every other line counts, an LF shebang above CRLF lines too."""
    ends: list[tuple[bytes, bool]] = []  # the here-docs opened on the line before, in order
    for number, line in enumerate(lines, start=1):
        if ends:
            word, tabs = ends[0]
            if (line.lstrip(b"\t") if tabs else line) == word:
                ends.pop(0)
            continue
        if line.endswith(b"\r"):
            return number
        ends = [(found[3], found[1] == b"-") for found in HEREDOC.finditer(line)]
    return None


def default_manifest_text(name: str, build_files: list[str] | None = None) -> str:
    """The manifest `cycle project init` writes: the spec's defaults, with comments kept."""
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment("Cycleswap project manifest. Reference: the platform's .cycleswap/ documentation."))
    doc.add(tomlkit.nl())
    main = tomlkit.table()
    main.add(tomlkit.comment("Project name, unique within your organization."))
    main.add("name", name)
    main.add(tomlkit.comment("Volumes mounted read-only at /volumes/<name>."))
    main.add("volumes", tomlkit.array())
    main.add(tomlkit.comment("Files whose content decides whether build.sh re-runs; copied into the build."))
    files = tomlkit.array()
    files.extend(build_files or [])
    main.add("build_files", files)
    doc.add("main", main)
    ubuntu = tomlkit.table()
    ubuntu.add(tomlkit.comment('Exactly one image section. One of: ' + ", ".join(f'"{v}"' for v in UBUNTU_VERSIONS)))
    ubuntu.add("version", "24.04")
    doc.add("ubuntu", ubuntu)
    job = tomlkit.table()
    job.add(tomlkit.comment('Minimum CUDA version of the machine, e.g. cuda = "12.6". Omit when no GPU is needed.'))
    env = tomlkit.inline_table()
    job.add(tomlkit.comment('Environment variables for the container, e.g. { LEARNING_RATE = "3e-4" }.'))
    job.add("env_vars", env)
    job.add("email_on_success", False)
    job.add("email_on_failure", False)
    order_comment = '"FIFO" uploads artifacts in the order written; "LIFO" newest first (periodic checkpoints).'
    job.add(tomlkit.comment(order_comment))
    job.add("artifact_upload_order", "FIFO")
    doc.add("job", job)
    return tomlkit.dumps(doc)


def default_project_name(folder: Path) -> str:
    """A valid project name derived from a folder name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip("-._")[:63]
    return name or "my-project"


# `.python-version` (which `uv init` writes) pins the interpreter `uv sync` installs: without it in
# the build, the build's venv got the newest Python, not the project's.
PYTHON_BUILD_FILE_GLOBS = ("pyproject.toml", "uv.lock", ".python-version", "requirements*.txt")

DEFAULT_CYCLEIGNORE = """\
# Not copied into /app (gitignore-like, one pattern a line). .git and .cycleswap/jobs never are,
# and neither is any virtualenv (a folder holding pyvenv.cfg), .venv or __pycache__: build.sh's venv
# in /app/.venv must not be replaced by the one on your machine.
.venv/
venv/
__pycache__/
*.pyc
.pytest_cache/
.mypy_cache/
.ruff_cache/
.ipynb_checkpoints/
.cycleswap/jobs/
"""


def python_build_files(project_dir: Path) -> list[str]:
    """The dependency files a Python project's build.sh needs (the default one runs `uv sync`):
    pyproject.toml, uv.lock, .python-version and requirements*.txt at the root, when present."""
    found: list[str] = []
    for pattern in PYTHON_BUILD_FILE_GLOBS:
        found += sorted(p.name for p in project_dir.glob(pattern) if p.is_file())
    return found


def default_scripts_notes(project_dir: Path) -> list[str]:
    """What the spec's default run.sh and build.sh will not do for this Python project, said when
    `cycle project init` writes them (they are written as the platform gives them, byte for byte):
    `uv run main.py` needs a main.py at the root, and `uv sync` in the build installs the project
    itself, whose source a packaged project (a [build-system], e.g. `uv init --package`) keeps
    outside the build_files."""
    pyproject = project_dir / "pyproject.toml"
    if not pyproject.is_file():
        return []
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return [f"{pyproject} could not be read as TOML ({error}): the build's `uv sync` will stop on it too. "
                "Fix it, then run `cycle project test`."]
    notes = []
    found = data.get("project")
    project: dict[str, Any] = found if isinstance(found, dict) else {}
    if not (project_dir / "main.py").is_file():
        scripts = sorted(project.get("scripts", {})) if isinstance(project.get("scripts"), dict) else []
        instead = (f"`uv run {scripts[0]}` (its [project.scripts] entry)" if scripts
                   else "`uv run python -m YOUR_MODULE`")
        notes.append(f"{project_dir}/.cycleswap/run.sh runs `uv run main.py` (the platform's default), but there is "
                     f"no main.py here: change that line, e.g. to {instead}.")
    if "build-system" in data:
        notes.append(f"{pyproject} has a [build-system]: the default build.sh's `uv sync` installs the project "
                     "itself, whose source is not in the build (only the build_files are): use `uv sync "
                     "--no-install-project` in .cycleswap/build.sh (`uv run` installs it when the job starts), or "
                     "add its folder (e.g. \"src\") to [main] build_files.")
    return notes


def init_project(project_dir: Path, name: str | None = None, force: bool = False) -> list[Path]:
    """Write .cycleswap/{manifest.toml,run.sh,build.sh}; refuse to overwrite unless `force`.

    In a Python project (pyproject.toml, uv.lock, .python-version or requirements*.txt at the root) the manifest's
    build_files list those files, so the default build.sh's `uv sync` finds them, and a .cycleignore
    keeping local environments and caches out of /app is written unless one exists (never replaced).
    """
    project_dir = project_dir.resolve()
    if project_dir.exists() and not project_dir.is_dir():
        raise BadInput(f"{project_dir} is a file, not a folder: `cycle project init` writes {CYCLESWAP_DIR}/ into the "
                       f"project's root folder. Pass that folder, e.g. `cycle project init {project_dir.parent}`.")
    folder = project_dir / CYCLESWAP_DIR
    name = name or default_project_name(project_dir)
    if not NAME_RE.match(name):
        raise BadInput(f"--name {name!r} is not a valid project name. "
                       "Use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit.")
    build_files = python_build_files(project_dir)
    files = {
        folder / MANIFEST_NAME: default_manifest_text(name, build_files),
        folder / "run.sh": DEFAULT_RUN_SH,
        folder / "build.sh": DEFAULT_BUILD_SH,
    }
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise BadInput(
            f"{', '.join(str(p) for p in existing)} already exist{'s' if len(existing) == 1 else ''}. "
            "Nothing was written. Pass --force to overwrite them."
        )
    ignore_file = project_dir / ".cycleignore"
    if build_files and not ignore_file.exists():
        files[ignore_file] = DEFAULT_CYCLEIGNORE
    _write_files(folder, files)
    return list(files)


def _write_files(folder: Path, files: dict[Path, str]) -> None:
    """`project init`'s writes; a folder it cannot write (read-only, immutable, a file in the way)
    is bad input named with its fix, not a traceback."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            path.write_text(text, encoding="utf-8")
    except OSError as error:
        path = Path(os.fsdecode(error.filename)) if error.filename is not None else folder
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = (f"make {path.parent} writable (`chmod u+w {path.parent}`, or `chattr -i {path.parent}` if it was "
                   "made immutable)")
        else:
            fix = f"move aside what is in the way in {path.parent}"
        raise BadInput(f"cannot write {path}: {error.strerror}. `cycle project init` writes {CYCLESWAP_DIR}/ in "
                       f"{folder.parent}: {fix}, or init a project folder you can write.") from None
