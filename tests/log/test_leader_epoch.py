"""The leader-epoch cache answers OffsetsForLeaderEpoch so followers truncate divergent tails."""

from __future__ import annotations

from pathlib import Path

from kstream_nb.clock import ManualClock
from kstream_nb.log import UNDEFINED_EPOCH, UNDEFINED_OFFSET, LeaderEpochCache, PartitionLog
from tests.log.conftest import MakeLog
from tests.log.util import START_MS, batch


def test_epochs_start_where_their_first_batch_starts(make_log: MakeLog) -> None:
    log = make_log()
    log.append_as_leader(batch([(b"k", b"a")] * 3), leader_epoch=0)
    log.append_as_leader(batch([(b"k", b"b")] * 2), leader_epoch=0)
    log.append_as_leader(batch([(b"k", b"c")]), leader_epoch=2)
    assert log.leader_epochs.entries == ((0, 0), (2, 5))
    assert log.end_offset_for_epoch(0) == (0, 5)
    assert log.end_offset_for_epoch(1) == (0, 5)  # epoch 1 wrote nothing: epoch 0's end
    assert log.end_offset_for_epoch(2) == (2, 6)  # the latest epoch ends at the log end
    assert log.end_offset_for_epoch(9) == (2, 6)


def test_kip_101_a_divergent_follower_truncates_to_the_leaders_epoch_end(
    make_log: MakeLog,
) -> None:
    """The follower wrote offsets 3-4 in epoch 1 that the new leader (epoch 2) never had."""
    old, new = make_log("t-0"), make_log("t-1")
    for log in (old, new):
        log.append_as_leader(batch([(b"k", b"x")] * 3), leader_epoch=1)
    old.append_as_leader(batch([(b"k", b"lost")] * 2), leader_epoch=1)
    new.append_as_leader(batch([(b"k", b"won")] * 4), leader_epoch=2)

    epoch, end = new.end_offset_for_epoch(old.leader_epochs.latest_epoch)
    assert (epoch, end) == (1, 3)
    old.truncate_to(min(end, old.log_end_offset))
    old.append_as_follower(new.read(3, 1 << 20))
    assert [r.value for r in old.records()] == [r.value for r in new.records()]
    assert old.leader_epochs.entries == new.leader_epochs.entries == ((1, 0), (2, 3))


def test_cache_persists_and_follows_truncation_and_log_start(
    make_log: MakeLog, tmp_path: Path
) -> None:
    log = make_log()
    for epoch in range(4):
        log.append_as_leader(batch([(b"k", b"v")] * 2), leader_epoch=epoch)
    log.truncate_to(6)  # removes epoch 3's batch (offsets 6-7)
    assert log.leader_epochs.entries == ((0, 0), (1, 2), (2, 4))
    log.update_high_watermark(6)
    log.increment_log_start_offset(3)
    assert log.leader_epochs.entries == ((1, 3), (2, 4))
    log.close()
    reopened = PartitionLog(tmp_path / "orders-0", log.config, ManualClock(START_MS))
    assert reopened.leader_epochs.entries == ((1, 3), (2, 4))
    assert reopened.end_offset_for_epoch(0) == (UNDEFINED_EPOCH, UNDEFINED_OFFSET)
    reopened.close()


def test_a_damaged_checkpoint_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "leader-epoch-checkpoint").write_text("0\n2\n5 10\n3 20\n")  # epochs go down
    assert LeaderEpochCache(tmp_path).entries == ()
    (tmp_path / "leader-epoch-checkpoint").write_text("garbage")
    assert LeaderEpochCache(tmp_path).entries == ()


def test_epoch_of_an_offset(make_log: MakeLog) -> None:
    log = make_log()
    log.append_as_leader(batch([(b"k", b"v")] * 2), leader_epoch=3)
    log.append_as_leader(batch([(b"k", b"v")] * 2), leader_epoch=5)
    assert [log.leader_epochs.epoch_of(o) for o in range(4)] == [3, 3, 5, 5]
    assert log.leader_epochs.epoch_of(-1) == UNDEFINED_EPOCH
