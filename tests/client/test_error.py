"""KafkaError and KafkaException behave as confluent-kafka's, constant for constant."""

from __future__ import annotations

import pickle
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kstream_nb.client import KafkaError, KafkaException, from_api_error, from_error_code
from kstream_nb.errors import RETRIABLE, ErrorCode, KafkaApiError

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


@pytest.fixture(scope="module")
def ck() -> ModuleType:
    module: ModuleType = pytest.importorskip("confluent_kafka")
    return module


def constants(cls: type) -> dict[str, int]:
    """The error constants of a KafkaError class: upper-case (or _UPPER) int attributes."""
    return {
        name: value
        for name in dir(cls)
        if not name.startswith("__")
        and name.lstrip("_").isupper()
        and isinstance(value := getattr(cls, name), int)
    }


def test_every_confluent_constant_exists_with_the_same_value(ck: ModuleType) -> None:
    theirs = constants(ck.KafkaError)
    ours = constants(KafkaError)
    assert len(theirs) > 180
    assert {name: ours.get(name) for name in theirs} == theirs
    assert ours == theirs  # and nothing they lack


def test_names_and_descriptions_are_librdkafkas(ck: ModuleType) -> None:
    for code in [*constants(ck.KafkaError).values(), 99999, -500, 98, -136, -200]:
        theirs, ours = ck.KafkaError(code), KafkaError(code)
        assert (ours.name(), ours.str(), repr(ours), str(ours)) == (
            theirs.name(),
            theirs.str(),
            repr(theirs),
            str(theirs),
        )


@given(code=INT32, reason=st.none() | st.text(), fatal=st.booleans(), retriable=st.booleans())
def test_repr_and_accessors_match_confluent(
    code: int, reason: str | None, fatal: bool, retriable: bool
) -> None:
    ck = pytest.importorskip("confluent_kafka")
    if reason is not None and "\x00" in reason:
        reason = reason.replace("\x00", "")  # C strings end at NUL
    theirs = ck.KafkaError(code, reason, fatal, retriable, not fatal)
    ours = KafkaError(code, reason, fatal, retriable, not fatal)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert ours.code() == theirs.code()
    assert ours.str() == theirs.str()
    assert (ours.fatal(), ours.retriable(), ours.txn_requires_abort()) == (
        theirs.fatal(),
        theirs.retriable(),
        theirs.txn_requires_abort(),
    )
    if code != -1:
        # confluent-kafka's C hash returns the code itself; -1 is CPython's error signal, so
        # hash(confluent_kafka.KafkaError(-1)) raises SystemError. Ours hashes like int(-1).
        assert hash(ours) == hash(theirs)


def test_keyword_arguments_are_confluents(ck: ModuleType) -> None:
    kwargs: dict[str, Any] = {
        "error": 3,
        "reason": "r",
        "fatal": True,
        "retriable": True,
        "txn_requires_abort": True,
    }
    assert repr(KafkaError(**kwargs)) == repr(ck.KafkaError(**kwargs))


@given(a=INT32, b=INT32)
def test_compares_with_ints_and_errors_like_confluent(a: int, b: int) -> None:
    ck = pytest.importorskip("confluent_kafka")
    ours, theirs = KafkaError(a), ck.KafkaError(a)
    others: list[tuple[int | KafkaError, Any]] = [(b, b), (KafkaError(b), ck.KafkaError(b))]
    for other_ours, other_theirs in others:
        assert (ours == other_ours) == (theirs == other_theirs)
        assert (ours != other_ours) == (theirs != other_theirs)
        assert (ours < other_ours) == (theirs < other_theirs)
        assert (ours <= other_ours) == (theirs <= other_theirs)
        assert (ours > other_ours) == (theirs > other_theirs)
        assert (ours >= other_ours) == (theirs >= other_theirs)


def test_equality_with_codes_works_as_users_write_it() -> None:
    err = KafkaError(KafkaError._PARTITION_EOF)
    assert err == KafkaError._PARTITION_EOF
    assert err.code() == -191
    assert KafkaError._PARTITION_EOF == err  # noqa: SIM300 - int on the left, as users write it
    assert err == KafkaError(-191, "other reason")
    by_error: dict[object, str] = {err: "eof"}
    assert by_error[-191] == "eof"
    assert hash(KafkaError(-1)) == hash(-1)
    assert sorted([KafkaError(5), KafkaError(3), KafkaError(-191)]) == [-191, 3, 5]
    assert bool(KafkaError(KafkaError.NO_ERROR))  # an object, truthy, as confluent-kafka's


