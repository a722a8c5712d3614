"""Why a build failed, from real-looking build output (pure: no Docker)."""

from __future__ import annotations

from emulator.build_diagnosis import diagnose, explain

# The spec's default build.sh on an image with no network: apt-get and the uv installer fail,
# the script goes on, and it ends with the symptom, `uv: command not found` (exit 127).
DEFAULT_BUILD_WITHOUT_NETWORK = """\
W: Failed to fetch http://archive.ubuntu.com/ubuntu/dists/noble/InRelease  \
Temporary failure resolving 'archive.ubuntu.com'
W: Some index files failed to download. They have been ignored, or old ones used instead.
E: Unable to locate package curl
.cycleswap/build.sh: line 2: curl: command not found
.cycleswap/build.sh: line 6: uv: command not found""".splitlines()

UV_SYNC_OFFLINE = """\
Using CPython 3.11.2 interpreter at: /usr/bin/python3
Creating virtual environment at: .venv
error: Failed to fetch: `https://pypi.org/simple/numpy/`
  Caused by: Request failed after 3 retries
  Caused by: error sending request for url (https://pypi.org/simple/numpy/)
  Caused by: client error (Connect)
  Caused by: dns error: failed to lookup address information: Temporary failure in name resolution""".splitlines()

PIP_OFFLINE = """\
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by \
'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new \
connection: [Errno -3] Temporary failure in name resolution')': /simple/uv/
ERROR: Could not find a version that satisfies the requirement uv (from versions: none)
ERROR: No matching distribution found for uv""".splitlines()

PIP_TLS = """\
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by \
'SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get \
local issuer certificate (_ssl.c:992)'))': /simple/uv/
ERROR: No matching distribution found for uv""".splitlines()

UV_TLS = """\
error: Request failed after 3 retries
  Caused by: error sending request for url (https://pypi.org/simple/numpy/)
  Caused by: client error (Connect)
  Caused by: invalid peer certificate: UnknownIssuer""".splitlines()


def test_no_network_is_named_from_the_first_failing_command_not_the_last_symptom():
    found = diagnose(DEFAULT_BUILD_WITHOUT_NETWORK, 127)
    assert found.cause.startswith("build.sh needs the network")
    assert "--network" in found.advice
    assert found.line == 1 and "Temporary failure resolving" in found.evidence


def test_uv_and_pip_connection_errors_mean_no_network():
    for lines in (UV_SYNC_OFFLINE, PIP_OFFLINE, ["curl: (6) Could not resolve host: astral.sh"],
                  ["connect: Network is unreachable"]):
        found = diagnose(lines, 1)
        assert found is not None and "needs the network" in found.cause, lines


def test_tls_failures_point_at_the_ca_even_when_the_line_also_says_connection():
    for lines in (PIP_TLS, UV_TLS, ["curl: (60) SSL certificate problem: unable to get local issuer certificate"]):
        found = diagnose(lines, 1)
        assert found.cause.startswith("TLS"), lines
        assert "update-ca-certificates" in found.advice and "UV_SYSTEM_CERTS=1" in found.advice


def test_command_not_found_names_the_command_and_the_fix():
    found = diagnose(["building", ".cycleswap/build.sh: line 3: uv: command not found"], 127)
    assert found.cause.startswith("uv: command not found")
    assert "Install it earlier in build.sh" in found.advice
    assert "pip install --user --break-system-packages uv" in found.advice
    found = diagnose(["sh: 1: cmake: not found"], 127)
    assert found.cause.startswith("cmake: command not found") and "provides cmake" in found.advice
    # no apt-get at all: the base image is not Ubuntu or Debian
    found = diagnose([".cycleswap/build.sh: line 1: apt-get: command not found"], 127)
    assert "not Ubuntu or Debian" in found.advice and "apt-get install" not in found.advice
    # exit 127 with nothing recognisable still says what it means
    assert "not found" in diagnose(["something odd"], 127).cause


