"""`%kafka` and `%%produce`: the cluster, its topics, groups and faults, from notebook cells.

Every subcommand is a method below whose docstring is its help (`%kafka topic --help`,
`%kafka?`). Bad arguments and failed requests end in a one-line `UsageError` that names the
argument and the fix; nothing prints a traceback at a learner.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shlex
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, magics_class
from traitlets import Bool, Float, Int, Unicode

from kstream_nb.client import Producer, TopicPartition
from kstream_nb.client.admin import AdminClient, ConsumerGroupTopicPartitions, OffsetSpec
from kstream_nb.clock import parse_duration_ms
from kstream_nb.cluster import prometheus_text
from kstream_nb.errors import KStreamNbError
from kstream_nb.jupyter.produce_cell import FORMATS, CellError, parse_cell
from kstream_nb.jupyter.session import NoClusterError, session
from kstream_nb.jupyter.widgets import (
    Dashboard,
    EventLog,
    GroupView,
    Tail,
    record_row,
    render_text,
)
from kstream_nb.runtime import Cluster
from kstream_nb.runtime.views import events_table, format_time, groups_table
from kstream_nb.table import Table

__all__ = ["KafkaMagics"]


class _HelpShownError(Exception):
    """argparse printed help (`--help`): the command is done."""


class _Parser(argparse.ArgumentParser):
    """argparse that answers with UsageError instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message, end="")
        raise _HelpShownError


def _config(pairs: Sequence[str] | None) -> dict[str, str]:
    config: dict[str, str] = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--config expects key=value (like retention.ms=60000), got {pair!r}")
        config[name.strip()] = value.strip()
    return config


def _headers(pairs: Sequence[str] | None) -> list[tuple[str, bytes]]:
    headers = []
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--header expects name=value (like source=web), got {pair!r}")
        headers.append((name, value.encode()))
    return headers


def _rate(text: str | None) -> float | None:
    if text is None:
        return None
    number = text.removesuffix("/s")
    try:
        rate = float(number)
    except ValueError:
        raise UsageError(f"--rate expects records per second like 100/s, got {text!r}") from None
    if rate <= 0:
        raise UsageError(f"--rate must be above 0, got {text!r}")
    return rate


