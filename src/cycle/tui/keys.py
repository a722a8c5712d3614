"""The keys of `cycle tui`, read from the bindings themselves (one source of truth, as harlequin
keeps keys as data): the `?` help and the README's keys table are generated here, so neither can
drift from what the keys do."""

from __future__ import annotations

KEY_NAMES = {
    "slash": "/", "question_mark": "?", "escape": "Esc", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home",
    "end": "End", "enter": "Enter", "backspace": "Backspace", "tab": "Tab", "up": "↑", "down": "↓",
    "left": "←", "right": "→", "space": "Space",
}


def key_label(keys: str) -> str:
    return " ".join(KEY_NAMES.get(key, key) for key in keys.split(","))


Sections = list[tuple[str, list[tuple[str, str]]]]

# The footer's keys by importance, the user's most frequent actions first: ONE order (by action) for
# every screen. The footer shows them in this order and, when a terminal is too narrow for all,
# drops them from the end, never `?` (it lists every key). An action not listed here ranks last; a
# test checks that every key the footer can show is listed, so a new key gets a place on purpose.
FOOTER_ORDER = (
    "back",  # Esc: the job screen's way out
    "search",  # /: the log
    "open",  # Enter: a job (jobs list), a folder (artifacts)
    "filter",  # /: the jobs list
    "toggle_follow",  # f
    "cancel_job",  # c
    "download",  # d: artifacts
    "help",  # ?
    "quit",  # q
    "bottom",  # G: the log's last line
    "reassign_job",  # r: a running job
    "refresh",  # r: the jobs list
    "up",  # Backspace: artifacts, out of a folder
    "toggle_sort",  # s: artifacts
    "next_tab",  # Tab
    "cycle_stream",  # s: the log
    "toggle_wrap",  # w
    "command_palette",  # ctrl+p: the palette lists every action anyway
)
ALWAYS_IN_FOOTER = "help"


def footer_rank(action: str | None) -> int:
    """Where `action` stands in FOOTER_ORDER (unlisted: after every listed one)."""
    return FOOTER_ORDER.index(action) if action in FOOTER_ORDER else len(FOOTER_ORDER)


def keys_that_fit(widths: list[tuple[str, int]], room: int) -> set[str]:
    """The actions the footer shows in `room` columns, from (action, width in columns) in order of
    importance: the least important give way first until the rest fit (cycle.tui.fit); `?` never does."""
    from cycle.tui.fit import Part, fit

    keys = [Part(rank, (action,), action != ALWAYS_IN_FOOTER) for rank, (action, _width) in enumerate(widths)]
    return set(fit(keys, room, cells=dict(widths).__getitem__)) - {None}


def rows(owner) -> list[tuple[str, str]]:
    """(keys, what they do) for each binding of a screen or widget class, in declaration order."""
    return [(key_label(binding.key), binding.tooltip or binding.description) for binding in owner.BINDINGS]


def markdown_table(sections: Sections) -> str:
    """The README's keys table, from `sections` (CycleApp.key_sections())."""
    lines = ["| Where | Keys | Does |", "| --- | --- | --- |"]
    for where, keys in sections:
        lines += [f"| {where} | `{key.replace('|', '¦')}` | {does} |" for key, does in keys]
    return "\n".join(lines)


def help_columns(sections: Sections) -> tuple:
    """The `?` help as two columns; each section is a grid whose descriptions wrap inside their
    own column (a hanging indent), never under the keys."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    blocks = []
    for where, keys in sections:
        grid = Table.grid(padding=(0, 2, 0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for key, does in keys:
            grid.add_row(key, does)
        blocks.append(Group(Text(where, style="bold"), grid, Text("")))
    half = (len(blocks) + 1) // 2
    return Group(*blocks[:half]), Group(*blocks[half:])


def palette_commands(screen) -> list:
    """The command palette's entries for `screen`: one per action of the keys that work there
    (the focused widget's, the screen's, the app's), each running the very action its key runs, so
    the palette cannot drift from the keys. Only the app's own bindings (Textual's widgets are left
    to their keys), and a key's action once even when several keys or nodes share it."""
    from functools import partial

    from textual.app import SystemCommand

    commands, seen = [], set()
    for node, bindings in screen._binding_chain:  # focused widget first, then its ancestors, the app
        ours = own_bindings(type(node))
        # the node's bindings as they are now: a node may change a key's text (an ended job's G)
        live = {}
        for _key, binding in bindings:
            live.setdefault(binding.action, binding)
        for action in live:
            binding = ours.get(action)
            if binding is None or action in seen or screen.app._check_action_state(action, node) is False:
                continue
            seen.add(action)
            does = live[action].tooltip or binding.tooltip or binding.description
            help_text = f"{key_label(binding.key)} · {does}"
            commands.append(SystemCommand(binding.description, help_text, partial(node.run_action, action)))
    return commands


def refusal(screen, key: str) -> str | None:
    """Why `key` does nothing on `screen`, when a node there binds it to an action its check_action
    turned off (so the footer and the palette do not offer it) and the node's `refusal(action)` says
    why (an archived job's `d`: its files were deleted). None when a binding of the key works, or
    none of them explains itself: a key pressed anyway is answered, never silently dropped."""
    refused = []
    for node, bindings in screen._modal_binding_chain:  # focused widget first, as Textual looks keys up
        for binding in bindings.key_to_bindings.get(key, ()):
            if screen.app._check_action_state(binding.action, node):
                return None  # it works: Textual runs it
            explain = getattr(node, "refusal", None)
            refused.append(explain(binding.action) if explain else None)
    return next((why for why in refused if why), None)


def own_bindings(owner: type) -> dict:
    """Action -> the binding declared for it in cycle's own classes of `owner`'s lineage (not
    Textual's inherited keys such as ctrl+c or shift+tab, which are not the app's actions)."""
    from textual.binding import Binding

    found = {}
    for cls in reversed(owner.__mro__):  # a subclass's binding wins
        if cls.__module__.startswith("cycle."):
            for binding in cls.__dict__.get("BINDINGS", []):
                binding = binding if isinstance(binding, Binding) else Binding(*binding)
                if binding.description:
                    found[binding.action] = binding
    return found
