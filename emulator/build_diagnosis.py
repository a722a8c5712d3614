"""Why a build failed, from its output: lines in, (cause, advice) out. Pure: tested without Docker.

A failed build.sh ends with its last symptom, rarely its cause: the spec's default build.sh keeps
going after `curl … | sh` fails for want of a network, so it ends with `uv: command not found`
(exit 127). The cause is the EARLIEST line that a rule recognises, so the output is read from the
top and the first match wins; within one line, the rules are tried in order (a TLS failure is
reported as TLS even though pip's line also says the connection failed). Wrappers that say only
that a request failed (uv's "error sending request for url") are not rules: the "Caused by:" lines
below them name the real cause.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cycle.api.models import BUILD_FAILED_EVENT, BUILD_OUTPUT_EVENT
from cycle.api.wording import displayable

TAIL_LINES = 20
COMMAND_NOT_FOUND_EXIT = 127
# uv from PyPI into root's ~/.local/bin, past PEP 668's refusal of the system Python (the fixture's build.sh line)
PIP_UV = "pip install --user --break-system-packages uv"
NETWORK_FLAG_ADVICE = ("pass --network host (or the name of a Docker network that reaches the internet) to "
                       "`cycle project test` or `cycle drill`; behind a proxy, check that the engine's containers can "
                       "reach it")
NETWORK_CAUSE = "build.sh needs the network, and the build container could not reach it"
HOST_NETWORK_CAUSE = "build.sh needs the network, and it could not reach it even with the host's network"
HOST_NETWORK_ADVICE = ("The build already used the host's network (--network host, or auto where the engine has "
                       "no bridge), so another network flag will not help: from this host, the name or address in "
                       "that line did not answer (others may: apt's mirror can answer where an installer's site does "
                       "not). Check it from the host (getent hosts NAME, curl -I URL): DNS (/etc/resolv.conf), a "
                       "firewall, or a proxy that build.sh must be told about (HTTP_PROXY / HTTPS_PROXY in [job] "
                       "env_vars or in build.sh); or fetch the tool another way (e.g. `" + PIP_UV + "` instead of "
                       "the astral.sh installer: Debian's and Ubuntu's pip needs both flags).")


@dataclass(frozen=True)
class Diagnosis:
    cause: str          # what went wrong, in the user's terms
    advice: str         # what to do about it
    evidence: str = ""  # the output line that shows it
    line: int = 0       # its number in the build output (1-based; 0: none)


FOLLOWING_LINES = 12  # how far below its line a rule's `more` may read (uv's TOML error and its snippet)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    cause: str | Callable[[dict[str, str]], str]   # a template, or a function of the matched fields
    advice: str | Callable[[dict[str, str]], str]  # the same
    # more fields from the lines below the match (a message whose details follow on lines of their own)
    more: Callable[[Sequence[str]], dict[str, str]] | None = None

    def diagnose(self, line: str, number: int, below: Sequence[str] = ()) -> Diagnosis | None:
        found = self.pattern.search(line)
        if found is None:
            return None
        fields = {k: v or "" for k, v in found.groupdict().items()}
        if self.more is not None:
            fields.update(self.more(below[:FOLLOWING_LINES]))
        return Diagnosis(_fill(self.cause, fields), _fill(self.advice, fields), line.strip(), number)


def _fill(text: str | Callable[[dict[str, str]], str], fields: dict[str, str]) -> str:
    return text(fields) if callable(text) else text.format(**fields)


PACKAGE_MANAGERS = ("apt-get", "apt", "dpkg", "apt-cache")


def _missing_command_advice(fields: dict[str, str]) -> str:
    """How to get a missing command: a base image without apt is not Debian or Ubuntu at all."""
    command = fields["command"]
    if command in PACKAGE_MANAGERS:
        return (f"The base image has no {command}, so it is not Ubuntu or Debian (the busybox stand-in?): map "
                "[ubuntu] to a real image (`cycle emulator images` shows the mapping) or install nothing with apt in "
                "build.sh.")
    how = (f"{PIP_UV} (or the uv installer)" if command == "uv"
           else f"apt-get install -y the package that provides {command}")
    return (f"Install it earlier in build.sh ({how}) or use a base image that has it. If an earlier line of build.sh "
            "installs it, that line failed: read the build output above it.")


def _rule(pattern: str, cause: str, advice, more=None) -> _Rule:
    return _Rule(re.compile(pattern, re.IGNORECASE), cause, advice, more)


TOML_POSITION = re.compile(r"TOML parse error at line (?P<line>\d+), column (?P<column>\d+)")
SNIPPET_LINE = re.compile(r"^\s*\d*\s*\|")  # uv's quote of the file: `  |`, `7 | [tool.uv]`, `  | ^`


def _toml_error(below: Sequence[str]) -> dict[str, str]:
    """Where and why uv could not read a TOML file, from the lines under "Failed to parse": its
    "TOML parse error at line L, column C", the quoted lines, then the message (one or two lines:
    `missing comma between array elements, expected `,``). uv 0.4 to 0.13 print it so."""
    fields = {"line": "", "column": "", "message": ""}
    lines = iter(below)
    for text in lines:
        found = TOML_POSITION.search(text)
        if found:
            fields.update(found.groupdict())
            break
    message: list[str] = []
    for text in lines:
        if SNIPPET_LINE.match(text):
            continue
        if not text.strip() or text.strip().startswith(("error:", "warning:")) or len(message) == 2:
            break
        message.append(text.strip())
    fields["message"] = "; ".join(message)
    return fields


def _toml_where(fields: dict[str, str]) -> str:
    """`line 7, column 1 (missing comma…)`, or what of it uv printed."""
    where = f"line {fields['line']}, column {fields['column']}" if fields.get("line") else ""
    message = fields.get("message", "")
    return f"{where} ({message})" if where and message else where or message


def _toml_cause(fields: dict[str, str]) -> str:
    where = _toml_where(fields)
    return f"{_project_name(fields['file'])} is not valid TOML" + (f": {where}" if where else "")


def _toml_advice(fields: dict[str, str]) -> str:
    name = _project_name(fields["file"])
    where = f"at line {fields['line']}, column {fields['column']} " if fields.get("line") else ""
    return (f"Edit {name} in the project folder {where}(uv stops on it before installing anything; `cycle project "
            f"init` notes it too), check it with `python3 -c \"import tomllib; tomllib.load(open('{name}', 'rb'))\"`, "
            "then run `cycle project test` again.")


def _project_name(file: str) -> str:
    """The file as the project names it: uv may print it under /app, where the build has it."""
    return file.removeprefix("/app/")


RULES = (
    _rule(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|invalid peer certificate|SSL certificate problem"
          r"|unable to get local issuer certificate|UnknownIssuer",
          "TLS: the build container does not trust the certificate it was shown (a TLS-intercepting proxy's CA?)",
          "Trust that CA in the base image (copy it to /usr/local/share/ca-certificates and run "
          "update-ca-certificates), "
          "and tell uv to use the system store (UV_SYSTEM_CERTS=1; older uv: UV_NATIVE_TLS=1)."),
    _rule(r"Failed to download \S*python-build-standalone\S*/cpython-(?P<version>\d+\.\d+)",
          "uv needs Python {version} (the project's .python-version or requires-python) and the image has another, so "
          "uv tried to download CPython {version} from github.com, which the build could not reach",
          "Pin the Python the base image has (run `python3 --version` in it; cycle/base:bookworm has 3.11): write it "
          "in .python-version and let requires-python in pyproject.toml allow it; or install Python {version} in "
          "build.sh, or give the build a network that reaches github.com."),
    _rule(r"Temporary failure (?:in name )?resolv|Could not resolve host|Network is unreachable|Name or service not "
          r"known"
          r"|Failed to establish a new connection|Max retries exceeded|dns error|failed to lookup address"
          r"|Could not connect to|Connection (?:refused|timed out)",
          NETWORK_CAUSE,
          "Give the build a network: " + NETWORK_FLAG_ADVICE + "."),
    _rule(r"externally[- ]managed[- ]environment",
          "pip refuses to install into the system Python (PEP 668, Debian and Ubuntu's externally-managed-environment)",
          "Install into a virtualenv (python3 -m venv /opt/venv && /opt/venv/bin/pip install …), use uv, or pass "
          "--break-system-packages to pip in build.sh."),
    _rule(r"Failed to parse:? `?(?P<file>[^`\s:]+\.(?:toml|lock))`?", _toml_cause, _toml_advice, _toml_error),
    _rule(r"No [`']pyproject\.toml[`'] found|does not appear to be a Python project"
          r"|No such file or directory: '(?P<file>[^']*requirements[^']*)'",
          "build.sh reads a project file that is not in the build (only .cycleswap/ and the build_files are)",
          "List the file in [main] build_files in .cycleswap/manifest.toml, e.g. build_files = [\"pyproject.toml\", "
          "\"uv.lock\"]."),
    _rule(r"Expected a Python module at|Unable to determine which files to ship inside the wheel"
          r"|package directory '[^']+' does not exist",
          "uv sync builds and installs the project itself, and its source is not in the build (while build.sh "
          "runs, /app holds only .cycleswap/ and the build_files)",
          "Install the dependencies only: `uv sync --no-install-project` in build.sh (`uv run` installs the project "
          "from /app when the job starts), or add the package's folder (e.g. \"src\") to [main] build_files."),
    _rule(r"Unable to locate package (?P<package>\S+)|Package '(?P<apt_package>[^']+)' has no installation candidate",
          "apt cannot find the package {package}{apt_package}",
          "Run apt-get update in the same build.sh before apt-get install, and check the package's name for this "
          "[ubuntu] version (apt-cache search NAME)."),
    _rule(r"No matching distribution found for (?P<package>\S+)",
          "pip cannot find the package {package}",
          "Check its name and version, and that it is published for the image's Python version and platform."),
    _rule(r"(?P<package>\S+) was not found in the package registry",
          "uv cannot find the package {package} in the package registry",
          "Check its name in pyproject.toml, and that the version exists for the image's Python version."),
    _rule(r"(?:^|[\s:])(?P<command>[^\s:]+): (?:command )?not found\s*$",
          "{command}: command not found: the build image has no {command}",
          _missing_command_advice),
)


def diagnose(lines: Sequence[str], exit_code: int, network: str | None = None) -> Diagnosis | None:
    """The cause of a failed build, from the earliest line a rule recognises; None when none does.
    `network`: the network mode the build ran with; a build on the host's network that reached
    nothing needs the host checked, not another --network."""
    for number, line in enumerate(lines, start=1):
        for rule in RULES:
            found = rule.diagnose(line, number, lines[number:number + FOLLOWING_LINES])
            if found is not None and found.cause == NETWORK_CAUSE and network == "host":
                return dataclasses.replace(found, cause=HOST_NETWORK_CAUSE, advice=HOST_NETWORK_ADVICE)
            if found is not None:
                return found
    if exit_code == COMMAND_NOT_FOUND_EXIT:
        return Diagnosis("a command was not found (exit code 127)",
                         "Install the missing command earlier in build.sh or use a base image that has it.")
    return None


def explain(lines: Sequence[str], exit_code: int, network: str | None = None, streamed: bool = False) -> list[str]:
    """The system events a failed build ends with: one line with the cause and the fix when the
    output shows it, else a pointer to the output's last lines. `streamed`: the output is already
    in the job's log as `[build]` lines, just above, so the pointer names the last one only;
    otherwise the last TAIL_LINES follow, one event each."""
    found = diagnose(lines, exit_code, network)
    head = f"{BUILD_FAILED_EVENT} build.sh exited with code {exit_code}"
    if found is not None and found.evidence:
        return [f"{head}. Cause: {found.cause}; build output line {found.line}: {displayable(found.evidence)!r}. "
                f"Fix: {found.advice}"]
    tail = [line for line in lines if line.strip()][-TAIL_LINES:]
    summary = (f"{head}. Cause: {found.cause}. Fix: {found.advice.rstrip('.')}" if found
               else f"{head}; no known cause recognised")
    if not tail:
        return [summary + "; build.sh printed nothing."]
    if streamed:
        return [summary + f"; its output is above, as the [build] lines (the last: {displayable(tail[-1].strip())!r})."]
    output = [f"{BUILD_OUTPUT_EVENT}{line}" for line in tail]
    return [summary + f"; the last {len(tail)} line(s) of its output:", *output]
