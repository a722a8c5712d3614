"""Unit tests: pure logic only, no Docker engine, no S3 server, no sleeps (clocks are injected)."""
