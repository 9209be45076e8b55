"""Idempotent producers (KIP-98): retries are not duplicated, gaps and fenced epochs refused."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kstream_nb.clock import ManualClock
from kstream_nb.log import (
    BatchBuilder,
    InvalidProducerEpochError,
    LogConfig,
    OutOfOrderSequenceError,
    PartitionLog,
    UnknownProducerIdError,
)
from tests.log.conftest import MakeLog
from tests.log.util import START_MS, values


def idempotent(values_: list[bytes], pid: int = 7, epoch: int = 0, seq: int = 0) -> bytes:
    builder = BatchBuilder(producer_id=pid, producer_epoch=epoch, base_sequence=seq)
    for v in values_:
        builder.append(b"k", v, START_MS)
    return builder.build()


def test_a_retried_batch_is_answered_with_its_first_offsets_and_not_written(
    make_log: MakeLog,
) -> None:
    log = make_log()
    first = log.append_as_leader(idempotent([b"a", b"b"]))
    log.append_as_leader(idempotent([b"c"], seq=2))
    retry = log.append_as_leader(idempotent([b"a", b"b"]))
    assert retry.duplicate
    assert (retry.first_offset, retry.last_offset) == (first.first_offset, first.last_offset)
    assert [v for _, _, v in values(log)] == [b"a", b"b", b"c"]


def test_gaps_old_epochs_and_unknown_producers_are_refused(make_log: MakeLog) -> None:
    log = make_log()
    log.append_as_leader(idempotent([b"a"], epoch=1))
    with pytest.raises(OutOfOrderSequenceError) as gap:
        log.append_as_leader(idempotent([b"c"], epoch=1, seq=2))
    assert gap.value.name == "OUT_OF_ORDER_SEQUENCE_NUMBER"
    with pytest.raises(InvalidProducerEpochError) as fenced:
        log.append_as_leader(idempotent([b"old"], epoch=0, seq=1))
    assert fenced.value.name == "INVALID_PRODUCER_EPOCH"
    with pytest.raises(OutOfOrderSequenceError):
        log.append_as_leader(idempotent([b"x"], epoch=2, seq=5))  # a new epoch starts at 0
    log.append_as_leader(idempotent([b"new"], epoch=2, seq=0))
    with pytest.raises(UnknownProducerIdError) as unknown:
        log.append_as_leader(idempotent([b"?"], pid=99, seq=3))
    assert unknown.value.name == "UNKNOWN_PRODUCER_ID"
    assert [v for _, _, v in values(log)] == [b"a", b"new"]


def test_producer_state_survives_reopening_and_replication(
    make_log: MakeLog, tmp_path: Path
) -> None:
    leader = make_log("t-0")
    leader.append_as_leader(idempotent([b"a", b"b"]))
    follower = make_log("t-1")
    follower.append_as_follower(leader.read(0, 1 << 20))
    assert follower.append_as_leader(idempotent([b"a", b"b"])).duplicate  # it can take over
    leader.close()
    reopened = PartitionLog(tmp_path / "t-0", LogConfig(), ManualClock(START_MS))
    assert reopened.append_as_leader(idempotent([b"a", b"b"])).duplicate
    assert reopened.append_as_leader(idempotent([b"c"], seq=2)).first_offset == 2
    reopened.close()


@settings(max_examples=50, deadline=None)
@given(batches=st.integers(1, 30), seed=st.integers(0, 10_000))
def test_retries_of_any_recent_batch_leave_no_duplicate_and_keep_order(
    tmp_path_factory: pytest.TempPathFactory, batches: int, seed: int
) -> None:
    rng = random.Random(seed)
    log = PartitionLog(tmp_path_factory.mktemp("p") / "t-0", LogConfig(), ManualClock(START_MS))
    sent: list[tuple[int, list[bytes]]] = []
    seq = 0
    for i in range(batches):
        rows = [b"%d-%d" % (i, j) for j in range(rng.randint(1, 4))]
        log.append_as_leader(idempotent(rows, seq=seq))
        sent.append((seq, rows))
        seq += len(rows)
        # A producer retries batches whose answer it lost: any of the last five in flight.
        for retry_seq, retry_rows in rng.sample(sent[-5:], k=rng.randint(0, min(3, len(sent)))):
            assert log.append_as_leader(idempotent(retry_rows, seq=retry_seq)).duplicate
    assert [v for _, _, v in values(log)] == [v for _, rows in sent for v in rows]
    log.close()
