"""Unit tests: no Docker engine, no S3 server; pure rules take an injected clock instead of sleeping.

The fixtures that reach the engine or the S3 server are overridden here so that a unit test asking
for one fails at once with where it belongs, instead of hanging on an engine that is not there."""

import pytest


def _integration_only(name: str):
    @pytest.fixture(scope="session", name=name)
    def refuse():
        pytest.fail(f"the fixture `{name}` needs the Docker engine or the S3 server: move this test to "
                    "tests/integration (the unit tier must pass with no engine)", pytrace=False)
    return refuse


docker_client = _integration_only("docker_client")
s3_host = _integration_only("s3_host")
