"""With S3 storage, against the real moto server: opening the store makes the home private (0700),
and the storage status only reads (a bucket not made yet is named as such, and not created)."""

from __future__ import annotations

from pathlib import Path

from emulator.config import write_config
from emulator.storage import open_blob_store, store_status

from helpers import folder_mode


def test_opening_the_s3_store_makes_the_home_private(fresh_home: Path, s3_storage: str) -> None:
    open_blob_store(fresh_home)
    assert folder_mode(fresh_home) == 0o700 and (fresh_home / "tmp").is_dir()


def test_s3_status_names_a_bucket_not_made_yet_and_makes_neither_it_nor_a_folder(fresh_home: Path,
                                                                                s3_storage: str) -> None:
    from localstack_client.session import Session

    write_config(storage_table(bucket="not-made-yet"), fresh_home)
    status = store_status(fresh_home)
    assert status == f"S3 bucket not-made-yet at {s3_storage} (the bucket is made when the first file is stored)"
    buckets = Session(localstack_host=s3_storage).client("s3").list_buckets()["Buckets"]
    assert "not-made-yet" not in {bucket["Name"] for bucket in buckets}
    assert [path.name for path in fresh_home.iterdir()] == ["config.toml"]


def test_s3_status_of_a_made_bucket_is_the_store_description(fresh_home: Path, s3_storage: str) -> None:
    made = open_blob_store(fresh_home)  # makes the bucket
    assert store_status(fresh_home) == made.description == f"S3 bucket cycleswap at {s3_storage}"


def storage_table(bucket: str):
    """config.toml's [storage] naming `bucket` (the S3 server is $LOCALSTACK_HOST's)."""
    import tomlkit

    doc = tomlkit.document()
    doc.add("storage", tomlkit.table())
    doc["storage"]["bucket"] = bucket
    return doc
