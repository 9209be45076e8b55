"""Joins against the example of the Kafka Streams join semantics page (Apache Kafka wiki):
two inputs with one key, in timestamp order, `null` being a tombstone for a table and an
ignored record for a stream.

    STREAM_1: 1:null, 3:A, 5:B, 7:null, 9:C, 12:null, 15:D
    STREAM_2: 2:null, 4:a, 6:b, 8:null, 10:c, 11:null, 13:null, 14:d
"""

from __future__ import annotations

from typing import Any

import pytest

from kstream_nb.streams import JoinWindows, Serdes, StreamsBuilder, TopologyTestDriver

LEFT = [(1, None), (3, "A"), (5, "B"), (7, None), (9, "C"), (12, None), (15, "D")]
RIGHT = [(2, None), (4, "a"), (6, "b"), (8, None), (10, "c"), (11, None), (13, None), (14, "d")]
CONFIG = {"default.key.serde": Serdes.String(), "default.value.serde": Serdes.String()}


def run(builder: StreamsBuilder) -> list[tuple[int, Any]]:
    """Pipe both inputs in timestamp order; (timestamp, value) of every joined record."""
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        inputs = {
            "left": driver.create_input_topic("left", Serdes.String(), Serdes.String()),
            "right": driver.create_input_topic("right", Serdes.String(), Serdes.String()),
        }
        events = [(ts, "left", v) for ts, v in LEFT] + [(ts, "right", v) for ts, v in RIGHT]
        for ts, side, value in sorted(events):
            inputs[side].pipe_input("k", value, timestamp=ts)
        out = driver.create_output_topic("out", Serdes.String(), Serdes.String())
        return [(ts, v) for _, v, ts in out.read_records_to_list()]


def joiner(left: Any, right: Any) -> str:
    return f"{left if left is not None else 'null'}-{right if right is not None else 'null'}"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "join",
            [(4, "A-a"), (5, "B-a"), (6, "B-b"), (7, None), (10, "C-c"), (11, None), (15, "D-d")],
        ),
        (
            "left_join",
            [
                (3, "A-null"),
                (4, "A-a"),
                (5, "B-a"),
                (6, "B-b"),
                (7, None),
                (9, "C-null"),
                (10, "C-c"),
                (11, "C-null"),
                (12, None),
                (15, "D-d"),
            ],
        ),
        (
            "outer_join",
            [
                (3, "A-null"),
                (4, "A-a"),
                (5, "B-a"),
                (6, "B-b"),
                (7, "null-b"),
                (8, None),
                (9, "C-null"),
                (10, "C-c"),
                (11, "C-null"),
                (12, None),
                (14, "null-d"),
                (15, "D-d"),
            ],
        ),
    ],
)
def test_table_table_joins(kind: str, expected: list[tuple[int, Any]]) -> None:
    builder = StreamsBuilder()
    left, right = builder.table("left"), builder.table("right")
    getattr(left, kind)(right, joiner).to_stream().to("out")
    assert run(builder) == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("join", [(5, "B-a"), (15, "D-d")]),
        ("left_join", [(3, "A-null"), (5, "B-a"), (9, "C-null"), (15, "D-d")]),
    ],
)
def test_stream_table_joins(kind: str, expected: list[tuple[int, Any]]) -> None:
    builder = StreamsBuilder()
    table = builder.table("right")
    getattr(builder.stream("left"), kind)(table, joiner).to("out")
    assert run(builder) == expected


def test_stream_stream_inner_join_within_one_window() -> None:
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    left.join(right, joiner, JoinWindows.of_time_difference_with_no_grace(15)).to("out")
    assert run(builder) == [
        (4, "A-a"),
        (5, "B-a"),
        (6, "A-b"),
        (6, "B-b"),
        (9, "C-a"),
        (9, "C-b"),
        (10, "A-c"),
        (10, "B-c"),
        (10, "C-c"),
        (14, "A-d"),
        (14, "B-d"),
        (14, "C-d"),
        (15, "D-a"),
        (15, "D-b"),
        (15, "D-c"),
        (15, "D-d"),
    ]
