"""Message and TopicPartition behave as confluent-kafka's."""

from __future__ import annotations

import pickle
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kstream_nb.client as client
from kstream_nb.client import KafkaError, Message, TopicPartition


@pytest.fixture(scope="module")
def ck() -> ModuleType:
    module: ModuleType = pytest.importorskip("confluent_kafka")
    return module


def test_constants_match_confluent(ck: ModuleType) -> None:
    for name in (
        "OFFSET_BEGINNING",
        "OFFSET_END",
        "OFFSET_STORED",
        "OFFSET_INVALID",
        "TIMESTAMP_NOT_AVAILABLE",
        "TIMESTAMP_CREATE_TIME",
        "TIMESTAMP_LOG_APPEND_TIME",
    ):
        assert getattr(client, name) == getattr(ck, name), name


def accessors(msg: Any) -> tuple[Any, ...]:
    return (
        msg.topic(),
        msg.partition(),
        msg.offset(),
        msg.key(),
        msg.value(),
        msg.headers(),
        msg.timestamp(),
        msg.latency(),
        msg.leader_epoch(),
        msg.delivery_count(),
        len(msg),
    )


MESSAGE_CASES: list[dict[str, Any]] = [
    {},
    {
        "topic": "t",
        "partition": 1,
        "offset": 5,
        "key": b"k",
        "value": b"vv",
        "headers": [("h", b"1"), ("h", None)],
        "timestamp": (1, 123),
        "latency": 0.5,
        "leader_epoch": 3,
        "delivery_count": 2,
    },
    {"topic": "t", "value": "str value", "key": "sk", "headers": {"a": b"b"}},
    {"partition": -1, "offset": -1001, "leader_epoch": -1, "latency": -0.5},
    {"partition": -5, "offset": -1, "timestamp": (2, 2**40)},
    {"offset": 0, "latency": 0, "value": b""},
]


@pytest.mark.parametrize("kwargs", MESSAGE_CASES)
def test_message_accessors_match_confluent(ck: ModuleType, kwargs: dict[str, Any]) -> None:
    assert accessors(Message(**kwargs)) == accessors(ck.Message(**kwargs))


def test_message_error_and_setters(ck: ModuleType) -> None:
    ours, theirs = Message(), ck.Message()
    for msg, err in ((ours, KafkaError(3)), (theirs, ck.KafkaError(3))):
        msg.set_key(b"a")
        msg.set_value(b"bcd")
        msg.set_headers([("x", b"y")])
        msg.set_topic("orders")
        msg.set_error(err)
    assert accessors(ours) == accessors(theirs)
    assert repr(ours.error()) == repr(theirs.error())
    assert ours.deserialized_key() == b"a"
    assert ours.deserialized_value() == b"bcd"


def test_message_rejects_what_confluent_rejects() -> None:
    with pytest.raises(TypeError, match=r"timestamp must be a tuple of \(int, int\)"):
        Message(timestamp=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"timestamp must be a tuple of \(int, int\)"):
        Message(timestamp=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Message(partition="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="has no len"):
        len(Message(value=123))  # type: ignore[arg-type]


def test_message_equality_is_confluents(ck: ModuleType) -> None:
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"topic": "a"}, {"topic": "b"}),
        ({"topic": "a", "offset": 2, "key": b"k"}, {"topic": "a", "offset": 2, "key": b"k"}),
        ({"value": b"v"}, {"value": b"w"}),
        ({"headers": [("a", b"")]}, {}),
        ({"timestamp": (1, 5)}, {}),
        ({"latency": 2.0}, {"latency": 3.0}),
        ({"leader_epoch": 1}, {}),
        ({"delivery_count": 2}, {"delivery_count": 3}),
    ]
    for left, right in pairs:
        assert (Message(**left) == Message(**right)) == (ck.Message(**left) == ck.Message(**right))
    assert Message(error=KafkaError(3)) == Message(error=KafkaError(3, "other"))
    assert Message() != None  # noqa: E711 - the comparison under test
    with pytest.raises(TypeError, match="unhashable"):
        hash(Message())


def test_message_create_normalises_unknown_values() -> None:
    msg = Message._create("t", 0, 7, b"k", b"v", None, None, (1, 10), 0.25, -1)
    assert msg.leader_epoch() is None
    assert (msg.topic(), msg.partition(), msg.offset(), msg.timestamp()) == ("t", 0, 7, (1, 10))
    assert "orders" in repr(Message(topic="orders", value=b"x" * 200))


