"""The leader-epoch cache: where each leader epoch's records start in this replica's log.

Kafka keeps it in `leader-epoch-checkpoint` beside the segments (a version line, a count, then
`epoch start_offset` lines). A follower asks its leader for the end offset of its own latest
epoch (OffsetsForLeaderEpoch, KIP-101/KIP-279) and truncates a divergent tail to it.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

__all__ = ["UNDEFINED_EPOCH", "UNDEFINED_OFFSET", "EpochEntry", "LeaderEpochCache"]

UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1
CHECKPOINT_FILE = "leader-epoch-checkpoint"

EpochEntry = tuple[int, int]  # (epoch, start offset)


class LeaderEpochCache:
    """Sorted (epoch, start offset) entries, persisted on every change."""

    __slots__ = ("_entries", "path")

    def __init__(self, directory: Path) -> None:
        self.path = directory / CHECKPOINT_FILE
        self._entries: list[EpochEntry] = self._load()

    def _load(self) -> list[EpochEntry]:
        try:
            lines = self.path.read_text().split("\n")
        except FileNotFoundError:
            return []
        try:
            if lines[0] != "0":
                return []
            count = int(lines[1])
            entries = [
                (int(e), int(o)) for e, o in (line.split(" ") for line in lines[2 : 2 + count])
            ]
        except (IndexError, ValueError):
            return []  # a damaged checkpoint: followers re-learn epochs from the leader's batches
        ordered = all(a[0] < b[0] and a[1] <= b[1] for a, b in itertools.pairwise(entries))
        return entries if ordered else []

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        body = f"0\n{len(self._entries)}\n" + "".join(f"{e} {o}\n" for e, o in self._entries)
        with open(tmp, "w") as fh:
            fh.write(body)
        os.replace(tmp, self.path)

    @property
    def entries(self) -> tuple[EpochEntry, ...]:
        return tuple(self._entries)

    @property
    def latest_epoch(self) -> int:
        return self._entries[-1][0] if self._entries else UNDEFINED_EPOCH

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that `epoch` starts at `start_offset`; an epoch already known is kept."""
        if epoch < 0:
            return
        if self._entries and epoch <= self._entries[-1][0]:
            return
        while self._entries and self._entries[-1][1] > start_offset:
            self._entries.pop()
        self._entries.append((epoch, start_offset))
        self._save()

    def end_offset_for(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """(largest epoch <= `epoch`, the offset where it ended), as OffsetsForLeaderEpoch answers.

        The latest epoch ends at the log end offset; an epoch older than every entry is
        (UNDEFINED_EPOCH, UNDEFINED_OFFSET).
        """
        if not self._entries or epoch < self._entries[0][0]:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        if epoch >= self._entries[-1][0]:
            return self._entries[-1][0], log_end_offset
        for i, (entry_epoch, _) in enumerate(self._entries):
            if entry_epoch > epoch:
                return self._entries[i - 1][0], self._entries[i][1]
        raise AssertionError("unreachable: epoch is below the latest entry")

    def epoch_of(self, offset: int) -> int:
        """The leader epoch that wrote `offset` (UNDEFINED_EPOCH before the first entry)."""
        epoch = UNDEFINED_EPOCH
        for entry_epoch, start in self._entries:
            if start > offset:
                break
            epoch = entry_epoch
        return epoch

    def truncate_from_end(self, end_offset: int) -> None:
        """Forget epochs that start at or after `end_offset` (the log was truncated there)."""
        before = len(self._entries)
        while self._entries and self._entries[-1][1] >= end_offset:
            self._entries.pop()
        if len(self._entries) != before:
            self._save()

    def truncate_from_start(self, start_offset: int) -> None:
        """Drop epochs wholly below the new log start; the earliest kept starts at it."""
        changed = False
        while len(self._entries) > 1 and self._entries[1][1] <= start_offset:
            self._entries.pop(0)
            changed = True
        if self._entries and self._entries[0][1] < start_offset:
            self._entries[0] = (self._entries[0][0], start_offset)
            changed = True
        if changed:
            self._save()

    def clear(self) -> None:
        self._entries = []
        self._save()
