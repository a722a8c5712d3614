"""Manifest validation and `cycle project init`: pure, no Docker."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cycle.api.manifest import default_manifest_text, init_project, load_manifest, parse_manifest
from cycle.cli import app
from cycle.errors import BadInput, ManifestError

GOOD = """\
[main]
name = "my-experiment"
volumes = ["training-data", "validation-data"]
build_files = ["pyproject.toml"]

[ubuntu]
version = "24.04"

[job]
cuda = "13.0"
env_vars = { MAX_EPOCHS = "1000", LEARNING_RATE = "3e-4" }
email_on_success = true
email_on_failure = true
artifact_upload_order = "LIFO"
"""

TAIL = '[ubuntu]\nversion = "24.04"\n[job]\nemail_on_success = false\nemail_on_failure = false\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".cycleswap").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    return tmp_path


def parse(project: Path, text: str):
    return parse_manifest(text, path=project / ".cycleswap" / "manifest.toml", root=project)


def test_spec_example_parses_with_every_field(project):
    manifest = parse(project, GOOD)
    assert manifest.name == "my-experiment"
    assert manifest.volumes == ("training-data", "validation-data")
    assert manifest.build_files == ("pyproject.toml",)
    assert manifest.ubuntu_version == "24.04"
    assert manifest.cuda == "13.0"
    assert manifest.env_vars == {"MAX_EPOCHS": "1000", "LEARNING_RATE": "3e-4"}
    assert manifest.email_on_success is True and manifest.email_on_failure is True
    assert manifest.artifact_upload_order == "LIFO"
    assert manifest.container_env()["INSIDE_CYCLESWAP_CONTAINER"] == "1"


def test_defaults_follow_the_spec(project):
    manifest = parse(project, '[main]\nname = "x"\n' + TAIL)
    assert manifest.volumes == () and manifest.build_files == ()
    assert manifest.env_vars == {} and manifest.cuda is None
    assert manifest.artifact_upload_order == "FIFO"


# (manifest text, line the message must name, words the message must contain)
BAD = {
    "syntax error": ('[main]\nname = "x\n' + TAIL, 2, ["syntax error"]),
    "value without quotes": ("[main]\nname = my-experiment\n" + TAIL, 2, ["syntax error"]),
    "missing name": ("[main]\nvolumes = []\n" + TAIL, 1, ["needs `name`"]),
    "missing main": (TAIL, None, ["[main]", "required"]),
    "name with spaces": ('[main]\nname = "my experiment"\n' + TAIL, 2, ["name", "not a valid project name"]),
    "two image sections": ('[main]\nname = "x"\n[debian]\nversion = "12"\n' + TAIL,
                           3, ["exactly one image section", "[debian]"]),
    "no image section": ('[main]\nname = "x"\n[job]\nemail_on_success = false\nemail_on_failure = false\n',
                         None, ["no image section", "[ubuntu]"]),
    "duplicate image table": ('[main]\nname = "x"\n[ubuntu]\nversion = "22.04"\n' + TAIL, 5, ["already exists"]),
    "ubuntu 23.10": ('[main]\nname = "x"\n[ubuntu]\nversion = "23.10"\n[job]\nemail_on_success = '
                     'false\nemail_on_failure = false\n', 4, ['"23.10"', "24.04"]),
    "ubuntu version as a number": ('[main]\nname = "x"\n[ubuntu]\nversion = 24.04\n[job]\nemail_on_success = '
                                   'false\nemail_on_failure = false\n', 4, ["quoted string"]),
    "cuda thirteen": ('[main]\nname = "x"\n' + TAIL + 'cuda = "thirteen"\n', 8, ["cuda", "MAJOR.MINOR"]),
    "cuda as a float": ('[main]\nname = "x"\n' + TAIL + "cuda = 12.6\n", 8, ["cuda", '"12.6"']),
    "env_vars with an int": ('[main]\nname = "x"\n' + TAIL + "env_vars = { EPOCHS = 10 }\n",
                             8, ["EPOCHS", "must be a string", 'EPOCHS = "10"']),
    "env_vars bad name": ('[main]\nname = "x"\n' + TAIL + 'env_vars = { "1X" = "a" }\n',
                          8, ["not a valid environment variable name"]),
    "env_vars overrides builtin": ('[main]\nname = "x"\n' + TAIL + 'env_vars = { INSIDE_CYCLESWAP_CONTAINER = "0" }\n',
                                   8, ["built in"]),
    "unknown table": ('[main]\nname = "x"\n[jobs]\nfoo = 1\n' + TAIL,
                      3, ["unknown table [jobs]", "Did you mean `job`?"]),
    "unknown field": ('[main]\nname = "x"\nbuild_file = ["a"]\n' + TAIL,
                      3, ["no field `build_file`", "Did you mean `build_files`?"]),
    "email not boolean": ('[main]\nname = "x"\n[ubuntu]\nversion = "24.04"\n[job]\nemail_on_success = '
                          '"yes"\nemail_on_failure = false\n', 6, ["true or false"]),
    "email missing": ('[main]\nname = "x"\n[ubuntu]\nversion = "24.04"\n[job]\nemail_on_success = true\n',
                      5, ["email_on_failure", "required"]),
    "upload order lowercase": ('[main]\nname = "x"\n' + TAIL + 'artifact_upload_order = "lifo"\n',
                               8, ['"FIFO"', '"LIFO"', "capitals"]),
    "build_files outside the project": ('[main]\nname = "x"\nbuild_files = ["../secret.toml"]\n' + TAIL,
                                        3, ["outside the project"]),
    "build_files absolute": ('[main]\nname = "x"\nbuild_files = ["/etc/passwd"]\n' + TAIL, 3, ["absolute path"]),
    "build_files missing": ('[main]\nname = "x"\nbuild_files = ["requirements.txt"]\n' + TAIL, 3, ["does not exist"]),
    "build_files not a list": ('[main]\nname = "x"\nbuild_files = "pyproject.toml"\n' + TAIL, 3, ["array of strings"]),
    "volumes with an int": ('[main]\nname = "x"\nvolumes = ["data", 3]\n' + TAIL, 3,
                            ["array of strings", "got item 2 is 3, not a string."]),  # not the list's Python repr
}


@pytest.mark.parametrize(("text", "where", "what"), [
    ('[main]\nname = "x"\nvolumes = ["data",\n', ":3:11:", "the array opened here is not closed before the end"),
    ('[main]\nname = "x"\nenv = { A = "1"', ":3:7:", "the inline table opened here is not closed before the end"),
    ('[main]\nname = "x"\nenv = "open', ":3:7:", "the string opened here is not closed before the end"),
    ("[main]\nname = my-experiment\n", ":2:8:", "Unexpected character: 'm'"),  # columns count from 1
    ("[main\nname = 1\n", ":1:6:", "Unexpected end of line"),
])
def test_a_toml_syntax_error_names_the_real_character_or_the_end(project, text, where, what):
    with pytest.raises(ManifestError) as raised:
        parse(project, text)
    message = str(raised.value)
    assert f".cycleswap/manifest.toml{where} TOML syntax error: {what}" in message, message
    assert "\\x00" not in message and "\\n" not in message


@pytest.mark.parametrize(("text", "where", "fix"), [
    ('[main]\nname = "x"\nvolumes = [1, 2\nbuild_files = []\n' + TAIL, ":3:11:", "Close the array with ]"),
    ('[main]\nname = "x"\nvolumes = ["a",\n  "b"\nbuild_files = []\n' + TAIL, ":3:11:", "Close the array with ]"),
    ('[main]\nname = "x"\nvolumes = [\n  "a",\n\n[ubuntu]\nversion = "24.04"\n', ":3:11:",
     "Close the array with ]"),  # tomlkit reads the next table's header as a nested array
    ('[main]\nname = "x\nvolumes = []\n' + TAIL, ":2:8:", 'Close the string with "'),
    ("[main]\nname = 'x\nvolumes = []\n" + TAIL, ":2:8:", "Close the string with '"),
    ('[main]\nname = "x"  # a "quoted" comment\nvolumes = ["a\\"b]\n' + TAIL, ":3:12:", 'Close the string with "'),
    ('[main]\nname = "x"\n[job]\nenv_vars = { A = "1"\nemail_on_success = false\n', ":4:12:",
     "Close the inline table with }"),
    ('[main]\nname = """abc\nvolumes = []\n' + TAIL, ":2:8:", 'Close the multi-line string with """'),
    ('[main]\nname = "x"\n[job]\nenv_vars = { A = ["x", "y" }\nemail_on_success = false\n', ":4:18:",
     "Close the array with ]"),  # the array inside the inline table is what was left open
])
def test_an_unclosed_array_or_string_mid_file_points_at_its_opening(project, text, where, fix):
    """tomlkit notices an unclosed array at the NEXT key's line, and an unclosed string as "control
    characters": the paragraph names the line and column of the opening `[`, `{` or quote and the fix."""
    with pytest.raises(ManifestError) as raised:
        parse(project, text)
    message = str(raised.value)
    assert f".cycleswap/manifest.toml{where} TOML syntax error: " in message and fix in message, message
    assert "Control characters" not in message and "Unexpected character" not in message


