from __future__ import annotations

from pathlib import Path

import pytest

from cycle.errors import BadInput
from emulator import settings as settings_module
from emulator.settings import Settings, load


def test_defaults_are_the_spec_numbers():
    found = Settings.from_env({"HOME": "/home/u"})
    assert (found.machines, found.log_cadence_seconds, found.stability_seconds, found.flatten_depth) == \
        (4, 600.0, 0.5, 100)
    assert found.home == Path("/home/u/.cycle") and found.email_to == "you@localhost"
    assert found.max_run_seconds is None and found.memory_limit is None and not found.watcher_polling


def test_every_variable_is_read_typed():
    env = {"CYCLE_MACHINES": "2", "CYCLE_MEMORY_LIMIT": "1048576", "CYCLE_MAX_RUN_SECONDS": "0",
           "CYCLE_STABILITY_MS": "200", "CYCLE_WATCHER": "polling", "CYCLE_HOME": "/tmp/h",
           "CYCLE_IMAGE_UBUNTU_24_04": "img:1", "CYCLE_STORAGE": "s3", "LOCALSTACK_HOST": "127.0.0.1:1",
           "CYCLE_PULL_UBUNTU": "1", "CYCLE_SMTP_HOST": ""}
    found = Settings.from_env(env)
    assert (found.machines, found.memory_limit, found.max_run_seconds, found.stability_seconds) == \
        (2, 1048576, 0.0, 0.2)
    assert found.watcher_polling and found.pull_ubuntu and found.home == Path("/tmp/h")
    assert found.image_override("24.04") == "img:1" and found.image_override("22.04") is None
    assert (found.storage, found.localstack_host, found.smtp_host) == ("s3", "127.0.0.1:1", None)


def test_a_bad_number_is_one_paragraph_naming_the_variable():
    with pytest.raises(BadInput) as caught:
        Settings.from_env({"CYCLE_MACHINES": "four"})
    assert "$CYCLE_MACHINES is 'four'" in str(caught.value) and "whole number" in str(caught.value)


def test_load_sees_a_changed_environment_and_caches_an_unchanged_one(monkeypatch):
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "3")
    first = load()
    assert first.log_cadence_seconds == 3.0 and load() is first
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "4")
    assert load().log_cadence_seconds == 4.0
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "3")
    assert load() is first  # keyed on the relevant variables only
    assert settings_module._cached.cache_info().hits >= 2


@pytest.mark.parametrize(("name", "value", "least"), [
    ("CYCLE_MACHINES", "0", "1"), ("CYCLE_SCHEDULER_SECONDS", "-5", "0"), ("CYCLE_RESTORE_ATTEMPTS", "0", "1")])
def test_a_setting_below_its_least_is_refused_naming_it(name, value, least):
    """CYCLE_MACHINES=0 left every job waiting for good; CYCLE_SCHEDULER_SECONDS=-5 ran queued jobs
    at once with no word."""
    with pytest.raises(BadInput) as refused:
        Settings.from_env({name: value})
    assert refused.value.message == (f"${name} is {value}, but it must be at least {least}. Fix or unset it "
                                     f"(`unset {name}`) and run again.")
    assert Settings.from_env({name: least})  # the least itself is fine
