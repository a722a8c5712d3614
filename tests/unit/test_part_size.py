"""An in-place upload's parts: 8 MiB (boto3's chunk size), larger only where S3's 10,000 parts
would not hold the file (a 100 GiB checkpoint failed at the 10,001st part). Pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from emulator.blobs import MAX_PARTS, MIB, OLD_PART_SIZE, PART_SIZE, part_size_for


def test_files_up_to_ten_thousand_parts_go_in_8_mib_parts_and_larger_ones_in_the_least_mib_that_fits():
    assert PART_SIZE == 8 * MIB and MAX_PARTS == 10_000
    assert part_size_for(1) == part_size_for(2**30) == part_size_for(MAX_PARTS * PART_SIZE) == PART_SIZE
    assert part_size_for(MAX_PARTS * PART_SIZE + 1) == 9 * MIB
    assert part_size_for(100 * 2**30) == 11 * MIB  # 102,400 MiB / 10,000 parts = 10.24 MiB
    assert part_size_for(2**30, OLD_PART_SIZE) == 16 * MIB


@given(st.integers(min_value=1, max_value=5 * 2**40))  # up to S3's largest object, 5 TiB
def test_every_size_fits_in_ten_thousand_parts_of_whole_mib(size):
    part = part_size_for(size)
    assert part % MIB == 0 and part >= PART_SIZE
    assert -(-size // part) <= MAX_PARTS
    assert part == PART_SIZE or -(-size // (part - MIB)) > MAX_PARTS  # the least such size
