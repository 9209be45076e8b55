"""Broker metrics under Kafka's JMX names, and their Prometheus exposition.

Each broker counts what its meters count in Kafka (`Count` of `MessagesInPerSec`, `BytesInPerSec`,
`IsrShrinksPerSec`, ...), from its start: a restarted broker starts from zero, as a restarted JVM
does. Gauges (`Value`: `UnderReplicatedPartitions`, `ActiveControllerCount`, `Log.Size`, ...) are
read from the cluster's state when asked. Rates are left to the reader (`rate()` in Prometheus),
as Kafka's one-minute rates are computed from the same counts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_NO_TOPIC = ""
_ALWAYS = [
    ("BrokerTopicMetrics", name, _NO_TOPIC)
    for name in (
        "MessagesInPerSec",
        "BytesInPerSec",
        "BytesOutPerSec",
        "TotalProduceRequestsPerSec",
        "FailedProduceRequestsPerSec",
        "TotalFetchRequestsPerSec",
        "FailedFetchRequestsPerSec",
        "ReplicationBytesInPerSec",
        "ReplicationBytesOutPerSec",
    )
] + [
    ("ReplicaManager", "IsrShrinksPerSec", _NO_TOPIC),
    ("ReplicaManager", "IsrExpandsPerSec", _NO_TOPIC),
    ("ControllerStats", "LeaderElectionRateAndTimeMs", _NO_TOPIC),
    ("ControllerStats", "UncleanLeaderElectionsPerSec", _NO_TOPIC),
]


@dataclass(frozen=True, slots=True)
class Metric:
    """One attribute of one MBean on one broker: `kafka.server:type=...,name=...` -> value."""

    broker: int
    domain: str  # kafka.server, kafka.controller, kafka.log
    type: str
    name: str
    attribute: str  # Count (meters) or Value (gauges)
    value: float
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def mbean(self) -> str:
        """The MBean name as JConsole or the JMX exporter shows it."""
        extra = "".join(f",{k}={v}" for k, v in self.tags)
        return f"{self.domain}:type={self.type},name={self.name}{extra}"


class Meters:
    """A broker's cumulative counts, per (type, name, topic); "" is the all-topics meter."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def mark(self, type_: str, name: str, n: int = 1, topic: str = _NO_TOPIC) -> None:
        """Count `n` events; a topic's meter also counts towards the all-topics one."""
        self.counts[(type_, name, _NO_TOPIC)] += n
        if topic:
            self.counts[(type_, name, topic)] += n

    def metrics(self, broker: int) -> list[Metric]:
        """Every meter this broker has, the all-topics and Replica/Controller ones even at 0
        (as their MBeans exist from the start in Kafka; per-topic ones appear with the topic)."""
        counts = Counter(dict.fromkeys(_ALWAYS, 0))
        counts.update(self.counts)
        out = []
        for (type_, name, topic), count in sorted(counts.items()):
            domain = "kafka.controller" if type_ == "ControllerStats" else "kafka.server"
            tags = (("topic", topic),) if topic else ()
            out.append(Metric(broker, domain, type_, name, "Count", count, tags))
        return out


def _snake(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", text).lower()


def prometheus_name(metric: Metric) -> str:
    """The series name the JMX exporter's usual Kafka rules give (lowercased output names):
    meters `kafka_server_brokertopicmetrics_messagesin_total`, gauges
    `kafka_server_replicamanager_underreplicatedpartitions`, `kafka_log_log_size`."""
    domain = metric.domain.split(".", 1)[1]
    name = metric.name
    if metric.attribute == "Count":
        name = re.sub(r"PerSec$", "", name)
        return _snake(f"kafka_{domain}_{metric.type}_{name}_total")
    return _snake(f"kafka_{domain}_{metric.type}_{name}")


def prometheus_text(metrics: list[Metric] | tuple[Metric, ...]) -> str:
    """Prometheus' text exposition of `metrics`, one series per broker (label `broker`)."""
    by_name: dict[str, list[Metric]] = {}
    for metric in metrics:
        by_name.setdefault(prometheus_name(metric), []).append(metric)
    lines = []
    for name in sorted(by_name):
        group = by_name[name]
        first = group[0]
        kind = "counter" if first.attribute == "Count" else "gauge"
        lines.append(f"# HELP {name} {first.domain}:type={first.type},name={first.name}")
        lines.append(f"# TYPE {name} {kind}")
        for m in sorted(group, key=lambda m: (m.broker, m.tags)):
            labels = ",".join(f'{k}="{v}"' for k, v in (("broker", str(m.broker)), *m.tags))
            value = int(m.value) if float(m.value).is_integer() else m.value
            lines.append(f"{name}{{{labels}}} {value}")
    return "\n".join(lines) + "\n"