def test_missing_packages_are_named_for_apt_pip_and_uv():
    found = diagnose(["E: Unable to locate package python3-nump"], 100)
    assert found.cause == "apt cannot find the package python3-nump"
    assert "apt-get update" in diagnose(["E: Unable to locate package foo"], 100).advice
    assert diagnose(["E: Package 'python3.13' has no installation candidate"], 100).cause.endswith("python3.13")
    found = diagnose(["ERROR: No matching distribution found for nunpy==9.9"], 1)
    assert found.cause == "pip cannot find the package nunpy==9.9"
    uv = ["  × No solution found when resolving dependencies:",
          "  ╰─▶ Because nunpy was not found in the package registry and your project depends on nunpy, we can",
          "      conclude that your project's requirements are unsatisfiable."]
    assert diagnose(uv, 1).cause == "uv cannot find the package nunpy in the package registry"


def test_a_missing_pyproject_points_at_build_files_and_pep668_at_a_venv():
    found = diagnose(["error: No `pyproject.toml` found in current directory or any parent directory"], 2)
    assert "build_files" in found.advice
    found = diagnose(["error: externally-managed-environment", "", "× This environment is externally managed"], 1)
    assert "--break-system-packages" in found.advice


def test_explain_gives_one_event_with_cause_fix_and_evidence():
    events = explain(DEFAULT_BUILD_WITHOUT_NETWORK, 127)
    assert len(events) == 1
    assert events[0].startswith("build failed: build.sh exited with code 127. Cause: build.sh needs the network")
    assert "line 1" in events[0] and "Fix:" in events[0]


def test_explain_falls_back_to_the_last_lines_when_nothing_is_recognised():
    lines = [f"step {i}" for i in range(30)] + ["make: *** [all] Error 2"]
    events = explain(lines, 2)
    assert events[0].startswith("build failed: build.sh exited with code 2; no known cause recognised")
    assert events[1:] == [f"build output | {line}" for line in lines[-20:]]
    assert explain([], 3) == ["build failed: build.sh exited with code 3; no known cause recognised; build.sh printed "
                              "nothing."]


def test_output_already_streamed_as_build_lines_is_not_repeated():
    """The builder streams every line as a `[build]` event: `build output |` repeated the last 20
    right under them. Streamed, the explanation names the last line only."""
    lines = [f"step {i}" for i in range(30)] + ["make: *** [all] Error 2", ""]
    assert explain(lines, 2, streamed=True) == [
        "build failed: build.sh exited with code 2; no known cause recognised; its output is above, as the [build] "
        "lines (the last: 'make: *** [all] Error 2')."]
    assert explain(["installing"], 127, streamed=True) == [
        "build failed: build.sh exited with code 127. Cause: a command was not found (exit code 127). Fix: Install the "
        "missing command earlier in build.sh or use a base image that has it; its output is above, as the [build] "
        "lines (the last: 'installing')."]


def test_a_build_that_already_used_the_hosts_network_is_not_told_to_pass_network_host():
    """Issue 13 follow-up: "pass --network host" is no advice when the build ran on host already."""
    on_host = explain(DEFAULT_BUILD_WITHOUT_NETWORK, 127, network="host")[0]
    assert "pass --network host" not in on_host
    assert "host's network" in on_host and "DNS" in on_host and "proxy" in on_host
    on_bridge = explain(DEFAULT_BUILD_WITHOUT_NETWORK, 127, network="bridge")[0]
    assert "pass --network host" in on_bridge


def test_a_packaged_uv_project_whose_source_is_not_in_the_build_gets_the_two_fixes():
    """`uv init --package` (a src/ layout): uv sync builds the project, whose source is not in /app
    while build.sh runs (only the build_files are)."""
    for line in ("      Error: Expected a Python module at: `src/demo_pkg/__init__.py`",
                 "ValueError: Unable to determine which files to ship inside the wheel using the following heuristics",
                 "error: package directory 'src/demo_pkg' does not exist"):
        found = diagnose(["Resolved 3 packages in 10ms", "  × Failed to build `demo-pkg @ file:///app`", line], 1)
        assert found is not None and "source is not in the build" in found.cause, line
        assert "--no-install-project" in found.advice and "build_files" in found.advice