def test_topic_partition_defaults_and_repr(ck: ModuleType) -> None:
    cases: list[tuple[Any, ...]] = [
        ("t",),
        ("t", 1),
        ("t", 1, 5, "meta", 3),
        ("t", 1, -2),
        ("t", 1, -1001, "m"),
        ("", 0),
        ("t", -5, -5),
        ("t", 1, 2**63 - 1),
    ]
    for args in cases:
        ours, theirs = TopicPartition(*args), ck.TopicPartition(*args)
        assert repr(ours) == repr(theirs)
        assert str(ours) == str(theirs)
        assert (ours.topic, ours.partition, ours.offset, ours.metadata, ours.leader_epoch) == (
            theirs.topic,
            theirs.partition,
            theirs.offset,
            theirs.metadata,
            theirs.leader_epoch,
        )
        assert ours.error is None
    assert TopicPartition("t", 1, leader_epoch=-1).leader_epoch is None
    assert repr(TopicPartition("t", 1, leader_epoch=5)) == repr(
        ck.TopicPartition("t", 1, leader_epoch=5)
    )


def test_topic_partition_with_error_shows_it() -> None:
    tp = TopicPartition._make("t", 2, 10, None, 4, KafkaError(KafkaError.OFFSET_OUT_OF_RANGE))
    assert tp.error == KafkaError.OFFSET_OUT_OF_RANGE
    assert repr(tp) == (
        "TopicPartition{topic=t,partition=2,offset=10,leader_epoch=4,error="
        'KafkaError{code=OFFSET_OUT_OF_RANGE,val=1,str="Broker: Offset out of range"}}'
    )


TOPICS = st.text(alphabet="abé._-\u4e2d", max_size=4)
PARTITIONS = st.integers(min_value=-1, max_value=50)


@given(a=st.tuples(TOPICS, PARTITIONS, st.integers(-2, 9)), b=st.tuples(TOPICS, PARTITIONS))
def test_topic_partition_compares_and_hashes_like_confluent(
    a: tuple[str, int, int], b: tuple[str, int]
) -> None:
    ck = pytest.importorskip("confluent_kafka")
    ours_a, ours_b = TopicPartition(*a), TopicPartition(*b)
    theirs_a, theirs_b = ck.TopicPartition(*a), ck.TopicPartition(*b)
    assert (ours_a == ours_b) == (theirs_a == theirs_b)
    assert (ours_a != ours_b) == (theirs_a != theirs_b)
    assert (ours_a < ours_b) == (theirs_a < theirs_b)
    assert (ours_a <= ours_b) == (theirs_a <= theirs_b)
    assert (ours_a > ours_b) == (theirs_a > theirs_b)
    assert (ours_a >= ours_b) == (theirs_a >= theirs_b)
    if hash(a[0]) ^ a[1] != -1:  # confluent-kafka's C hash fails with SystemError on -1
        assert hash(ours_a) == hash(theirs_a)


def test_topic_partition_in_sets_and_sorted() -> None:
    tps = [TopicPartition("b", 0), TopicPartition("a", 2), TopicPartition("a", 1, 99)]
    assert [(tp.topic, tp.partition) for tp in sorted(tps)] == [("a", 1), ("a", 2), ("b", 0)]
    assert TopicPartition("a", 1) in set(tps)
    assert TopicPartition("a", 1) != ("a", 1)


def test_topic_partition_writable_and_read_only_attributes() -> None:
    tp = TopicPartition("t", 1)
    tp.offset = 10
    tp.partition = 3
    assert (tp.partition, tp.offset) == (3, 10)
    for name, value in [("topic", "u"), ("metadata", "x"), ("leader_epoch", 7), ("error", None)]:
        with pytest.raises(AttributeError):
            setattr(tp, name, value)
    with pytest.raises(AttributeError):
        tp.foo = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        tp.offset = "x"  # type: ignore[assignment]
    with pytest.raises(OverflowError):
        tp.offset = 2**64
    with pytest.raises(OverflowError):
        tp.partition = 2**31


def test_topic_partition_rejects_what_confluent_rejects() -> None:
    with pytest.raises(TypeError, match="argument 1 must be str, not NoneType"):
        TopicPartition(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argument 1 must be str, not int"):
        TopicPartition(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        TopicPartition("t", 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argument 4 must be str, not bytes"):
        TopicPartition("t", 1, 5, b"m")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        TopicPartition("t", 2**33)
    with pytest.raises(ValueError, match="embedded null character"):
        TopicPartition("t\x00x")


def test_topic_partition_pickles() -> None:
    tp = TopicPartition._make("t", 1, 5, "m", 3, KafkaError(3))
    back = pickle.loads(pickle.dumps(tp))
    assert repr(back) == repr(tp)
    assert back.metadata == "m"
