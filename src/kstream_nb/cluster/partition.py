"""A partition replica on a broker: leader or follower, ISR, high watermark (Kafka's Partition).

The leader tracks each follower's log end offset from its fetches, advances the high watermark
to the smallest log end offset in the ISR, and decides when a follower has fallen out of sync
(`replica.lag.time.max.ms`) or caught up again; the controller commits ISR changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from kstream_nb.cluster.messages import FetchRequest, FetchResponse
from kstream_nb.cluster.metadata import NO_LEADER, PartitionRecord
from kstream_nb.errors import ErrorCode
from kstream_nb.log import UNDEFINED_EPOCH, PartitionLog

__all__ = ["FollowerState", "Partition"]


@dataclass(slots=True)
class FollowerState:
    """What the leader knows of one follower, from its fetches."""

    log_end_offset: int = -1
    last_caught_up_ms: int = 0
    last_fetch_ms: int = 0
    leader_end_at_last_fetch: int = 0


class Partition:
    """A replica of one partition held by one broker."""

    def __init__(
        self, broker_id: int, log: PartitionLog, state: PartitionRecord, now_ms: int
    ) -> None:
        self.broker_id = broker_id
        self.log = log
        self.topic = state.topic
        self.partition = state.partition
        self.state = PartitionRecord(state.topic, state.partition, (), (), -1, -1, -1)
        self.followers: dict[int, FollowerState] = {}
        self.pending_isr: tuple[int, ...] | None = None  # an AlterPartition in flight
        self.update_state(state, now_ms)

    @property
    def is_leader(self) -> bool:
        return self.state.leader == self.broker_id

    @property
    def leader_epoch(self) -> int:
        return self.state.leader_epoch

    @property
    def isr(self) -> tuple[int, ...]:
        return self.state.isr

    @property
    def maximal_isr(self) -> set[int]:
        """The committed ISR plus members being added (KIP-497: used for the high watermark)."""
        isr = set(self.state.isr)
        if self.pending_isr is not None:
            isr |= set(self.pending_isr)
        return isr

    def update_state(self, state: PartitionRecord, now_ms: int) -> bool:
        """Apply the controller's latest record; True when this replica became leader."""
        became_leader = state.leader == self.broker_id and (
            self.state.leader != self.broker_id or state.leader_epoch != self.state.leader_epoch
        )
        self.state = state
        self.pending_isr = None
        if became_leader:
            # Followers in the ISR start caught up; the others must prove it (Kafka does this).
            self.followers = {
                r: FollowerState(last_caught_up_ms=now_ms if r in state.isr else 0)
                for r in state.replicas
                if r != self.broker_id
            }
        elif state.leader != self.broker_id:
            self.followers = {}
        return became_leader

    # -- leader side ---------------------------------------------------------------------

    def maybe_advance_high_watermark(self) -> bool:
        """Move the high watermark to the smallest log end offset in the ISR; never back."""
        if not self.is_leader:
            return False
        ends = [self.log.log_end_offset]
        for replica in self.maximal_isr:
            if replica == self.broker_id:
                continue
            follower = self.followers.get(replica)
            ends.append(follower.log_end_offset if follower is not None else -1)
        candidate = min(ends)
        if candidate > self.log.high_watermark:
            self.log.update_high_watermark(candidate)
            return True
        return False

    def handle_fetch(self, req: FetchRequest, now_ms: int) -> tuple[FetchResponse, bool]:
        """Serve a follower's fetch; returns the response and whether it can join the ISR."""

        def error(code: ErrorCode) -> tuple[FetchResponse, bool]:
            return FetchResponse(req.request_id, self.topic, self.partition, code), False

        if not self.is_leader:
            return error(ErrorCode.NOT_LEADER_OR_FOLLOWER)
        if req.current_leader_epoch < self.leader_epoch:
            return error(ErrorCode.FENCED_LEADER_EPOCH)
        if req.current_leader_epoch > self.leader_epoch:
            return error(ErrorCode.UNKNOWN_LEADER_EPOCH)
        follower = self.followers.get(req.replica_id)
        if follower is None:
            return error(ErrorCode.NOT_LEADER_OR_FOLLOWER)
        log = self.log
        if req.last_fetched_epoch != UNDEFINED_EPOCH:
            epoch, end = log.end_offset_for_epoch(req.last_fetched_epoch)
            if epoch < req.last_fetched_epoch or end < req.fetch_offset:
                response = FetchResponse(
                    req.request_id,
                    self.topic,
                    self.partition,
                    ErrorCode.NONE,
                    high_watermark=log.high_watermark,
                    log_start_offset=log.log_start_offset,
                    diverging_epoch=epoch,
                    diverging_end_offset=end,
                )
                return response, False
        if req.fetch_offset > log.log_end_offset or req.fetch_offset < log.log_start_offset:
            response = FetchResponse(
                req.request_id,
                self.topic,
                self.partition,
                ErrorCode.OFFSET_OUT_OF_RANGE,
                high_watermark=log.high_watermark,
                log_start_offset=log.log_start_offset,
                diverging_end_offset=log.log_end_offset,
            )
            return response, False
        leader_end = log.log_end_offset
        if req.fetch_offset >= leader_end:
            follower.last_caught_up_ms = now_ms
        elif req.fetch_offset >= follower.leader_end_at_last_fetch:
            follower.last_caught_up_ms = follower.last_fetch_ms
        follower.log_end_offset = req.fetch_offset
        follower.last_fetch_ms = now_ms
        follower.leader_end_at_last_fetch = leader_end
        epoch_start = log.end_offset_for_epoch(self.leader_epoch - 1)[1]
        can_join = (
            req.replica_id not in self.maximal_isr
            and req.fetch_offset >= log.high_watermark
            and req.fetch_offset >= max(epoch_start, 0)
        )
        self.maybe_advance_high_watermark()
        records = log.read(req.fetch_offset, req.max_bytes)
        response = FetchResponse(
            req.request_id,
            self.topic,
            self.partition,
            ErrorCode.NONE,
            records,
            high_watermark=log.high_watermark,
            log_start_offset=log.log_start_offset,
        )
        return response, can_join

    def out_of_sync(self, now_ms: int, lag_ms: int) -> set[int]:
        """ISR followers that have not caught up within `replica.lag.time.max.ms`.

        As in Kafka, a follower whose last known log end equals the leader's is caught up however
        long ago it fetched: on an idle partition a silent follower stays in the ISR until the
        controller fences its broker.
        """
        if not self.is_leader:
            return set()
        leader_end = self.log.log_end_offset
        out = set()
        for r in self.state.isr:
            follower = self.followers.get(r, FollowerState())
            if (
                r != self.broker_id
                and follower.log_end_offset != leader_end
                and now_ms - follower.last_caught_up_ms > lag_ms
            ):
                out.add(r)
        return out

    def describe_replica(self) -> dict[str, int]:
        return {
            "log_start_offset": self.log.log_start_offset,
            "high_watermark": self.log.high_watermark,
            "log_end_offset": self.log.log_end_offset,
        }

    @property
    def leader(self) -> int:
        return self.state.leader if self.state.leader != NO_LEADER else NO_LEADER
