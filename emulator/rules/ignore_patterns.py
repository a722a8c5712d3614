"""`.cycleignore` patterns, read and matched as git reads and matches a .gitignore. Pure.

Users write a .cycleignore as they write a .gitignore (or copy one), so the rules are git's
(gitignore(5)), checked against `git ls-files --others --exclude-from` in
tests/unit/test_cycleignore.py:
- one pattern a line; a blank line or one starting with `#` is none; trailing spaces are dropped
  unless escaped with `\\`, leading ones are part of the pattern; `\\` escapes any character
  (`\\#`, `\\!`, `\\ `);
- `!` re-includes what an earlier pattern left out; the last pattern that matches a path decides;
- a trailing `/` matches folders only; a `/` anywhere else anchors the pattern at the project's
  root, and without one it matches a name at any depth;
- `*` and `?` never match `/`, `[...]` is a class of one character (`[!...]` negated, git's named
  classes such as `[[:digit:]]` inside), `**/` at the start, `/**/` inside and `/**` at the end
  cross any number of folders; any other `**` is a `*`.
Paths are matched one level at a time, as git walks: a folder is judged as a whole, and a folder
left out is never entered (the caller's walk), so nothing inside it can be re-included. This is
why no library is used here: pathspec (tried first) judges a path by its ancestors' patterns too,
and then a folder-only negation (`*` then `!*/`, the "only these files" idiom) re-included the
files of every folder, or left whole folders out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class NotAPattern(ValueError):
    """A line git reads no pattern from (a lone `!`, a trailing `\\`) or one that is no valid
    glob (a range like `[z-a]`): skipped, it would put files in /app the user meant to keep out."""


@dataclass(frozen=True)
class IgnorePattern:
    """One line of a .cycleignore, compiled."""

    text: str  # the line as written
    regex: re.Pattern[str]
    negated: bool
    folders_only: bool
    anchored: bool  # matched against the whole relative path, not only the last name

    def matches(self, relative: str, folder: bool) -> bool:
        """Whether this pattern matches `relative` itself (a posix path from the project's root)."""
        if self.folders_only and not folder:
            return False
        return self.regex.fullmatch(relative if self.anchored else relative.rpartition("/")[2]) is not None


def parse_line(line: str) -> IgnorePattern | None:
    """The pattern of one line, None for a blank or comment line; NotAPattern for a broken one."""
    text = _drop_trailing_spaces(line)
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    body = text[1:] if negated else text
    folders_only = body.endswith("/") and not body.endswith("\\/")
    body = body.rstrip("/") if folders_only else body
    if not body or body.endswith("\\") and not body.endswith("\\\\"):
        raise NotAPattern("git reads no pattern from it")
    anchored = "/" in body
    try:
        regex = re.compile(_glob_regex(body.lstrip("/") if anchored else body))
    except re.error as error:
        raise NotAPattern(error.msg) from None
    return IgnorePattern(line, regex, negated, folders_only, anchored)


def is_left_out(patterns: list[IgnorePattern], relative: str, folder: bool) -> IgnorePattern | None:
    """The pattern that leaves `relative` out (the last one matching it, when it is not a `!`
    one); None when the path stays. Its parent folders are the walk's to judge first."""
    for pattern in reversed(patterns):
        if pattern.matches(relative, folder):
            return None if pattern.negated else pattern
    return None


def _drop_trailing_spaces(line: str) -> str:
    """The line without its trailing spaces, but one escaped with a backslash (git's rule)."""
    end = len(line)
    while end and line[end - 1] == " " and not _escaped(line, end - 1):
        end -= 1
    return line[:end]


def _escaped(text: str, index: int) -> bool:
    """Whether the character at `index` follows an odd number of backslashes."""
    count = 0
    while index - count - 1 >= 0 and text[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def _glob_regex(glob: str) -> str:
    """A regex for re.fullmatch of one glob, git's wildmatch with `/` as the separator."""
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**", i) and (i == 0 or glob[i - 1] == "/") and (i + 2 == len(glob) or glob[i + 2] == "/"):
            if i + 2 == len(glob):
                out.append(".*")  # a trailing /**: everything inside
                i += 2
            else:
                out.append("(?:.*/)?")  # **/ : any number of folders, none included
                i += 3
        elif char == "*":
            while glob.startswith("*", i):
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and (end := _class_end(glob, i)) is not None:
            out.append(_class_regex(glob[i + 1:end]))
            i = end + 1
        elif char == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def _class_end(glob: str, start: int) -> int | None:
    """The index of the `]` closing the class opened at `start`, None when none does (a literal `[`)."""
    i = start + 1
    if i < len(glob) and glob[i] in "!^":
        i += 1
    if i < len(glob) and glob[i] == "]":
        i += 1  # a `]` first is one of the class's characters
    while i < len(glob):
        if glob[i] == "\\":
            i += 2
            continue
        if glob.startswith("[:", i) and (close := glob.find(":]", i + 2)) != -1:
            i = close + 2  # a named class, `[:digit:]`: its `]` closes no class
            continue
        if glob[i] == "]":
            return i
        i += 1
    return None


def _class_regex(inside: str) -> str:
    """A regex class for a glob class's inside (`!` or `^` first negates it); never `/`."""
    negated = inside[:1] in ("!", "^")
    inside = inside[1:] if negated else inside
    parts, i = [], 0
    while i < len(inside):
        if inside.startswith("[:", i) and (close := inside.find(":]", i + 2)) != -1:
            parts.append(_named_class(inside[i + 2:close]))
            i = close + 2
        elif inside[i] == "\\" and i + 1 < len(inside):
            parts.append(re.escape(inside[i + 1]))
            i += 2
        elif inside[i] == "-" and parts and i + 1 < len(inside):
            parts.append("-")
            i += 1
        else:
            parts.append(re.escape(inside[i]) if inside[i] in "\\]^[" else inside[i])
            i += 1
    body = "".join(parts)
    return f"[^/{body}]" if negated else f"(?!/)[{body}]"


# The character classes git's wildmatch knows inside a bracket (`[[:digit:]]`), as regex class
# parts; ASCII only, as git's (its ctype is the C locale's).
NAMED_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "blank": " \\t", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "\\x21-\\x7e", "lower": "a-z", "print": "\\x20-\\x7e",
    "punct": "!-/:-@\\[-`{-~", "space": " \\t\\n\\r\\f\\v", "upper": "A-Z", "xdigit": "0-9A-Fa-f",
}


def _named_class(name: str) -> str:
    """A named class's regex part; NotAPattern for a name git does not know (git matches nothing
    with such a pattern: the files it meant to leave out would reach /app)."""
    if name not in NAMED_CLASSES:
        raise NotAPattern(f"[:{name}:] is no character class (known: {', '.join(NAMED_CLASSES)})")
    return NAMED_CLASSES[name]