def _datetime_ms(text: str) -> int:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--to-datetime expects an ISO time like 2024-05-01T12:00:00 (UTC unless it has an "
            f"offset), got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


#: (command, subcommand or None, method name) -> arguments added by `_arguments`.
_COMMANDS: list[tuple[str, str | None, str]] = [
    ("cluster", "start", "cluster_start"),
    ("cluster", "stop", "cluster_stop"),
    ("cluster", "status", "cluster_status"),
    ("broker", None, "broker"),
    ("net", "cut", "net_cut"),
    ("net", "slow", "net_slow"),
    ("net", "heal", "net_heal"),
    ("topic", "create", "topic_create"),
    ("topic", "list", "topic_list"),
    ("topic", "describe", "topic_describe"),
    ("topic", "view", "topic_view"),
    ("topic", "alter", "topic_alter"),
    ("topic", "delete", "topic_delete"),
    ("group", "list", "group_list"),
    ("group", "describe", "group_describe"),
    ("group", "reset-offsets", "group_reset_offsets"),
    ("tail", None, "tail"),
    ("dashboard", None, "dashboard"),
    ("lag", None, "lag"),
    ("events", None, "events"),
    ("metrics", None, "metrics"),
    ("time", "advance", "time_advance"),
    ("time", "now", "time_now"),
    ("sql", None, "sql"),
]

_SQL_OPTION = re.compile(
    r"\s*(?:(?P<save>-o|--save|--output)\s+(?P<name>\S+)|(?P<polars>--polars)|(?P<help>-h|--help))"
    r"(?=\s|$)"
)


def _arguments(name: str, p: argparse.ArgumentParser) -> None:
    add = p.add_argument
    if name == "cluster_start":
        add("--brokers", type=int, default=None, help="how many brokers (default: %config brokers)")
        add("--data-dir", default=None, help="keep the logs here (default: a temporary dir)")
        add("--config", action="append", metavar="KEY=VALUE", help="a broker config, repeatable")
        add("--simulated", action="store_true", help="simulated time: %kafka time advance 1h")
        add("--seed", type=int, default=None, help="random seed (same seed, same run)")
        add("--replace", action="store_true", help="stop the running cluster first")
    elif name == "broker":
        add("action", choices=["kill", "restart", "shutdown", "isolate", "heal", "slow"])
        add("id", type=int, help="the broker id (1..N)")
        add("--latency", default="500ms", help="for slow: delay added to its links (500ms)")
    elif name in ("net_cut", "net_slow"):
        add("a", type=int, help="one broker id")
        add("b", type=int, help="the other broker id")
        if name == "net_slow":
            add("--latency", default="500ms", help="delay added both ways (500ms)")
    elif name == "topic_create":
        add("name")
        add("--partitions", type=int, default=None, help="default: the broker's num.partitions")
        add("--replication-factor", type=int, default=None, help="default: the broker's setting")
        add("--config", action="append", metavar="KEY=VALUE", help="a topic config, repeatable")
        add("--if-not-exists", action="store_true", help="no error when it exists")
    elif name == "topic_list":
        add("--internal", action="store_true", help="include __consumer_offsets and friends")
    elif name in ("topic_describe", "topic_delete"):
        add("name")
    elif name == "topic_view":
        add("name")
        add("--window", type=int, default=600, help="points kept per line (600)")
    elif name == "topic_alter":
        add("name")
        add("--config", action="append", metavar="KEY=VALUE", help="set a config, repeatable")
        add("--delete-config", action="append", metavar="KEY", help="back to the default")
        add("--partitions", type=int, default=None, help="grow to this many partitions")
    elif name == "group_describe":
        add("id")
        add("--live", action="store_true", help="a live widget instead of a table")
    elif name == "group_reset_offsets":
        add("id")
        add("--topic", required=True, help="the topic whose offsets move")
        to = p.add_mutually_exclusive_group(required=True)
        to.add_argument("--to-earliest", action="store_true")
        to.add_argument("--to-latest", action="store_true")
        to.add_argument("--to-offset", type=int, metavar="N")
        to.add_argument("--to-datetime", metavar="ISO_TIME")
        add("--dry-run", action="store_true", help="show the new offsets, change nothing")
    elif name == "tail":
        add("topic")
        add("-n", "--rows", type=int, default=None, help="how many records (%config tail_rows)")
        add("--partition", type=int, default=None, help="only this partition")
        add("--once", action="store_true", help="a table now instead of a live widget")
    elif name == "dashboard":
        add("--topic", action="append", help="only these topics (repeatable)")
        add("--internal", action="store_true", help="show internal topics too")
    elif name == "lag":
        add("group")
        add("--once", action="store_true", help="a table now instead of a live widget")
    elif name == "events":
        add("-n", "--rows", type=int, default=50, help="how many of the newest events")
        add("--once", action="store_true", help="a table now instead of a live widget")
    elif name == "metrics":
        add("pattern", nargs="?", default="", help="only MBeans containing this text")
        add("--broker", type=int, default=None, help="only this broker")
        add("--prometheus", action="store_true", help="as a Prometheus scrape would show them")
        add("--internal", action="store_true", help="include internal topics' metrics")
    elif name == "time_advance":
        add("duration", help="like 500ms, 5s, 1h, 7d")
    elif name == "sql":
        add("-o", "--save", "--output", metavar="NAME", help="keep the result in variable NAME")
        add("--polars", action="store_true", help="a Polars DataFrame instead of a relation")
        add("query", nargs="*", help="the query; in a %%kafka sql cell, the cell is the query")


def _sql_cell(value: Any) -> Any:
    """SQL's spelling of nulls and booleans; the table renders the rest (bytes as text or hex)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc else ""


@magics_class
class KafkaMagics(Magics):
    """`%kafka ...` and `%%produce TOPIC`; defaults are settable with `%config KafkaMagics.x`."""

    brokers = Int(3, help="Brokers started by %kafka cluster start").tag(config=True)
    tail_rows = Int(20, help="Records shown by %kafka tail").tag(config=True)
    refresh_interval = Float(0.25, help="Seconds between widget refreshes (>= 0.1)").tag(
        config=True
    )
    show_internal = Bool(False, help="Show internal topics in tables and dashboards").tag(
        config=True
    )
    produce_format = Unicode("jsonl", help="Default --format of %%produce").tag(config=True)
    produce_acks = Unicode("all", help="Default --acks of %%produce").tag(config=True)
    sql_rows = Int(50, help="Rows shown by %kafka sql (the saved result has all)").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._parser = _build_parser()

    # -- the magics ------------------------------------------------------------------------

    @line_cell_magic
    def kafka(self, line: str, cell: str | None = None) -> Any:
        if line.split(maxsplit=1)[:1] == ["sql"]:
            return self._sql(line.strip()[3:], cell)
        if cell is not None and not line.strip():
            result = None
            for command in cell.splitlines():
                if command.strip() and not command.strip().startswith("#"):
                    result = self._run(command)
                    if result is not None:
                        self._display(result)
            return None
        if cell is not None and cell.strip():
            raise UsageError(
                f"%%kafka {line.split()[0] if line.split() else ''} takes no cell body; write "
                "one %kafka command per line in a bare %%kafka cell"
            )
        return self._run(line)

    @cell_magic
    def produce(self, line: str, cell: str) -> Any:
        """Produce one record per line (or row) of the cell to a topic.

        %%produce TOPIC [--key FIELD] [--format jsonl|json|csv|text] [--partition P]
                        [--header k=v ...] [--acks all|1|0] [--rate N/s] [--repeat N]
                        [--key-separator SEP]

        JSON is checked before anything is sent: a bad line is reported with its line number
        and nothing from the cell is produced. Prints what was written.
        """
        try:
            args = _produce_parser().parse_args(shlex.split(line))
        except _HelpShownError:
            return None
        except ValueError as exc:
            raise UsageError(f"%%produce: {exc}") from None
        return self._guard(lambda: self._produce(args, cell))

    @cell_magic
    def interrupt_after(self, line: str, cell: str) -> None:
        """Run the cell and interrupt it after DURATION of the cluster's time.

        %%interrupt_after DURATION        (like 10s or 1m)

        The notebook's interrupt button on a timer, for loops that poll forever (the seed's
        consumers): the cell sees KeyboardInterrupt. In simulated time the duration is
        simulated, so the cell ends once the cluster's clock has moved that far.
        """
        try:
            parse_duration_ms(line.strip())
            cluster = session.cluster
        except ValueError as exc:
            raise UsageError(f"%%interrupt_after: {exc} (write a duration like 10s)") from None
        except NoClusterError as exc:
            raise UsageError(f"%%interrupt_after: {exc}") from None
        shell = self.shell
        assert shell is not None, "a cell magic always runs in a shell"
        code = compile(shell.transform_cell(cell), "<cell>", "exec")  # type: ignore[no-untyped-call]
        try:
            with cluster.interrupt_after(line.strip()):
                exec(code, shell.user_ns)
        except KeyboardInterrupt:
            print(f"Interrupted after {line.strip()} (KeyboardInterrupt, as the ■ button raises).")

    # -- plumbing --------------------------------------------------------------------------

    def _display(self, value: Any) -> None:
        from IPython.display import display

        display(value)  # type: ignore[no-untyped-call]

    def _run(self, line: str) -> Any:
        if line.split(maxsplit=1)[:1] == ["sql"]:
            return self._sql(line.strip()[3:], None)
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%kafka: {exc} (check the quotes)") from None
        if not words:
            self._parser.print_help()
            return None
        try:
            args = self._parser.parse_args(words)
        except _HelpShownError:
            return None
        method: Callable[[argparse.Namespace], Any] = getattr(self, f"_cmd_{args.method}")
        return self._guard(lambda: method(args))

    @staticmethod
    def _guard(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except UsageError:
            raise
        except NoClusterError as exc:
            raise UsageError(str(exc)) from None
        except (KStreamNbError, CellError, TimeoutError, RuntimeError, ValueError) as exc:
            raise UsageError(str(exc)) from None

    @property
    def cluster(self) -> Cluster:
        return session.cluster

    # -- SQL -------------------------------------------------------------------------------

    def _sql(self, rest: str, cell: str | None) -> Any:
        """Options then the query, read without shell quoting rules (SQL has its own)."""
        name: str | None = None
        polars = False
        while match := _SQL_OPTION.match(rest):
            if match["help"]:
                return self._run("sql --help")
            if match["save"]:
                name = match["name"]
                if not name.isidentifier():
                    raise UsageError(f"%kafka sql: {name!r} is not a Python variable name")
            polars = polars or bool(match["polars"])
            rest = rest[match.end() :]
        query = rest if cell is None else f"{rest}\n{cell}"
        if not query.strip():
            raise UsageError(
                "%kafka sql needs a query: %kafka sql SELECT count(*) FROM orders (or put the "
                "query in a %%kafka sql cell)"
            )
        return self._guard(
            lambda: self._cmd_sql(argparse.Namespace(save=name, polars=polars, query=[query]))
        )

    def _keep(self, name: str, value: Any) -> None:
        if self.shell is not None:
            self.shell.user_ns[name] = value

    def _cmd_sql(self, a: argparse.Namespace) -> Any:
        """Query the topics with SQL (DuckDB): every topic is a table, JSON fields are columns.

        %kafka sql SELECT count(*) FROM orders
        %%kafka sql [-o NAME] [--polars]
        SELECT customer_id, count(*), sum(amount) FROM orders GROUP BY 1

        `value->>'field'` reads a JSON value; `partition`, `offset`, `timestamp`, `key`, `headers`
        are columns too; internal topics (__consumer_offsets, __kstream_events) are tables.
        """
        import duckdb

        query = " ".join(a.query)
        try:
            relation = self.cluster.sql(query)
            if a.polars:
                frame = relation.pl()
                if a.save:
                    self._keep(a.save, frame)
                return frame
            result = relation.limit(self.sql_rows + 1).fetchall()
        except duckdb.Error as exc:
            raise UsageError(f"%kafka sql: {exc}") from None
        if a.save:
            self._keep(a.save, relation)
        shown = result[: self.sql_rows]
        footer = None
        if len(result) > self.sql_rows:
            footer = f"first {self.sql_rows} rows (%config KafkaMagics.sql_rows); -o NAME keeps all"
        return Table(
            relation.columns, [[_sql_cell(v) for v in row] for row in shown], footer=footer
        )

    # -- cluster ---------------------------------------------------------------------------

    def _cmd_cluster_start(self, a: argparse.Namespace) -> Cluster:
        """Start an in-kernel cluster (real time, or --simulated time)."""
        brokers = self.brokers if a.brokers is None else a.brokers
        cluster = session.start(
            brokers,
            data_dir=a.data_dir,
            config=_config(a.config),
            simulated=a.simulated,
            seed=a.seed,
            replace=a.replace,
        )
        if cluster.simulated:
            self._hook_simulated()
        mode = "simulated time" if cluster.simulated else "real time"
        print(
            f"Started {brokers} broker(s) in {mode}; bootstrap.servers={cluster.bootstrap_servers}"
        )
        return cluster

    def _hook_simulated(self) -> None:
        # Widgets of a simulated cluster see the last change of each cell, not only rate-limited
        # ones: publish every pending watch when a cell ends.
        shell = self.shell
        if shell is not None and self._publish not in shell.events.callbacks["post_run_cell"]:
            shell.events.register("post_run_cell", self._publish)

    def _publish(self, *_: Any) -> None:
        if session.running:
            session.cluster.publish()

    def _cmd_cluster_stop(self, a: argparse.Namespace) -> None:
        """Stop the cluster: brokers shut down cleanly, a temporary data dir is removed."""
        print("Stopped the cluster." if session.stop() else "No cluster was running.")

    def _cmd_cluster_status(self, a: argparse.Namespace) -> Any:
        """Brokers (up, down, isolated, controller) and topics."""
        return self.cluster.overview()

    # -- faults ----------------------------------------------------------------------------

    def _cmd_broker(self, a: argparse.Namespace) -> None:
        """kill|restart|shutdown|isolate|heal|slow ID: break or mend one broker."""
        c = self.cluster
        timeout_s = c.broker_config.broker_session_timeout_ms / 1000
        if a.action == "kill":
            c.kill_broker(a.id)
            print(
                f"Killed broker {a.id} (its log files are kept). The controller fences it and "
                f"moves its leaders after broker.session.timeout.ms ({timeout_s:g} s)."
            )
        elif a.action == "restart":
            c.restart_broker(a.id)
            print(f"Restarted broker {a.id}: it recovers its logs, catches up, rejoins the ISR.")
        elif a.action == "shutdown":
            c.shutdown_broker(a.id)
            print(f"Broker {a.id} shut down cleanly; its leaders moved first.")
        elif a.action == "isolate":
            c.isolate_broker(a.id)
            print(f"Isolated broker {a.id}: every link to it is cut (heal with %kafka net heal).")
        elif a.action == "heal":
            c.heal_broker(a.id)
            print(f"Healed broker {a.id}'s links.")
        else:
            latency = parse_duration_ms(a.latency)
            for other in c.broker_ids:
                if other != a.id:
                    c.slow_link(a.id, other, latency)
            print(f"Every link of broker {a.id} now takes {latency} ms more.")

    def _cmd_net_cut(self, a: argparse.Namespace) -> None:
        """Cut the link between brokers A and B (both ways)."""
        self.cluster.cut_link(a.a, a.b)
        print(f"Cut the link between brokers {a.a} and {a.b}.")

    def _cmd_net_slow(self, a: argparse.Namespace) -> None:
        """Add latency to the link between brokers A and B."""
        self.cluster.slow_link(a.a, a.b, a.latency)
        print(f"The link between brokers {a.a} and {a.b} now takes {a.latency} more.")

    def _cmd_net_heal(self, a: argparse.Namespace) -> None:
        """Undo every cut, isolation and slow link."""
        self.cluster.heal()
        print("The network is healthy again.")

    # -- topics ----------------------------------------------------------------------------

    def _cmd_topic_create(self, a: argparse.Namespace) -> Any:
        """Create a topic and wait for its leaders."""
        c = self.cluster
        if a.if_not_exists and a.name in c.topics():
            print(f"Topic {a.name} already exists.")
            return None
        c.create_topic(a.name, a.partitions, a.replication_factor, _config(a.config))
        parts = c.topic(a.name).partitions
        rf = len(parts[0].replicas)
        print(f"Created topic {a.name} with {len(parts)} partition(s), replication factor {rf}.")
        return None

    def _cmd_topic_list(self, a: argparse.Namespace) -> Any:
        """Topics with partitions, replication factor, records and config."""
        from kstream_nb.runtime.views import topics_table

        c = self.cluster
        return topics_table(
            c.describe(), c.topic_configs(), internal=a.internal or self.show_internal
        )

    def _cmd_topic_describe(self, a: argparse.Namespace) -> Any:
        """Partitions (leader, replicas, ISR, offsets) and config of one topic."""
        return self.cluster.topic(a.name).describe()

    def _cmd_topic_view(self, a: argparse.Namespace) -> Any:
        """A topic's high watermark per partition and messages per second, live charts."""
        from kstream_nb.jupyter.live import TopicView

        interval = max(self.refresh_interval, 0.5)
        return TopicView(self.cluster, a.name, interval=interval, window=a.window)

    def _cmd_topic_alter(self, a: argparse.Namespace) -> None:
        """Change a topic's config (--config, --delete-config) or add partitions."""
        c = self.cluster
        if not (a.config or a.delete_config or a.partitions):
            raise UsageError(
                "%kafka topic alter: nothing to change; give --config KEY=VALUE, "
                "--delete-config KEY or --partitions N"
            )
        if a.config or a.delete_config:
            config = dict(c.topic(a.name).config)
            config.update(_config(a.config))
            for key in a.delete_config or ():
                config.pop(key, None)
            c.alter_topic_config(a.name, config, replace=True)
            print(f"Topic {a.name} config: {config or 'all defaults'}")
        if a.partitions:
            c.create_partitions(a.name, a.partitions)
            print(f"Topic {a.name} now has {a.partitions} partitions.")

    def _cmd_topic_delete(self, a: argparse.Namespace) -> None:
        """Delete a topic and its data."""
        self.cluster.delete_topic(a.name)
        print(f"Deleted topic {a.name}.")

    # -- groups ----------------------------------------------------------------------------

    def _cmd_group_list(self, a: argparse.Namespace) -> Any:
        """Consumer groups with state, generation, members and lag."""
        return groups_table(self.cluster.groups())

    def _cmd_group_describe(self, a: argparse.Namespace) -> Any:
        """Members, assignment, committed offsets and lag of one group."""
        if a.live:
            return GroupView(self.cluster, a.id, interval=self.refresh_interval)
        return self.cluster.group(a.id).describe()

    def _cmd_group_reset_offsets(self, a: argparse.Namespace) -> Any:
        """Move a group's committed offsets (the group must have no active members)."""
        c = self.cluster
        group = next((g for g in c.groups() if g.group_id == a.id), None)
        if group is not None and group.members and not a.dry_run:
            raise UsageError(
                f"group {a.id} has {len(group.members)} active member(s); close its consumers "
                "first (Kafka only resets the offsets of an inactive group), or use --dry-run"
            )
        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
        partitions = [p.partition for p in c.topic(a.topic).partitions]
        if a.to_offset is not None:
            targets = dict.fromkeys(partitions, a.to_offset)
        else:
            spec = (
                OffsetSpec.earliest()
                if a.to_earliest
                else OffsetSpec.latest()
                if a.to_latest
                else OffsetSpec.for_timestamp(_datetime_ms(a.to_datetime))
            )
            futures = admin.list_offsets({TopicPartition(a.topic, p): spec for p in partitions})
            targets = {tp.partition: f.result(timeout=30).offset for tp, f in futures.items()}
            latest = admin.list_offsets(
                {TopicPartition(a.topic, p): OffsetSpec.latest() for p in partitions}
            )
            for tp, f in latest.items():  # no record at or after that time: the end
                if targets[tp.partition] < 0:
                    targets[tp.partition] = f.result(timeout=30).offset
        if not a.dry_run:
            request = ConsumerGroupTopicPartitions(
                a.id, [TopicPartition(a.topic, p, o) for p, o in sorted(targets.items())]
            )
            admin.alter_consumer_group_offsets([request])[a.id].result(timeout=30)
        title = f"{'Would reset' if a.dry_run else 'Reset'} group {a.id} on {a.topic}"
        return Table(["partition", "new offset"], sorted(targets.items()), title=title)

    # -- live views ------------------------------------------------------------------------

    def _cmd_tail(self, a: argparse.Namespace) -> Any:
        """The newest records of a topic, live (or --once as a table)."""
        c = self.cluster
        rows = self.tail_rows if a.rows is None else a.rows
        if a.once:
            found = c.tail(a.topic, rows, a.partition)
            records = [record_row(p, r, render_text) for p, r in found]
            columns = ["partition", "offset", "timestamp", "key", "value", "headers"]
            return Table(
                columns,
                [[record[name] for name in columns] for record in records],
                title=f"Newest records of {a.topic}",
            )
        return Tail(c, a.topic, rows=rows, interval=self.refresh_interval)

    def _cmd_dashboard(self, a: argparse.Namespace) -> Any:
        """Brokers and partitions, live: leaders, replicas, ISR, offsets."""
        return Dashboard(
            self.cluster,
            topics=a.topic,
            internal=a.internal or self.show_internal,
            interval=self.refresh_interval,
        )

    def _cmd_lag(self, a: argparse.Namespace) -> Any:
        """A consumer group's lag per partition, live with a chart (or --once as a table)."""
        from kstream_nb.jupyter.live import LagView

        if a.once:
            return self.cluster.group(a.group).describe()
        return LagView(self.cluster, a.group, interval=self.refresh_interval)

    def _cmd_events(self, a: argparse.Namespace) -> Any:
        """The cluster's own events (brokers, leaders, ISR, rebalances), live."""
        if a.once:
            return events_table(self.cluster.events()[-a.rows :])
        return EventLog(self.cluster, rows=a.rows, interval=self.refresh_interval)

    def _cmd_metrics(self, a: argparse.Namespace) -> Any:
        """Broker metrics under Kafka's JMX names (meters' Count, gauges' Value), now."""
        chosen = [
            m
            for m in self.cluster.metrics()
            if (a.broker is None or m.broker == a.broker)
            and a.pattern.lower() in m.mbean.lower()
            and (a.internal or not any(v.startswith("__") for k, v in m.tags if k == "topic"))
        ]
        if a.prometheus:
            print(prometheus_text(chosen), end="")
            return None
        return Table(
            ["broker", "mbean", "attribute", "value"],
            [(m.broker, m.mbean, m.attribute, m.value) for m in chosen],
            title="Broker metrics",
            footer="meters count from each broker's start; rates are the change over time",
        )

    # -- time ------------------------------------------------------------------------------

    def _cmd_time_advance(self, a: argparse.Namespace) -> None:
        """Simulated time: run everything due in the next DURATION."""
        c = self.cluster
        if not c.simulated:
            raise UsageError(
                "%kafka time advance moves simulated time; this cluster runs in real time "
                "(start one with %kafka cluster start --simulated --replace)"
            )
        now = c.advance(a.duration)
        c.publish()
        print(f"Simulated time is now {format_time(now)}.")

    def _cmd_time_now(self, a: argparse.Namespace) -> None:
        """The cluster's time (simulated or the wall clock)."""
        print(format_time(self.cluster.now_ms()))

    # -- %%produce -------------------------------------------------------------------------

    def _produce(self, a: argparse.Namespace, cell: str) -> Table:
        c = self.cluster
        fmt = a.format or self.produce_format
        records = parse_cell(cell, fmt, key=a.key, key_separator=a.key_separator)
        if not records:
            raise UsageError("%%produce: the cell has no records; write one per line")
        rate = _rate(a.rate)
        headers = _headers(a.header)
        if a.repeat < 1:
            raise UsageError(f"--repeat must be 1 or more, got {a.repeat}")
        if a.topic not in c.topics() and not c.broker_config.auto_create_topics_enable:
            raise UsageError(
                f"topic {a.topic!r} does not exist; create it with %kafka topic create {a.topic}"
            )
        producer = Producer(
            {
                "bootstrap.servers": c.bootstrap_servers,
                "acks": a.acks or self.produce_acks,
                "linger.ms": 0 if rate else 5,
            }
        )
        delivered: dict[int, list[int]] = {}
        failures: list[str] = []

        def report(err: Any, msg: Any) -> None:
            if err is not None:
                failures.append(str(err))
            else:
                delivered.setdefault(msg.partition(), []).append(msg.offset())

        partition = -1 if a.partition is None else a.partition
        sent = 0
        started = time.monotonic()
        for _ in range(a.repeat):
            for record in records:
                producer.produce(
                    a.topic,
                    record.value,
                    record.key,
                    partition=partition,
                    headers=headers or None,
                    on_delivery=report,
                )
                sent += 1
                if rate:
                    self._pace(c, producer, sent / rate - (time.monotonic() - started))
        remaining = producer.flush(30)
        if remaining:
            failures.append(f"{remaining} record(s) still unsent after 30 s")
        rows = [(p, len(o), min(o), max(o)) for p, o in sorted(delivered.items())]
        table = Table(
            ["partition", "records", "first offset", "last offset"],
            rows,
            title=f"Produced {sum(r[1] for r in rows)} record(s) to {a.topic}",
            footer=f"failed: {len(failures)} ({failures[0]})" if failures else None,
        )
        return table

    @staticmethod
    def _pace(cluster: Cluster, producer: Producer, ahead_s: float) -> None:
        if cluster.simulated:
            producer.poll(0)
            cluster.advance(max(1, int(ahead_s * 1000))) if ahead_s > 0 else None
        elif ahead_s > 0:
            producer.poll(ahead_s)