def test_other_types_are_not_equal_and_do_not_order() -> None:
    # confluent-kafka raises TypeError/SystemError here; a plain False is kinder and still safe.
    assert KafkaError(3) != None  # noqa: E711 - the comparison under test
    assert KafkaError(3) != "3"
    assert KafkaError(3) != 3.0
    with pytest.raises(TypeError):
        assert KafkaError(3) < "a"  # type: ignore[operator]


def test_constructor_rejects_what_confluent_rejects() -> None:
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        KafkaError("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        KafkaError(3.0)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        KafkaError(2**40)
    with pytest.raises(TypeError, match="argument 2 must be str or None, not int"):
        KafkaError(3, 5)  # type: ignore[arg-type]


def test_instances_are_slotted_and_pickle() -> None:
    err = KafkaError(3, "r", fatal=True, retriable=True, txn_requires_abort=True)
    with pytest.raises(AttributeError):
        err.foo = 1  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(err))
    assert repr(back) == repr(err)
    assert (back.fatal(), back.retriable(), back.txn_requires_abort()) == (True, True, True)


def test_kafka_exception_carries_the_error_as_args0(ck: ModuleType) -> None:
    cases: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = [
        ((KafkaError(3),), (ck.KafkaError(3),)),
        ((KafkaError(3, "r"),), (ck.KafkaError(3, "r"),)),
        ((), ()),
        (("hello",), ("hello",)),
        ((KafkaError(3), "more"), (ck.KafkaError(3), "more")),
    ]
    for ours_args, theirs_args in cases:
        ours, theirs = KafkaException(*ours_args), ck.KafkaException(*theirs_args)
        assert ours.args == ours_args
        assert str(ours) == str(theirs)
        assert repr(ours) == repr(theirs)
    with pytest.raises(KafkaException) as caught:
        raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT))
    assert caught.value.args[0].code() == KafkaError._MSG_TIMED_OUT
    assert caught.value.args[0].name() == "_MSG_TIMED_OUT"


def test_kafka_exception_is_a_kstream_nb_error() -> None:
    from kstream_nb.errors import KStreamNbError

    assert issubclass(KafkaException, KStreamNbError)
    assert issubclass(KafkaException, Exception)


def test_retriable_defaults_to_false_as_in_confluent() -> None:
    assert not KafkaError(KafkaError.NOT_ENOUGH_REPLICAS).retriable()
    assert KafkaError(KafkaError.NOT_ENOUGH_REPLICAS, retriable=None).retriable()


@pytest.mark.parametrize("code", list(ErrorCode))
def test_from_error_code_keeps_the_code_and_kafkas_retriable_classification(
    code: ErrorCode,
) -> None:
    err = from_error_code(code, "what happened; what to do")
    assert err.code() == int(code)
    assert err.retriable() == (code in RETRIABLE)
    assert err.str() == "what happened; what to do"
    assert not err.fatal()
    assert from_error_code(code).str() == KafkaError(int(code)).str()


def test_kafka_protocol_names_map_to_librdkafka_spellings() -> None:
    # The same codes; librdkafka spells a few of them differently from Kafka.
    renamed = {
        ErrorCode.NONE: "NO_ERROR",
        ErrorCode.UNKNOWN_SERVER_ERROR: "UNKNOWN",
        ErrorCode.CORRUPT_MESSAGE: "INVALID_MSG",
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION: "UNKNOWN_TOPIC_OR_PART",
        ErrorCode.INVALID_FETCH_SIZE: "INVALID_MSG_SIZE",
        ErrorCode.NOT_LEADER_OR_FOLLOWER: "NOT_LEADER_FOR_PARTITION",
        ErrorCode.MESSAGE_TOO_LARGE: "MSG_SIZE_TOO_LARGE",
        ErrorCode.STALE_CONTROLLER_EPOCH: "STALE_CTRL_EPOCH",
        ErrorCode.INVALID_TOPIC_EXCEPTION: "TOPIC_EXCEPTION",
    }
    for code in ErrorCode:
        assert from_error_code(code).name() == renamed.get(code, code.name)
        assert getattr(KafkaError, renamed.get(code, code.name)) == code


def test_librdkafka_only_retriable_codes() -> None:
    assert from_error_code(KafkaError.THROTTLING_QUOTA_EXCEEDED).retriable()
    assert from_error_code(KafkaError.UNKNOWN_TOPIC_ID).retriable()
    assert not from_error_code(KafkaError.TOPIC_AUTHORIZATION_FAILED).retriable()
    assert not from_error_code(KafkaError._MSG_TIMED_OUT).retriable()
    assert from_error_code(KafkaError._TRANSPORT).retriable()


def test_from_api_error() -> None:
    exc = KafkaApiError(
        "partition 7 of orders does not exist", code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    )
    err = from_api_error(exc)
    assert err == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert err.str() == "partition 7 of orders does not exist"
    assert err.retriable()