def test_a_host_that_reached_other_hosts_is_not_said_to_reach_nothing():
    on_host = explain(["curl: (6) Could not resolve host: astral.sh"], 127, network="host")[0]
    assert "reached nothing" not in on_host and "astral.sh" in on_host
    assert "pip install --user --break-system-packages uv" in on_host


# `uv sync` of a `uv init` project whose .python-version (3.12) the image's Python (3.11) does not
# satisfy: uv goes to download CPython from github.com (uv 0.13's output, captured here)
UV_PYTHON_DOWNLOAD_OFFLINE = """\
error: Request failed after 3 retries in 9.2s
  cause: Failed to download `https://github.com/astral-sh/python-build-standalone/releases/download/20261110/\
cpython-3.12.16%2B20261110-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz`
  cause: error sending request for url (https://github.com/astral-sh/python-build-standalone/releases/download/\
20261110/cpython-3.12.16%2B20261110-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz)
  cause: client error (Connect)
  cause: dns error
  cause: error resolving DNS
  cause: failed to lookup address information: Name or service not known""".splitlines()


def test_a_python_uv_must_download_is_named_not_the_network_alone():
    """A user test: the build blamed DNS and advised `pip install uv` (already done); the cause is
    the Python version the project pins, which the image does not have."""
    found = diagnose(UV_PYTHON_DOWNLOAD_OFFLINE, 1, network="host")
    assert found.cause.startswith("uv needs Python 3.12 (the project's .python-version or requires-python)")
    assert ".python-version" in found.advice and "3.11" in found.advice and found.line == 2


# uv 0.13.9's `uv sync` on a pyproject.toml with an unclosed array (captured as build.sh prints it)
UV_BAD_PYPROJECT = """\
Using CPython 3.11.2 interpreter at: /usr/bin/python3
warning: Failed to parse `pyproject.toml` during settings discovery:
  TOML parse error at line 7, column 1
    |
  7 | [tool.uv]
    | ^
  missing comma between array elements, expected `,`

error: Failed to parse: pyproject.toml
  cause: TOML parse error at line 7, column 1
           |
         7 | [tool.uv]
           | ^
         missing comma between array elements, expected `,`""".splitlines()

# older uv (0.4-0.8): the file in backticks, "Caused by:", a message of two lines
UV_OLD_BAD_PYPROJECT = """\
error: Failed to parse: `pyproject.toml`
  Caused by: TOML parse error at line 1, column 9
  |
1 | [project
  |         ^
invalid table header
expected `.`, `]`""".splitlines()


def test_a_pyproject_that_is_not_toml_names_the_file_line_column_and_fix():
    """The default build.sh's `uv sync` stops on it; the diagnosis said "no known cause recognised"."""
    events = explain(UV_BAD_PYPROJECT, 2)
    assert len(events) == 1, events
    event = events[0]
    assert "Cause: pyproject.toml is not valid TOML: line 7, column 1 (missing comma between array elements, " \
           "expected `,`)" in event
    assert "Fix: Edit pyproject.toml in the project folder at line 7, column 1" in event and "tomllib" in event
    found = diagnose(UV_OLD_BAD_PYPROJECT, 2)
    assert found is not None and found.line == 1
    assert found.cause == "pyproject.toml is not valid TOML: line 1, column 9 (invalid table header; expected `.`, `]`)"


def test_a_toml_failure_without_its_position_still_names_the_file():
    found = diagnose(["error: Failed to parse: `/app/uv.lock`", "  Caused by: something else"], 2)
    assert found is not None and found.cause == "uv.lock is not valid TOML"
    assert found.advice.startswith("Edit uv.lock in the project folder (uv stops")


def test_bytes_that_are_not_utf8_show_as_the_replacement_character_not_as_escapes():
    """The build's output keeps bytes that are not UTF-8 as lone surrogates (as the log does): the
    explanation showed them as `\\udcff`, which means nothing to a reader."""
    name = "caf\udce9-data"  # b"caf\xe9-data" printed by build.sh
    [event] = explain([f"E: Unable to locate package {name}"], 100)
    assert "\\udc" not in event and "caf\ufffd-data" in event
    [event] = explain(["some output", f"something odd about {name}"], 1, streamed=True)
    assert "\\udc" not in event and "caf\ufffd-data" in event