@pytest.mark.parametrize(("text", "where"), [
    ('[main]\nname = "x"\n[job]\nenv_vars = { A = "1", }\n', ":4:23:"),  # a comma after the last value
    ('[main]\nname = "x"\n[job]\nenv_vars = {\n A = "1" }\n', ":4:13:"),  # an inline table over two lines
])
def test_toml_that_only_a_lenient_parser_accepts_is_a_syntax_error(project, text, where):
    """TOML 1.0 (tomllib, as the platform) rejects these; tomlkit, which words our other syntax
    errors, accepts them: the manifest must not run with what only tomlkit read."""
    with pytest.raises(ManifestError) as raised:
        parse(project, text)
    assert f".cycleswap/manifest.toml{where} TOML syntax error:" in str(raised.value), str(raised.value)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_manifest_names_file_line_and_fix(project, case):
    text, line, words = BAD[case]
    with pytest.raises(ManifestError) as caught:
        parse(project, text)
    message = caught.value.message
    where = f"{project / '.cycleswap' / 'manifest.toml'}"
    assert message.startswith(where), message
    if line is not None:
        assert message.startswith(f"{where}:{line}"), message
    for word in words:
        assert word in message, message
    assert caught.value.exit_code == 2


def test_several_problems_are_all_reported(project):
    with pytest.raises(ManifestError) as caught:
        parse(project, '[main]\nname = "x"\n[ubuntu]\nversion = "23.10"\n[job]\ncuda = "x"\nemail_on_success = '
                       '1\nemail_on_failure = false\n')
    assert len(caught.value.problems) == 3


