"""Import rules, checked statically (lazy imports inside functions count too).

import-linter holds the contracts in pyproject.toml: the contract (cycle.api) imports no IO
library; the clients reach the emulator, sqlite and boto3 only through the factory
cycle.platform; the emulator never imports a client; nothing imports docker-py or requests (cycle
has its own engine client, emulator/engine/api.py). The runtime twin of these checks (textual is
imported only by the TUI) is in test_tui.py.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "src" / "cycle"

# Import cycles allowed for now: none (list a pair here only with the reason and the issue removing it).
KNOWN_CYCLES: set[frozenset[str]] = set()


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def import_cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """The strongly connected groups of modules (Tarjan): each holds at least one import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[frozenset[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(frozenset(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_no_import_cycles_between_modules():
    graph = grimp.build_graph("cycle", "emulator", cache_dir=None)
    cycles = [sorted(group) for group in import_cycles(graph) if group not in KNOWN_CYCLES]
    assert cycles == [], f"modules importing each other (lazily or not): {cycles}"


CONTRACT_PACKAGES = ("cycle.api", "cycle.errors")


def test_the_emulator_takes_only_the_contract_and_the_errors_from_cycle():
    """import-linter's forbidden list names today's other cycle modules; this catches any module,
    one added later included (the project format lives in the contract: cycle.api.manifest)."""
    graph = grimp.build_graph("cycle", "emulator", cache_dir=None)
    outside = sorted(
        f"{importer} -> {imported}"
        for importer in graph.modules if importer == "emulator" or importer.startswith("emulator.")
        for imported in graph.find_modules_directly_imported_by(importer)
        if (imported == "cycle" or imported.startswith("cycle."))
        and not any(imported == p or imported.startswith(p + ".") for p in CONTRACT_PACKAGES)
    )
    assert outside == [], f"the emulator imports from cycle beyond cycle.api and cycle.errors: {outside}"


def calls_on(tree: ast.AST, receivers: set[str], factory: str) -> set[str]:
    """Method names called on a platform object: `platform.x()`, `self.platform.x()`,
    `self._platform.x()`, `open_platform().x()` (or the admin's equivalents)."""
    names = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        if isinstance(target, ast.Name) and target.id in receivers:
            names.add(node.func.attr)
        elif isinstance(target, ast.Attribute) and target.attr in receivers:
            names.add(node.func.attr)
        elif isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id == factory:
            names.add(node.func.attr)
    return names


def client_calls(receivers: set[str], factory: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(CLIENTS.rglob("*.py")):
        if path.parts[-2] == "api" or path.name == "platform.py":
            continue
        for name in calls_on(ast.parse(path.read_text()), receivers, factory):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def declared(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def test_the_platform_protocol_declares_every_call_the_clients_make():
    from cycle.api import Platform

    calls = client_calls({"platform", "_platform"}, "open_platform")
    missing = {name: sorted(where) for name, where in calls.items() if name not in declared(Platform)}
    assert len(calls) >= 15, calls  # the scan still finds the clients' calls
    assert missing == {}, f"called by clients but not in cycle.api.Platform: {missing}"


def test_the_admin_protocol_declares_every_call_the_emulator_commands_make():
    from cycle.api import EmulatorAdmin

    calls = client_calls({"admin"}, "open_admin")
    missing = {name: sorted(where) for name, where in calls.items() if name not in declared(EmulatorAdmin)}
    assert calls, "the scan finds the admin calls of `cycle emulator …`"
    assert missing == {}, f"called by `cycle emulator …` but not in cycle.api.EmulatorAdmin: {missing}"


def parameters(function: object) -> list[str]:
    import inspect

    return [name for name in inspect.signature(function).parameters if name != "self"]


def test_the_emulator_implements_every_call_of_both_protocols_with_their_parameters():
    from cycle.api import EmulatorAdmin, Platform
    from emulator.admin import Admin
    from emulator.platform import EmulatorPlatform

    for protocol, implementation in ((Platform, EmulatorPlatform), (EmulatorAdmin, Admin)):
        for name in declared(protocol):
            assert hasattr(implementation, name), f"{implementation.__name__} lacks {protocol.__name__}.{name}"
            wanted = parameters(getattr(protocol, name))
            offered = parameters(getattr(implementation, name))
            assert offered[:len(wanted)] == wanted, f"{implementation.__name__}.{name}{offered} vs {wanted}"


# What a read-only command must not import: the engine (its client; docker-py and requests, never used), storage
# (boto3), the TUI, the job runner, the TOML writer. They cost ~200 ms of start-up (issue 14).
HEAVY_PACKAGES = ("docker", "requests", "urllib3", "boto3", "botocore", "textual", "rich", "tomlkit")
HEAVY_MODULES = ("emulator.job", "emulator.engine", "emulator.storage", "emulator.blobs", "emulator.artifacts",
                 "emulator.build")
READ_ONLY_COMMANDS = (["job", "list", "--json"], ["job", "list"], ["job", "status", "no-such-job-1"],
                      ["job", "logs", "no-such-job-1", "--tail", "5"], ["--help"], ["job", "--help"])
# Runs the CLI in a fresh interpreter and prints every module it imported, even when it exits with an error.
MODULES_AFTER = ("import atexit, sys\n"
                 "atexit.register(lambda: print('\\n'.join(sorted(sys.modules)), file=sys.__stderr__))\n"
                 "sys.argv = ['cycle', *sys.argv[1:]]\n"
                 "from cycle.cli import main\n"
                 "main()\n")


def heavy_imports(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY_PACKAGES or m.startswith(HEAVY_MODULES))


def test_read_only_commands_import_only_what_they_need(tmp_path):
    env = {**os.environ, "CYCLE_HOME": str(tmp_path / "home")}
    for command in READ_ONLY_COMMANDS:
        result = subprocess.run([sys.executable, "-c", MODULES_AFTER, *command], env=env, capture_output=True,
                                text=True, timeout=60)
        assert "Traceback" not in result.stderr, result.stderr
        assert heavy_imports(result.stderr.split()) == [], f"`cycle {' '.join(command)}` imported them"


def test_a_command_builds_only_its_own_group(tmp_path):
    """typer inspects every command of a group it builds: `cycle job …` must not build the others."""
    env = {**os.environ, "CYCLE_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", MODULES_AFTER, "job", "list", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    others = {"cycle.cli.project", "cycle.cli.volume", "cycle.cli.emulator"}
    assert others.isdisjoint(result.stderr.split()), result.stderr


def test_job_logs_tail_imports_neither_typer_nor_click_nor_docker_nor_the_contract(tmp_path):
    """`cycle job logs JOB --tail N` of an ended job takes the fast path (src/cycle/cli/fast.py): no
    typer (~60 ms of imports), no click, not the contract's models (cycle.api: the log is read
    straight from state.db, emulator/store/direct.py), and like every read-only command not the
    engine's client."""
    from emulator.models import JobState, Stream
    from emulator.store import StateStore

    (tmp_path / "home").mkdir()
    store = StateStore(tmp_path / "home" / "state.db")
    job = store.create_job("demo", agent_pid=os.getpid())
    store.set_state(job.id, JobState.RUNNING, machine="local-0")
    store.set_state(job.id, JobState.FINISHED, exit_code=0)
    store.append_logs(job.id, [(i, Stream.STDOUT, f"line {i}") for i in range(200)])
    env = {**os.environ, "CYCLE_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", MODULES_AFTER, "job", "logs", job.name, "--tail", "100"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 100, result.stderr
    modules = result.stderr.split()
    unwanted = [m for m in modules if m.split(".")[0] in ("typer", "click") or m.startswith("cycle.api")]
    assert unwanted + heavy_imports(modules) == [], "`cycle job logs JOB --tail 100` imported them"


FREEZE_COUNT_AFTER = ("import atexit, gc, sys\n"
                      "atexit.register(lambda: print(gc.get_freeze_count(), file=sys.__stderr__))\n"
                      "sys.argv = ['cycle', *sys.argv[1:]]\n"
                      "from cycle.cli import main\n"
                      "main()\n")


@pytest.mark.parametrize("command", [["job", "list", "--json"], ["--help"], ["job", "logs", "nope-1", "--tail", "1"]])
def test_every_command_skips_the_collections_at_exit(tmp_path, command):
    """The interpreter's last collections walk every imported object (~25 ms of a `project test`):
    main() freezes them on the way out, whether the command ended well, badly or by SystemExit."""
    env = {**os.environ, "CYCLE_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", FREEZE_COUNT_AFTER, *command], env=env, capture_output=True,
                            text=True, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    assert int(result.stderr.split()[-1]) > 10_000, result.stderr
