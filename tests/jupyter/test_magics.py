"""`%kafka` and `%%produce` in a real IPython shell: every subcommand and every error path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from IPython.core.error import UsageError

from kstream_nb import Consumer
from kstream_nb.jupyter import Dashboard, EventLog, GroupView, Tail, current_cluster
from kstream_nb.jupyter.session import session
from kstream_nb.runtime import Cluster
from kstream_nb.runtime.views import format_time
from kstream_nb.table import Table, Tables

FAST = "--config group.initial.rebalance.delay.ms=0 --config offsets.topic.num.partitions=3"


def kafka(ip: Any, line: str) -> Any:
    return ip.run_line_magic("kafka", line)


def produce(ip: Any, line: str, cell: str) -> Any:
    return ip.run_cell_magic("produce", line, cell)


@pytest.fixture
def sim(ip: Any) -> Cluster:
    """A simulated 3-broker cluster started by the magic, with `orders` (3 partitions, RF 3)."""
    kafka(ip, f"cluster start --brokers 3 --simulated --seed 5 {FAST}")
    kafka(ip, "topic create orders --partitions 3 --replication-factor 3")
    return current_cluster()


def all_values(cluster: Cluster, topic: str) -> list[bytes | None]:
    values = []
    for p in cluster.topic(topic).partitions:
        values.extend(r.value for r in cluster.read(topic, p.partition))
    return values


# -- cluster -----------------------------------------------------------------------------------


def test_cluster_start_status_stop(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = kafka(ip, "cluster start --brokers 2 --simulated --seed 1")
    assert isinstance(cluster, Cluster)
    assert "Started 2 broker(s) in simulated time" in capsys.readouterr().out
    status = kafka(ip, "cluster status")
    assert isinstance(status, Tables)
    text = str(status)
    assert "broker  status  controller" in text
    assert "bootstrap.servers=localhost:9092,localhost:9093" in text
    assert "0x" not in repr(cluster)
    assert "object at" not in cluster._repr_html_()
    kafka(ip, "cluster stop")
    assert "Stopped the cluster." in capsys.readouterr().out
    assert cluster.stopped
    kafka(ip, "cluster stop")
    assert "No cluster was running." in capsys.readouterr().out


def test_second_start_says_how_to_replace(ip: Any) -> None:
    first = kafka(ip, "cluster start --brokers 1 --simulated")
    with pytest.raises(UsageError, match=r"already running .*--replace"):
        kafka(ip, "cluster start --brokers 1 --simulated")
    second = kafka(ip, "cluster start --brokers 1 --simulated --replace")
    assert first.stopped
    assert not second.stopped


def test_real_time_cluster_and_its_data_dir(ip: Any, tmp_path: Any) -> None:
    cluster = kafka(
        ip, f"cluster start --brokers 1 --data-dir {tmp_path} --config num.partitions=2"
    )
    assert not cluster.simulated
    kafka(ip, "topic create t")
    assert len(cluster.topic("t").partitions) == 2  # the --config reached the brokers
    assert (tmp_path / "broker-1").exists() or any(tmp_path.iterdir())
    with pytest.raises(UsageError, match="moves simulated time"):
        kafka(ip, "time advance 1s")


def test_commands_without_a_cluster_say_how_to_start_one(ip: Any) -> None:
    session.stop()
    for line in ("cluster status", "topic list", "broker kill 1", "dashboard", "time now"):
        with pytest.raises(UsageError, match=r"no cluster is running; start one with %kafka"):
            kafka(ip, line)


# -- faults ------------------------------------------------------------------------------------


def test_broker_kill_moves_leaders_and_restart_rejoins(
    ip: Any, sim: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    led = [p.partition for p in sim.topic("orders").partitions if p.leader == 1]
    kafka(ip, "broker kill 1")
    assert "broker.session.timeout.ms (9 s)" in capsys.readouterr().out
    kafka(ip, "time advance 20s")
    partitions = sim.topic("orders").partitions
    assert all(p.leader != 1 for p in partitions)
    assert led
    assert all(1 not in p.isr for p in partitions)
    kafka(ip, "broker restart 1")
    kafka(ip, "time advance 30s")
    assert all(1 in p.isr for p in sim.topic("orders").partitions)


def test_broker_shutdown_isolate_heal_slow(ip: Any, sim: Cluster) -> None:
    kafka(ip, "broker shutdown 2")
    assert all(p.leader != 2 for p in sim.topic("orders").partitions)
    kafka(ip, "broker restart 2")
    kafka(ip, "broker isolate 3")
    assert sim.network.isolated == {3}
    assert "isolated" in str(kafka(ip, "cluster status"))
    kafka(ip, "broker heal 3")
    assert sim.network.isolated == frozenset()
    kafka(ip, "broker slow 1 --latency 200ms")
    assert sim.network.slow_links == {(1, 2): 200, (1, 3): 200}
    kafka(ip, "net heal")
    assert sim.network.slow_links == {}


def test_net_cut_slow_heal(ip: Any, sim: Cluster) -> None:
    kafka(ip, "net cut 1 2")
    assert sim.network.cut_links == {(1, 2)}
    kafka(ip, "net slow 2 3 --latency 1s")
    assert sim.network.slow_links == {(2, 3): 1000}
    kafka(ip, "net heal")
    assert sim.network.cut_links == frozenset()
    with pytest.raises(UsageError, match="there is no broker 9"):
        kafka(ip, "net cut 1 9")


def test_bad_broker_arguments(ip: Any, sim: Cluster) -> None:
    with pytest.raises(UsageError, match=r"invalid choice: 'explode'"):
        kafka(ip, "broker explode 2")
    with pytest.raises(UsageError, match=r"argument id: invalid int value: 'two'"):
        kafka(ip, "broker kill two")
    with pytest.raises(UsageError, match="there is no broker 7"):
        kafka(ip, "broker kill 7")


# -- topics ------------------------------------------------------------------------------------


def test_topic_create_list_describe_alter_delete(
    ip: Any, sim: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    kafka(
        ip, "topic create events --partitions 2 --replication-factor 2 --config retention.ms=5000"
    )
    assert "Created topic events with 2 partition(s), replication factor 2." in (
        capsys.readouterr().out
    )
    listing = kafka(ip, "topic list")
    assert isinstance(listing, Table)
    assert {r["topic"] for r in listing.to_dicts()} == {"events", "orders"}
    internal = kafka(ip, "topic list --internal")
    assert "__consumer_offsets" not in {r["topic"] for r in listing.to_dicts()}
    assert {r["topic"] for r in internal.to_dicts()} >= {"events", "orders"}
    described = str(kafka(ip, "topic describe events"))
    assert "retention.ms  5000" in described
    kafka(ip, "topic alter events --config cleanup.policy=compact --delete-config retention.ms")
    assert sim.topic("events").config == {"cleanup.policy": "compact"}
    kafka(ip, "topic alter events --partitions 4")
    assert len(sim.topic("events").partitions) == 4
    kafka(ip, "topic delete events")
    assert "events" not in sim.topics()
    kafka(ip, "topic create orders --if-not-exists")
    assert "already exists" in capsys.readouterr().out


def test_topic_errors_are_one_line(ip: Any, sim: Cluster) -> None:
    with pytest.raises(UsageError, match="already exists"):
        kafka(ip, "topic create orders")
    with pytest.raises(UsageError, match=r"required: name"):
        kafka(ip, "topic create")
    with pytest.raises(UsageError, match=r"--config expects key=value .*got 'retention'"):
        kafka(ip, "topic create x --config retention")
    with pytest.raises(UsageError, match="nothing to change"):
        kafka(ip, "topic alter orders")
    with pytest.raises(UsageError, match="does not exist"):
        kafka(ip, "topic describe nope")
    with pytest.raises(UsageError, match=r"invalid choice: 'frob'"):
        kafka(ip, "topic frob")
    with pytest.raises(UsageError, match="check the quotes"):
        kafka(ip, "topic create 'unclosed")


def test_usage_error_shows_no_traceback(
    ip: Any, sim: Cluster, capsys: pytest.CaptureFixture
) -> None:
    ip.run_cell("%kafka topic create")
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "UsageError: %kafka topic create: the following arguments are required: name" in text
    assert "Traceback" not in text


# -- help --------------------------------------------------------------------------------------


def test_help_is_generated_from_docstrings(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    doc = ip.find_line_magic("kafka").__doc__
    for command in ("cluster start", "broker", "topic create", "group reset-offsets", "tail"):
        assert f"%kafka {command}" in doc
    assert "Create a topic and wait for its leaders." in doc
    kafka(ip, "topic create --help")
    out = capsys.readouterr().out
    assert "usage: %kafka topic create" in out
    assert "--replication-factor" in out
    kafka(ip, "")
    assert "usage: %kafka" in capsys.readouterr().out


# -- groups ------------------------------------------------------------------------------------


def _consume_some(cluster: Cluster, group: str, n: int) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["orders"])
    got = 0
    while got < n:
        msg = consumer.poll(5)
        assert msg is not None
        assert msg.error() is None
        got += 1
    consumer.commit(asynchronous=False)
    return consumer


def test_group_list_describe_lag_and_reset(ip: Any, sim: Cluster) -> None:
    produce(ip, "orders --key id", "\n".join(f'{{"id": {i}}}' for i in range(12)))
    consumer = _consume_some(sim, "billing", 5)
    groups = kafka(ip, "group list").to_dicts()
    assert [(g["group"], g["state"], g["members"]) for g in groups] == [("billing", "Stable", 1)]
    described = kafka(ip, "group describe billing")
    rows = described.to_dicts()
    assert sum(r["committed"] or 0 for r in rows) == 5
    for r in rows:  # lag as kafka-consumer-groups shows it: none until something is committed
        assert r["lag"] == (
            None if r["committed"] is None else r["high watermark"] - r["committed"]
        )
    assert sum(r["high watermark"] for r in rows) == 12
    lag = kafka(ip, "lag billing")
    assert isinstance(lag.group, GroupView)
    assert repr(lag) == "LagView(group 'billing')"
    lag.close()
    assert str(kafka(ip, "lag billing --once")) == str(described)
    with pytest.raises(UsageError, match="active member"):
        kafka(ip, "group reset-offsets billing --topic orders --to-earliest")
    consumer.close()
    dry = kafka(ip, "group reset-offsets billing --topic orders --to-earliest --dry-run")
    assert "Would reset" in dry.title
    kafka(ip, "group reset-offsets billing --topic orders --to-earliest")
    assert all(r["committed"] == 0 for r in kafka(ip, "group describe billing").to_dicts())
    kafka(ip, "group reset-offsets billing --topic orders --to-latest")
    assert kafka(ip, "group list").to_dicts()[0]["lag"] == 0
    kafka(ip, "group reset-offsets billing --topic orders --to-offset 1")
    assert {r["committed"] for r in kafka(ip, "group describe billing").to_dicts()} == {1}
    kafka(ip, "group reset-offsets billing --topic orders --to-datetime 2000-01-01T00:00:00")
    assert {r["committed"] for r in kafka(ip, "group describe billing").to_dicts()} == {0}
    kafka(ip, "group reset-offsets billing --topic orders --to-datetime 2100-01-01T00:00:00+00:00")
    assert kafka(ip, "group list").to_dicts()[0]["lag"] == 0


def test_group_errors(ip: Any, sim: Cluster) -> None:
    with pytest.raises(UsageError, match="no consumer group 'ghost'"):
        kafka(ip, "group describe ghost")
    with pytest.raises(UsageError, match=r"one of the arguments --to-earliest"):
        kafka(ip, "group reset-offsets g --topic orders")
    with pytest.raises(UsageError, match="--to-datetime expects an ISO time"):
        kafka(ip, "group reset-offsets g --topic orders --to-datetime yesterday")


# -- live views --------------------------------------------------------------------------------


def test_live_views_are_widgets_with_stable_reprs(ip: Any, sim: Cluster) -> None:
    produce(ip, "orders", '{"a": 1}')
    dashboard = kafka(ip, "dashboard")
    tail = kafka(ip, "tail orders -n 5")
    events = kafka(ip, "events -n 10")
    group = kafka(ip, "group describe g --live")
    assert isinstance(dashboard, Dashboard)
    assert isinstance(tail, Tail)
    assert isinstance(events, EventLog)
    assert isinstance(group, GroupView)
    assert repr(tail) == "Tail(topic 'orders', newest 5)"
    assert repr(dashboard) == "Dashboard(cluster at localhost:9092,localhost:9093,localhost:9094)"
    assert [p["topic"] for p in dashboard.partitions] == ["orders"] * 3
    assert tail.records[0]["value"] == '{\n  "a": 1\n}'
    assert len(events.events) == min(10, events.total)
    assert events.total == len(sim.events())
    kafka(ip, "cluster stop")  # the widgets' threads end with the cluster (checked by conftest)


def test_tail_once_and_events_once(ip: Any, sim: Cluster) -> None:
    produce(ip, "orders --partition 1 --header source=test", '{"a": 1}\n{"a": 2}')
    table = kafka(ip, "tail orders --once -n 1")
    assert table.to_dicts() == [
        {
            "partition": 1,
            "offset": 1,
            "timestamp": table.rows[0][2],
            "key": None,
            "value": '{"a": 2}',
            "headers": "source=test",
        }
    ]
    events = kafka(ip, "events --once -n 3")
    assert len(events) == 3
    assert events.columns == ["time", "event", "details"]
    with pytest.raises(UsageError, match="does not exist"):
        kafka(ip, "tail nope")


def test_time_advance_and_now(ip: Any, sim: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    before = sim.now_ms()
    kafka(ip, "time advance 1h")
    assert sim.now_ms() == before + 3_600_000
    kafka(ip, "time now")
    assert capsys.readouterr().out.strip().endswith(format_time(sim.now_ms()))
    with pytest.raises(UsageError, match="duration"):
        kafka(ip, "time advance soon")


def test_bare_kafka_cell_runs_one_command_per_line(ip: Any, sim: Cluster) -> None:
    ip.run_cell_magic("kafka", "", "# set up\ntopic create a\ntopic create b --partitions 2\n")
    assert {"a", "b"} <= set(sim.topics())
    with pytest.raises(UsageError, match="takes no cell body"):
        ip.run_cell_magic("kafka", "topic list", "something")


# -- %%produce ---------------------------------------------------------------------------------


def test_produce_jsonl_with_key_lands_by_key(ip: Any, sim: Cluster) -> None:
    cell = '{"order_id": "ORD-1", "amount": 1}\n\n{"order_id": "ORD-2", "amount": 2}\n'
    result = produce(ip, "orders --key order_id", cell)
    assert result.title == "Produced 2 record(s) to orders"
    for p in sim.topic("orders").partitions:
        for r in sim.read("orders", p.partition):
            assert json.loads(r.value or b"")["order_id"] == (r.key or b"").decode()
    # same key, same partition
    produce(ip, "orders --key order_id", '{"order_id": "ORD-1", "amount": 3}')
    partitions = {
        p.partition
        for p in sim.topic("orders").partitions
        for r in sim.read("orders", p.partition)
        if r.key == b"ORD-1"
    }
    assert len(partitions) == 1


def test_bad_json_names_the_line_and_sends_nothing(ip: Any, sim: Cluster) -> None:
    cell = '{"order_id": "ORD-1"}\n{"order_id": "ORD-2", amount: 15}\n{"order_id": "ORD-3"}'
    with pytest.raises(UsageError, match=r"line 3: invalid JSON .*nothing was produced"):
        produce(ip, "orders --key order_id", cell)
    assert all_values(sim, "orders") == []
    with pytest.raises(UsageError, match=r"line 2: no field 'order_id' for --key"):
        produce(ip, "orders --key order_id", '{"id": 1}')


def test_produce_formats(ip: Any, sim: Cluster) -> None:
    produce(ip, "orders --format json --partition 0", '[{"a": 1}, {"a": 2}]')
    produce(ip, "orders --format csv --partition 1", "id,amount\nA,1.5\nB,2\n")
    produce(ip, "orders --format text --partition 2 --key-separator :", "k1:hello\nk2:world")
    assert [r.value for r in sim.read("orders", 0)] == [b'{"a":1}', b'{"a":2}']
    assert [r.value for r in sim.read("orders", 1)] == [
        b'{"id":"A","amount":1.5}',
        b'{"id":"B","amount":2}',
    ]
    assert [(r.key, r.value) for r in sim.read("orders", 2)] == [
        (b"k1", b"hello"),
        (b"k2", b"world"),
    ]
    with pytest.raises(UsageError, match=r"line 4: 1 fields but the header has 2"):
        produce(ip, "orders --format csv", "id,amount\nA,1\nB\n")
    with pytest.raises(UsageError, match=r"no key separator"):
        produce(ip, "orders --format text --key-separator :", "nokey")
    with pytest.raises(UsageError, match=r"invalid choice: 'xml'"):
        produce(ip, "orders --format xml", "<a/>")


def test_produce_headers_acks_repeat_and_rate(ip: Any, sim: Cluster) -> None:
    start = sim.now_ms()
    result = produce(
        ip,
        "orders --format text --partition 0 --header a=1 --header b=2 --acks 1 --repeat 3 "
        "--rate 10/s",
        "x\ny",
    )
    assert result.to_dicts() == [
        {"partition": 0, "records": 6, "first offset": 0, "last offset": 5}
    ]
    records = sim.read("orders", 0)
    assert next(r.headers for r in records) == (("a", b"1"), ("b", b"2"))
    assert sim.now_ms() - start >= 500  # 6 records at 10/s take simulated time
    with pytest.raises(UsageError, match=r"--rate expects records per second"):
        produce(ip, "orders --format text --rate fast", "x")
    with pytest.raises(UsageError, match=r"--repeat must be 1 or more"):
        produce(ip, "orders --format text --repeat 0", "x")
    with pytest.raises(UsageError, match="has no records"):
        produce(ip, "orders", "\n\n")
    with pytest.raises(UsageError, match=r"invalid choice: '2'"):
        produce(ip, "orders --format text --acks 2", "x")


def test_produce_to_a_missing_topic(ip: Any) -> None:
    kafka(ip, "cluster start --brokers 1 --simulated --config auto.create.topics.enable=false")
    with pytest.raises(UsageError, match=r"does not exist; create it with %kafka topic create t"):
        produce(ip, "t --format text", "x")


def test_config_traits(ip: Any) -> None:
    ip.run_line_magic("config", "KafkaMagics.brokers = 2")
    ip.run_line_magic("config", "KafkaMagics.tail_rows = 3")
    try:
        cluster = kafka(ip, "cluster start --simulated")
        assert len(cluster.broker_ids) == 2
        kafka(ip, "topic create t")
        produce(ip, "t --format text", "\n".join(f"v{i}" for i in range(10)))
        assert len(kafka(ip, "tail t --once")) == 3
    finally:
        ip.run_line_magic("config", "KafkaMagics.brokers = 3")
        ip.run_line_magic("config", "KafkaMagics.tail_rows = 20")


def test_topic_view_magic_is_two_live_charts(ip: Any, sim: Cluster) -> None:
    view = kafka(ip, "topic view orders --window 50")
    try:
        assert repr(view) == "TopicView(topic 'orders')"
        assert view.offsets.window == 50
        assert {r["partition"] for r in view.offsets.rows} == {"0", "1", "2"}
    finally:
        view.close()
    with pytest.raises(UsageError, match="does not exist"):
        kafka(ip, "topic view nope")


# -- %kafka sql --------------------------------------------------------------------------------


def test_sql_line_and_cell_with_the_seeds_query(ip: Any, sim: Cluster) -> None:
    produce(
        ip,
        "orders --key order_id",
        '{"order_id": "ORD-1", "customer_id": "CUST-1", "amount": 99.99}\n'
        '{"order_id": "ORD-2", "customer_id": "CUST-2", "amount": 1500.0}\n'
        '{"order_id": "ORD-3", "customer_id": "CUST-1", "amount": 0.01}\n',
    )
    line = kafka(ip, "sql SELECT count(*) AS n FROM orders WHERE value->>'customer_id' = 'CUST-1'")
    assert isinstance(line, Table)
    assert line.rows == [[2]]
    cell = ip.run_cell_magic(
        "kafka",
        "sql -o totals",
        "SELECT value->>'customer_id' AS customer, count(*) AS n, sum(amount) AS total\n"
        "FROM orders GROUP BY 1 ORDER BY 1",
    )
    assert cell.columns == ["customer", "n", "total"]
    assert cell.rows == [["CUST-1", 2, 100.0], ["CUST-2", 1, 1500.0]]
    assert ip.user_ns["totals"].pl()["n"].to_list() == [2, 1]  # a DuckDB relation, kept
    frame = ip.run_cell_magic(
        "kafka", "sql --polars --save df", "SELECT key FROM orders ORDER BY key"
    )
    assert frame["key"].to_list() == [b"ORD-1", b"ORD-2", b"ORD-3"]
    assert ip.user_ns["df"] is frame
    inline = ip.run_cell_magic("kafka", "", "sql SELECT count(*) FROM orders\n")
    assert inline is None  # a bare %%kafka cell displays each command's result


def test_sql_errors_are_one_line_and_long_results_are_cut(ip: Any, sim: Cluster) -> None:
    with pytest.raises(UsageError, match="needs a query"):
        kafka(ip, "sql")
    with pytest.raises(UsageError, match="nope"):
        kafka(ip, "sql SELECT nope FROM orders")
    with pytest.raises(UsageError, match="does not exist"):
        kafka(ip, "sql --polars SELECT * FROM orders_typo_that_does_not_exist")
    with pytest.raises(UsageError, match="variable name"):
        kafka(ip, "sql -o 1x SELECT 1")
    ip.run_line_magic("config", "KafkaMagics.sql_rows = 3")
    try:
        table = kafka(ip, "sql SELECT * FROM range(10)")
        assert len(table.rows) == 3
        assert "first 3 rows" in (table.footer or "")
    finally:
        ip.run_line_magic("config", "KafkaMagics.sql_rows = 50")


SEED_LIKE_LOOP = """
from kstream_nb import Consumer
consumer = Consumer({"bootstrap.servers": "localhost:9092", "group.id": "g",
                     "auto.offset.reset": "earliest"})
