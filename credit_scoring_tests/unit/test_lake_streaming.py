"""Rows that stream through the lake a batch at a time: silver's spool, its merge into a
partition, bronze's row groups and the selection of responses by id."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from credit_scoring.lake import spool as spool_module
from credit_scoring.lake.io_manager import merge_spooled
from credit_scoring.lake.spool import Spool
from credit_scoring.lake.storage import LakeStore, adoptable, to_arrow
from credit_scoring.lake.tables import table_for

ACCOUNTS = table_for("silver/accounts")
BRONZE = table_for("bronze/flinks_accounts_detail")
DAY, NEXT = "2026-10-05", "2026-10-06"


def accounts(*keys: str, day: str = DAY, title: str = "spooled") -> pd.DataFrame:
    """Silver account rows keyed ``application-account`` (e.g. ``A-1``)."""
    frame = pd.DataFrame(
        {
            "application_id": [key.split("-")[0] for key in keys],
            "account_id": [key.split("-")[1] for key in keys],
            "partition_date": day,
            "title": title,
            "fetched_at": pd.Timestamp("2026-10-05 12:00", tz="UTC"),
        }
    )
    for column in ACCOUNTS.schema.names:
        if column not in frame:
            frame[column] = None
    return frame


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch) -> LakeStore:
    """An empty lake on local disk, and one on S3-compatible storage (moto's server)."""
    if request.param == "local":
        return LakeStore(tmp_path / "lake")
    server = request.getfixturevalue("s3_server")
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    return LakeStore(f"s3://{server.create_bucket()}/lake")


def keys_of(frame: pd.DataFrame) -> list[str]:
    return list(frame["application_id"] + "-" + frame["account_id"])


def test_the_spool_keeps_each_days_rows_in_the_order_they_were_appended(tmp_path, monkeypatch):
    monkeypatch.setattr(spool_module, "ROWS_PER_BATCH", 2)
    spool = Spool(tmp_path)
    spool.append(ACCOUNTS, pd.concat([accounts("A-1", "A-2"), accounts("B-1", day=NEXT)]))
    spool.append(ACCOUNTS, accounts("C-1", "C-2", "C-3"))
    spool.append(ACCOUNTS, accounts())  # a slice without rows adds nothing

    spooled = spool.close(ACCOUNTS)

    assert spooled.days() == {DAY, NEXT}
    assert (spooled.rows(), spooled.rows(DAY), spooled.rows(NEXT)) == (6, 5, 1)
    frames = list(spooled.frames(DAY, ["application_id", "account_id"]))
    assert [len(frame) for frame in frames] == [2, 2, 1]
    assert keys_of(pd.concat(frames)) == ["A-1", "A-2", "C-1", "C-2", "C-3"]
    assert list(spooled.batches("2026-10-07")) == []
    assert Spool(tmp_path / "other").close(ACCOUNTS).days() == set()


def test_spooled_rows_fill_a_new_partition_whole(tmp_path, store):
    spool = Spool(tmp_path / "spool")
    spool.append(ACCOUNTS, accounts("A-1", "B-1"))

    assert merge_spooled(store, ACCOUNTS, DAY, spool.close(ACCOUNTS))[:2] == (2, 0)
    assert keys_of(store.read(ACCOUNTS, [DAY])) == ["A-1", "B-1"]
    # a day of the run without spooled rows still gets its (empty, typed) file
    assert merge_spooled(store, ACCOUNTS, NEXT, spool.close(ACCOUNTS))[:2] == (0, 0)
    assert store.exists(ACCOUNTS, NEXT)
    assert store.read(ACCOUNTS, [NEXT]).empty


def test_a_new_partition_takes_the_spooled_file_as_it_is(tmp_path, store):
    spool = Spool(tmp_path / "spool")
    spool.append(ACCOUNTS, accounts("A-1", "B-1"))
    spooled = spool.close(ACCOUNTS)

    merge_spooled(store, ACCOUNTS, DAY, spooled)

    # the spool writes the lake's own compression, so its bytes need no re-encoding
    with store.partition_file(ACCOUNTS, DAY).open("rb") as lake_file:
        assert lake_file.read() == spooled.files[DAY].read_bytes()
    assert pq.ParquetFile(spooled.files[DAY]).metadata.row_group(0).column(0).compression == "ZSTD"


def test_a_file_of_other_columns_or_compression_is_not_adopted(tmp_path, store):
    snappy = tmp_path / "snappy.parquet"
    pq.write_table(to_arrow(accounts("A-1"), ACCOUNTS), snappy, compression="snappy")
    assert not adoptable(snappy, ACCOUNTS.schema)
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"application_id": ["A"]}), other, compression="zstd")
    assert not adoptable(other, ACCOUNTS.schema)

    with pytest.raises(ValueError, match="not a zstd Parquet file of silver/accounts's columns"):
        store.adopt(ACCOUNTS, DAY, other, ACCOUNTS.schema)
    assert not store.exists(ACCOUNTS, DAY)