def test_build_file_symlink_pointing_out_is_refused(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("s")
    (project / "link.txt").symlink_to(outside)
    with pytest.raises(ManifestError, match="outside the project"):
        parse(project, '[main]\nname = "x"\nbuild_files = ["link.txt"]\n' + TAIL)


def test_cli_reports_bad_manifest_without_traceback(project):
    (project / ".cycleswap" / "manifest.toml").write_text('[main]\nname = "x"\n' + TAIL + 'cuda = "thirteen"\n')
    result = CliRunner().invoke(app, ["project", "test", str(project)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert 'cuda "thirteen" is not a CUDA version' in result.output


def test_cli_reports_missing_manifest(tmp_path):
    result = CliRunner().invoke(app, ["project", "test", str(tmp_path)])
    assert result.exit_code == 2
    assert "cycle project init" in result.output


def test_init_writes_spec_defaults_that_validate(tmp_path):
    written = init_project(tmp_path / "proj")
    assert sorted(p.name for p in written) == ["build.sh", "manifest.toml", "run.sh"]
    text = (tmp_path / "proj" / ".cycleswap" / "manifest.toml").read_text()
    assert "# Project name" in text  # comments are kept
    manifest = load_manifest(tmp_path / "proj")
    assert manifest.name == "proj" and manifest.ubuntu_version == "24.04"
    assert manifest.artifact_upload_order == "FIFO"
    assert "uv run main.py" in (tmp_path / "proj" / ".cycleswap" / "run.sh").read_text()
    assert "uv sync" in (tmp_path / "proj" / ".cycleswap" / "build.sh").read_text()


def test_init_refuses_to_overwrite_without_force(tmp_path):
    init_project(tmp_path)
    manifest = tmp_path / ".cycleswap" / "manifest.toml"
    manifest.write_text("# mine\n")
    result = CliRunner().invoke(app, ["project", "init", str(tmp_path)])
    assert result.exit_code == 2 and "--force" in result.output
    assert manifest.read_text() == "# mine\n"
    result = CliRunner().invoke(app, ["project", "init", str(tmp_path), "--force"])
    assert result.exit_code == 0
    assert "[main]" in manifest.read_text()


def test_init_rejects_bad_name(tmp_path):
    with pytest.raises(BadInput):
        init_project(tmp_path, name="bad name")


def test_default_manifest_text_round_trips(tmp_path):
    (tmp_path / ".cycleswap").mkdir()
    manifest = parse(tmp_path, default_manifest_text("demo"))
    assert manifest.name == "demo"


# Environment limits: what Linux lets one exec carry, caught at validation instead of at build time.
def env_manifest(env_table: str) -> str:
    return '[main]\nname = "x"\n' + TAIL + env_table


@pytest.mark.parametrize("value, words", [
    ('"a\\u0000b"', ["SECRET", "NUL"]),
    ('"' + "x" * (300 * 1024) + '"', ["SECRET", "128 KiB", "MAX_ARG_STRLEN"]),
], ids=["NUL", "300 KiB"])
def test_env_value_linux_cannot_pass_is_refused_with_its_line(project, value, words):
    with pytest.raises(ManifestError) as caught:
        parse(project, env_manifest(f"env_vars = {{ SECRET = {value} }}\n"))
    message = caught.value.message
    assert message.startswith(f"{project / '.cycleswap' / 'manifest.toml'}:8:"), message[:300]
    assert len(message) < 1000  # names the limit, does not echo the value
    for word in words:
        assert word in message, message


def test_env_var_in_a_subtable_is_named_on_its_own_line(project):
    text = '[main]\nname = "x"\n' + TAIL + '[job.env_vars]\nOK = "1"\nBAD = "a\\u0000"\n'
    with pytest.raises(ManifestError) as caught:
        parse(project, text)
    assert caught.value.message.startswith(f"{project / '.cycleswap' / 'manifest.toml'}:10:"), caught.value.message


def test_too_many_env_vars_are_refused_with_the_limit(project):
    """One over the limit is refused, with the count and the limit; exactly the limit passes (the
    boundary, not a far-off count: 20,000 entries took seconds of TOML parsing and proved less)."""
    def entries(count: int) -> str:
        return ", ".join(f'V{i} = "1"' for i in range(count))

    with pytest.raises(ManifestError) as caught:
        parse(project, env_manifest(f"env_vars = {{ {entries(4097)} }}\n"))
    assert len(caught.value.problems) == 1
    assert "4097" in caught.value.message and "4096" in caught.value.message
    assert len(parse(project, env_manifest(f"env_vars = {{ {entries(4096)} }}\n")).env_vars) == 4096


def test_env_vars_over_the_total_size_are_refused(project):
    entries = ", ".join(f'V{i} = "{"x" * 100_000}"' for i in range(12))
    with pytest.raises(ManifestError) as caught:
        parse(project, env_manifest(f"env_vars = {{ {entries} }}\n"))
    assert "1 MiB" in caught.value.message and "ARG_MAX" in caught.value.message


def test_env_vars_just_under_the_limits_pass(project):
    entries = ", ".join(f'V{i} = "{"x" * 100_000}"' for i in range(10))
    manifest = parse(project, env_manifest(f"env_vars = {{ {entries} }}\n"))
    assert len(manifest.env_vars) == 10


def test_init_in_a_python_folder_lists_its_dependency_files_and_writes_cycleignore(tmp_path):
    for name in ["pyproject.toml", "uv.lock", ".python-version", "requirements.txt", "requirements-dev.txt",
                 "main.py"]:
        (tmp_path / name).write_text("")
    written = init_project(tmp_path)
    manifest = load_manifest(tmp_path)
    assert manifest.build_files == ("pyproject.toml", "uv.lock", ".python-version", "requirements-dev.txt",
                                    "requirements.txt")  # .python-version: the Python `uv sync` installs
    assert tmp_path / ".cycleignore" in written
    ignored = (tmp_path / ".cycleignore").read_text().splitlines()
    for pattern in [".venv/", "venv/", "__pycache__/", "*.pyc", ".pytest_cache/", ".mypy_cache/",
                    ".ruff_cache/", ".ipynb_checkpoints/", ".cycleswap/jobs/"]:
        assert pattern in ignored


def test_init_keeps_an_existing_cycleignore_even_with_force(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / ".cycleignore").write_text("data/\n")
    written = init_project(tmp_path, force=True)
    assert tmp_path / ".cycleignore" not in written
    assert (tmp_path / ".cycleignore").read_text() == "data/\n"
    assert load_manifest(tmp_path).build_files == ("pyproject.toml",)


def test_init_says_what_the_default_scripts_will_not_do_for_a_packaged_project(tmp_path):
    """`uv init --package`: no main.py, a [build-system], a script entry. The defaults are still
    written as the platform gives them; the notes say what to change."""
    from cycle.api.manifest import DEFAULT_RUN_SH, default_scripts_notes, init_project

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo-pkg"\nversion = "0.1.0"\n'
                                             '[project.scripts]\ndemo-pkg = "demo_pkg:main"\n'
                                             '[build-system]\nrequires = ["uv_build"]\nbuild-backend = "uv_build"\n')
    init_project(tmp_path, name="demo-pkg")
    assert (tmp_path / ".cycleswap" / "run.sh").read_text() == DEFAULT_RUN_SH
    notes = default_scripts_notes(tmp_path)
    assert len(notes) == 2
    assert "no main.py" in notes[0] and "`uv run demo-pkg`" in notes[0]
    assert "--no-install-project" in notes[1] and "build_files" in notes[1]


def test_init_has_nothing_to_say_about_the_default_uv_app(tmp_path):
    """`uv init` (an app): main.py at the root and no [build-system]: the defaults run it as is."""
    from cycle.api.manifest import default_scripts_notes

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\ndependencies = []\n')
    (tmp_path / "main.py").write_text('print("Hello from app!")\n')
    assert default_scripts_notes(tmp_path) == []
    assert default_scripts_notes(tmp_path / "nowhere") == []


def test_init_says_when_pyproject_is_not_toml(tmp_path):
    """A pyproject.toml TOML rejects was passed over in silence, though the build's `uv sync`
    stops on it: init names the file, the line and the next step."""
    from cycle.api.manifest import default_scripts_notes

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nversion = 0.1.0\n')
    (tmp_path / "main.py").write_text('print("hi")\n')
    [note] = default_scripts_notes(tmp_path)
    assert str(tmp_path / "pyproject.toml") in note and "line 3" in note and "uv sync" in note


def test_a_key_set_twice_names_both_lines_with_clean_punctuation(project):
    """tomlkit's KeyAlreadyPresent carries no line: the message had none and a doubled period."""
    text = '[main]\nname = "x"\n[ubuntu]\nversion = "24.04"\n[job]\nemail_on_success = false\n' \
           'email_on_failure = false\n  email_on_success = true\n'
    with pytest.raises(ManifestError) as caught:
        parse(project, text)
    message = caught.value.message
    assert message.startswith(f"{project / '.cycleswap' / 'manifest.toml'}:8:3: "), message
    assert "`email_on_success` is set twice in [job] (first on line 6)" in message, message
    assert ".." not in message


def test_every_problem_names_a_line_and_they_come_in_line_order(project):
    text = ('[job]\ncuda = "x"\nemail_on_success = 1\n[ubuntu]\nversion = "23.10"\n'
            '[main]\nname = "a b"\nbuild_fils = []\n')
    with pytest.raises(ManifestError) as caught:
        parse(project, text)
    where = f"{project / '.cycleswap' / 'manifest.toml'}:"
    lines = [int(problem.removeprefix(where).split(":")[0]) for problem in caught.value.problems]
    assert lines == sorted(lines) and len(lines) == 6, caught.value.problems


@pytest.mark.parametrize("text", [TAIL, '[main]\nname = "x"\n[job]\nemail_on_success = false\n'
                                        'email_on_failure = false\n'])
def test_a_missing_table_is_named_at_the_end_of_the_file(project, text):
    with pytest.raises(ManifestError) as caught:
        parse(project, text)
    end = len(text.splitlines())
    assert caught.value.message.startswith(f"{project / '.cycleswap' / 'manifest.toml'}:{end}: "), caught.value.message


def test_a_dotted_key_is_named_on_its_own_line(project):
    text = '[main]\nname = "x"\n[ubuntu]\nversion = "24.04"\n[job]\nemail_on_success = false\n' \
           'email_on_failure = false\nenv_vars.A = 1\n'
    with pytest.raises(ManifestError) as caught:
        parse(project, text)
    assert caught.value.message.startswith(f"{project / '.cycleswap' / 'manifest.toml'}:8: "), caught.value.message


def test_a_manifest_that_is_not_utf8_names_line_and_column(project):
    (project / ".cycleswap" / "manifest.toml").write_bytes(b'[main]\nname = "x\xff"\n' + TAIL.encode())
    with pytest.raises(ManifestError) as caught:
        load_manifest(project)
    message = caught.value.message
    assert message.startswith(f"{project / '.cycleswap' / 'manifest.toml'}:2:10: the file is not UTF-8"), message
    assert ": is" not in message


@pytest.mark.parametrize(("text", "unknown", "meant"), [
    ('[main]\nname = "x"\n[ubuntu]\nversion = "24.04"\n[jobs]\nemail_on_success = false\nemail_on_failure = false\n',
     "jobs", "job"),
    ('[main]\nname = "x"\n[ubuntuu]\nversion = "24.04"\n[job]\nemail_on_success = false\nemail_on_failure = false\n',
     "ubuntuu", "ubuntu"),
    ('[mian]\nname = "x"\n[ubuntu]\nversion = "24.04"\n[job]\nemail_on_success = false\nemail_on_failure = false\n',
     "mian", "main"),
])
def test_a_misspelled_table_is_one_problem_not_every_field_it_holds(project, text, unknown, meant):
    """A user test: [jobs] for [job] gave the "Did you mean `job`?" paragraph and two more saying
    [job] needs email_on_success and email_on_failure (they were there, under [jobs]); [ubuntuu]
    added "no image section"."""
    with pytest.raises(ManifestError) as raised:
        parse(project, text)
    [problem] = raised.value.problems
    assert f"unknown table [{unknown}]. Did you mean `{meant}`?" in problem


def test_a_carriage_return_only_in_a_scripts_data_is_no_windows_file(tmp_path):
    """A reviewer: a here-doc writing an HTTP request (CRLF inside its data) refused the script,
    which bash runs as meant; a file saved by a Windows editor has CRLF from its first line."""
    from cycle.api.manifest import check_scripts

    (tmp_path / ".cycleswap").mkdir()
    (tmp_path / ".cycleswap" / "build.sh").write_bytes(b"")
    run = tmp_path / ".cycleswap" / "run.sh"
    run.write_bytes(b"printf 'ok\\n'\ncat > req.txt <<'EOF'\nGET / HTTP/1.1\r\nHost: x\r\n\r\nEOF\necho done\n")
    check_scripts(tmp_path)  # nothing refused
    run.write_bytes(b"set -e\r\necho one\r\necho two\r\n")
    with pytest.raises(ManifestError, match=r"run.sh:1: has Windows line endings"):
        check_scripts(tmp_path)


@pytest.mark.parametrize(("body", "line"), [
    (b"#!/bin/bash\npython train.py\r\n", 2),  # an LF shebang typed above a pasted CRLF command
    (b"set -e\ncd /app\necho a\npython a.py\r\npython b.py\r\n", 4),  # CRLF commands pasted at the end
    (b"cat > req.txt <<-'EOF'\n\tGET / HTTP/1.1\r\n\tEOF\nuv sync\r\n", 4),  # after a here-doc's data (<<-)
    (b"cat > a <<EOF\nx\r\nEOF\ncat > b <<< 'x'\r\n", 4),  # a here-string is no here-doc
    (b"cat > a <<EOF\nx\r\nEOF\n", None),
])
def test_the_first_crlf_line_of_a_scripts_commands_is_named(tmp_path, body, line):
    """A reviewer: with a CRLF flagged only on the first line or most lines, an LF shebang above one
    pasted CRLF command passed, and bash ran `python train.py\\r`."""
    from cycle.api.manifest import check_scripts

    (tmp_path / ".cycleswap").mkdir()
    (tmp_path / ".cycleswap" / "build.sh").write_bytes(b"")
    (tmp_path / ".cycleswap" / "run.sh").write_bytes(body)
    if line is None:
        check_scripts(tmp_path)
        return
    with pytest.raises(ManifestError, match=rf"run.sh:{line}: has Windows line endings"):
        check_scripts(tmp_path)
