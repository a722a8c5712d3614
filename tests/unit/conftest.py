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
engine = _integration_only("engine")
s3_host = _integration_only("s3_host")


def _quicker_idle_checks() -> None:
    """Textual's pilot paces every key press with two `wait_for_idle` calls that each sleep at least
    20 ms (its SLEEP_GRANULARITY) and then until a 20 ms slice passes with under 1 ms of CPU. Our
    pilots never rely on that pacing: they wait on the condition they assert (test_tui.until). A
    2 ms slice with under 0.1 ms of CPU is the same idle test at a tenth of the wait."""
    import textual._wait as wait

    wait.SLEEP_GRANULARITY = 0.002
    wait.SLEEP_IDLE = 0.0001


_quicker_idle_checks()
