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
    (["--bucket", "Not_A_Bucket"], ["--bucket", "3-63"]),
], ids=["spaces", "no-port", "port-0", "port-70000", "bad-label", "url", "open-bracket", "bucket"])
def test_storage_use_refuses_bad_settings_and_keeps_config(home, args, words):
    config = home / "config.toml"
    config.write_text('[storage]\nkind = "local"\n')
    result = cli("emulator", "storage", "use", "s3", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    for word in words:
        assert word in result.output, result.output
    assert config.read_text() == '[storage]\nkind = "local"\n'


@pytest.mark.parametrize("host", ["localhost:4566", "127.0.0.1:9000", "[::1]:4566", "s3.localhost:443"])
def test_storage_use_accepts_host_names_and_addresses(home, host):
    result = cli("emulator", "storage", "use", "s3", "--host", host, "--bucket", "my-bucket")
    assert result.exit_code in (0, 1) and "--host" not in result.output, result.output  # 1: nothing answers there
    text = (home / "config.toml").read_text()
    assert f'localstack_host = "{host}"' in text and 'bucket = "my-bucket"' in text
