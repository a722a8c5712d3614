"""`cycle emulator storage use`: bad settings are refused with one paragraph and the config is kept
(no engine needed)."""

from __future__ import annotations

import pytest

from helpers import cli


@pytest.mark.parametrize("args, words", [
    (["--host", "not a host"], ["--host", "'not a host'", "host:port"]),
    (["--host", "localhost"], ["--host", "port"]),
    (["--host", "localhost:0"], ["1-65535"]),
    (["--host", "localhost:70000"], ["1-65535"]),
    (["--host", "-bad-.example:4566"], ["host name"]),
    (["--host", "http://localhost:4566"], ["host:port"]),
    (["--host", "[::1"], ["host:port"]),
    (["--host", "[::1]:4566"], ["IPv6", "localhost:4566"]),
    (["--bucket", "Not_A_Bucket"], ["--bucket", "3-63"]),
], ids=["spaces", "no-port", "port-0", "port-70000", "bad-label", "url", "open-bracket", "ipv6", "bucket"])
def test_storage_use_refuses_bad_settings_and_keeps_config(home, args, words):
    config = home / "config.toml"
    config.write_text('[storage]\nkind = "local"\n')
    result = cli("emulator", "storage", "use", "s3", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    for word in words:
        assert word in result.output, result.output
    assert config.read_text() == '[storage]\nkind = "local"\n'


@pytest.mark.parametrize("host", ["localhost:4566", "127.0.0.1:9", "s3.localhost:443"])
def test_storage_use_takes_host_names_and_addresses_but_keeps_none_that_does_not_answer(home, host):
    """A user test: `use s3 --host 127.0.0.1:1` said `error:` and exited 1, yet kept the setting,
    so every later command failed on it."""
    config = home / "config.toml"
    config.write_text('[storage]\nkind = "local"\n')
    result = cli("emulator", "storage", "use", "s3", "--host", host, "--bucket", "my-bucket")
    assert result.exit_code == 1 and "--host" not in result.output, result.output  # valid, but nothing answers
    assert "Nothing was changed" in result.output and "Traceback" not in result.output
    assert config.read_text() == '[storage]\nkind = "local"\n'


def test_a_started_s3_server_takes_its_own_last_port_never_one_set_by_use(home, monkeypatch):
    """A user test: after `use s3 --host 127.0.0.1:1` (kept then) and `use local`, `storage start`
    bound moto to port 1, the last localstack_host's port."""
    from emulator.storage import _previous_port, remember_moto_host

    (home / "config.toml").write_text('[storage]\nkind = "local"\nlocalstack_host = "127.0.0.1:1"\n')
    assert _previous_port(home) is None
    remember_moto_host(home, "127.0.0.1:45123")
    assert _previous_port(home) in (45123, None)  # None only when something else holds that port now