def _produce_parser() -> _Parser:
    p = _Parser(prog="%%produce", add_help=True, description=KafkaMagics.produce.__doc__)
    p.add_argument("topic")
    p.add_argument("--key", help="the field of each JSON/CSV record to use as its key")
    p.add_argument("--key-separator", help="text: split each line into key<SEP>value")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: jsonl")
    p.add_argument("--partition", type=int, default=None, help="default: by key (murmur2)")
    p.add_argument("--header", action="append", metavar="NAME=VALUE", help="repeatable")
    p.add_argument("--acks", choices=["all", "-1", "1", "0"], default=None)
    p.add_argument("--rate", default=None, help="records per second, like 100/s")
    p.add_argument("--repeat", type=int, default=1, help="send the cell this many times")
    return p


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="%kafka", description="An in-kernel Kafka cluster: start it, break it, watch it."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction[_Parser]] = {}
    for command, sub, method in _COMMANDS:
        doc = getattr(KafkaMagics, f"_cmd_{method}").__doc__
        if sub is None:
            p = commands.add_parser(command, help=_first_line(doc), description=doc)
        else:
            if command not in groups:
                parent = commands.add_parser(command, help=f"{command} commands")
                groups[command] = parent.add_subparsers(
                    dest="sub", metavar="SUBCOMMAND", required=True
                )
            p = groups[command].add_parser(sub, help=_first_line(doc), description=doc)
        p.set_defaults(method=method)
        _arguments(method, p)
    return parser


def _help_text() -> str:
    lines = [
        "Drive the in-kernel Kafka cluster. `%kafka COMMAND --help` explains one command.",
        "",
        "A cell that starts with a bare %%kafka runs one command per line.",
        "",
    ]
    for command, sub, method in _COMMANDS:
        doc = getattr(KafkaMagics, f"_cmd_{method}").__doc__
        name = f"{command} {sub}" if sub else command
        lines.append(f"  %kafka {name:<22} {_first_line(doc)}")
    return "\n".join(lines)


KafkaMagics.kafka.__doc__ = _help_text()