consumer.subscribe(["orders"])
seen = []
try:
    while True:
        msg = consumer.poll(timeout=1.0)
        if msg is None:
            continue
        seen.append(msg.offset())
except KeyboardInterrupt:
    pass
finally:
    consumer.close()
"""


def test_interrupt_after_stops_a_forever_loop_in_simulated_time(
    ip: Any, sim: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    produce(ip, "orders --partition 0", '{"n": 1}\n{"n": 2}\n{"n": 3}')
    start = sim.now_ms()
    ip.run_cell_magic("interrupt_after", "20s", SEED_LIKE_LOOP)
    assert ip.user_ns["seen"] == [0, 1, 2]
    # The loop ran until 20 s of simulated time had passed, and not much longer.
    assert 20_000 <= sim.now_ms() - start <= 22_000
    # A later call is not interrupted: the timer is gone with the cell.
    sim.advance("1m")
    capsys.readouterr()
    ip.user_ns["cluster"] = sim
    ip.run_cell_magic("interrupt_after", "1s", "while True:\n    cluster.advance('100ms')")
    assert "Interrupted after 1s" in capsys.readouterr().out


def test_interrupt_after_in_real_time_and_bad_durations(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    kafka(ip, "cluster start --brokers 1")
    ip.run_cell_magic("interrupt_after", "200ms", "import time\nwhile True:\n    time.sleep(0.01)")
    assert "Interrupted after 200ms" in capsys.readouterr().out
    with pytest.raises(UsageError, match="duration like 10s"):
        ip.run_cell_magic("interrupt_after", "soon", "pass")


def test_metrics_as_a_table_and_as_a_prometheus_scrape(
    ip: Any, sim: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    produce(ip, "orders --partition 0", '{"n": 1}\n{"n": 2}')
    leader = sim.describe().partition("orders", 0).leader
    table = kafka(ip, f"metrics MessagesInPerSec --broker {leader}")
    assert isinstance(table, Table)
    assert [
        leader,
        "kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=orders",
        "Count",
        2,
    ] in table.rows
    assert all("__consumer_offsets" not in row[1] for row in kafka(ip, "metrics").rows)
    capsys.readouterr()
    kafka(ip, "metrics UnderReplicatedPartitions --prometheus")
    out = capsys.readouterr().out
    assert "# TYPE kafka_server_replicamanager_underreplicatedpartitions gauge" in out
    assert 'kafka_server_replicamanager_underreplicatedpartitions{broker="1"} 0' in out