def test_spooled_rows_already_in_the_partition_are_kept_as_stored_and_only_new_keys_added(
    tmp_path, store
):
    store.write(ACCOUNTS, DAY, accounts("A-1", "A-2", title="stored"))
    spool = Spool(tmp_path / "spool")
    spool.append(ACCOUNTS, accounts("A-2", "B-1", "B-2", title="spooled"))

    new, present, written = merge_spooled(store, ACCOUNTS, DAY, spool.close(ACCOUNTS))

    assert (new, present) == (2, 1)
    assert written > 0
    stored = store.read(ACCOUNTS, [DAY]).set_index(["application_id", "account_id"])
    assert sorted(keys_of(stored.reset_index())) == ["A-1", "A-2", "B-1", "B-2"]
    assert stored.loc[("A", "2"), "title"] == "stored"
    assert stored.loc[("B", "1"), "title"] == "spooled"
    assert str(stored["fetched_at"].dtype) == "datetime64[us, UTC]"


def test_a_spool_with_nothing_new_leaves_the_partition_file_untouched(tmp_path, store):
    store.write(ACCOUNTS, DAY, accounts("A-1", "A-2"))
    stamp = store.file_stamp(ACCOUNTS, DAY)
    spool = Spool(tmp_path / "spool")
    spool.append(ACCOUNTS, accounts("A-2"))

    assert merge_spooled(store, ACCOUNTS, DAY, spool.close(ACCOUNTS)) == (0, 1, 0)
    assert store.file_stamp(ACCOUNTS, DAY) == stamp


def bronze_rows(count: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "response_id": [f"r{i:03}" for i in range(count)],
            "application_id": [f"APP-{i:03}" for i in range(count)],
            "partition_date": DAY,
            "fetched_at": datetime(2026, 10, 5, tzinfo=UTC),
            "ok": True,
            "payload": [f'{{"Accounts": [], "n": {i}}}' for i in range(count)],
        }
    )
    for column in BRONZE.schema.names:
        if column not in frame:
            frame[column] = None
    return frame


def test_bronze_is_written_in_small_row_groups_and_responses_are_selected_across_them(store):
    store.write(BRONZE, DAY, bronze_rows(150))
    with store.partition_file(BRONZE, DAY).open("rb") as handle:
        metadata = pq.ParquetFile(handle).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [64, 64, 22]

    chosen = store.read_selected(BRONZE, [DAY, NEXT], "response_id", {"r001", "r100", "r149"})

    assert list(chosen["response_id"]) == ["r001", "r100", "r149"]
    assert list(chosen["payload"]) == [f'{{"Accounts": [], "n": {i}}}' for i in (1, 100, 149)]
    assert isinstance(chosen["payload"].dtype, pd.ArrowDtype)  # payloads stay in Arrow
    assert store.read_selected(BRONZE, [DAY], "response_id", set()).empty


def test_row_groups_without_a_selected_response_are_not_read_beyond_the_ids(store, monkeypatch):
    store.write(BRONZE, DAY, bronze_rows(150))
    read_whole: list[list[int]] = []
    iter_batches = pq.ParquetFile.iter_batches

    def recording(self, *args, row_groups=None, **kwargs):
        read_whole.append(list(row_groups or []))
        return iter_batches(self, *args, row_groups=row_groups, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", recording)

    chosen = store.read_selected(BRONZE, [DAY], "response_id", {"r100", "r101"})
    nothing = store.read_selected(BRONZE, [DAY], "response_id", set())

    assert list(chosen["response_id"]) == ["r100", "r101"]
    assert read_whole == [[1]]  # the second group of 64 only
    assert nothing.empty
