"""The deploys feature's tables (component ``deploys``) and its outbox topics.

* ``deploy_threads``: one row per (service, revision): its status, the latest verdict on
  it, and where its Slack message is (``channel``, ``ts``: written only by the delivery of
  its ``post``, so a reaction saved from an older read never erases them).
* ``deploy_annotations``: the Grafana id of every annotation created, by outbox key.
* outbox topics: ``event`` (consumed: each event is marked delivered in the transaction
  that saves what it changed and queues what follows), ``deploys.slack`` and
  ``deploys.grafana`` (delivered by ``delivery.py``).

On several replicas only the leader consumes and delivers, through ``fenced(term)``: every
write of the consumer and the delivery checks, in its transaction, that the term holds.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from sre.features.deploys.model import OPEN, ROLLING_OUT, Reaction, Thread
from sre.runtime.events import EVENT_TOPIC
from sre.runtime.ha import Term
from sre.runtime.store import OutboxItem, Store
from sre.runtime.store.contract import Tx
from sre.runtime.store.tables import TIME

COMPONENT = "deploys"
SLACK_TOPIC = "deploys.slack"
GRAFANA_TOPIC = "deploys.grafana"
WORK_TOPICS = (SLACK_TOPIC, GRAFANA_TOPIC)
ALL_TOPICS = (EVENT_TOPIC, *WORK_TOPICS)

tables = sa.MetaData()
deploy_threads = sa.Table(
    "deploy_threads",
    tables,
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("revision", sa.Text, primary_key=True),
    sa.Column("previous", sa.Text),
    sa.Column("deployed_at", TIME, nullable=False),
    sa.Column("watch_until", TIME, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("verdict", sa.Text),
    sa.Column("verdict_line", sa.Text, nullable=False, server_default=""),
    sa.Column("channel", sa.Text),
    sa.Column("ts", sa.Text),
    sa.Column("updated_at", TIME, nullable=False),
)
sa.Index("deploy_threads_status", deploy_threads.c.status, deploy_threads.c.watch_until)
deploy_annotations = sa.Table(
    "deploy_annotations",
    tables,
    sa.Column("item_key", sa.Text, primary_key=True),
    sa.Column("grafana_id", sa.BigInteger, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)


def _create(tx: Tx) -> None:
    tx.create(deploy_threads, deploy_annotations)


MIGRATIONS = (_create,)

COLUMNS = (
    "service, revision, previous, deployed_at, watch_until, status, detail, verdict, "
    "verdict_line, channel, ts"
)
SAVE = (
    "INSERT INTO deploy_threads (service, revision, previous, deployed_at, watch_until, "
    "status, detail, verdict, verdict_line, updated_at) VALUES (:service, :revision, "
    ":previous, :deployed_at, :watch_until, :status, :detail, :verdict, :verdict_line, :now) "
    "ON CONFLICT (service, revision) DO UPDATE SET status = excluded.status, "
    "detail = excluded.detail, verdict = excluded.verdict, "
    "verdict_line = excluded.verdict_line, updated_at = excluded.updated_at"
)
POSTED = (
    "UPDATE deploy_threads SET channel = :channel, ts = :ts "
    "WHERE service = :service AND revision = :revision"
)
ONE = f"SELECT {COLUMNS} FROM deploy_threads WHERE service = :service AND revision = :revision"
OF_SERVICE = f"SELECT {COLUMNS} FROM deploy_threads WHERE service = :service AND status = :status"
DUE = (
    f"SELECT {COLUMNS} FROM deploy_threads WHERE status IN :open AND watch_until <= :now "
    "ORDER BY watch_until"
)
ANNOTATED = (
    "INSERT INTO deploy_annotations (item_key, grafana_id, created_at) "
    "VALUES (:key, :id, :now) ON CONFLICT (item_key) DO NOTHING"
)


def _thread(row: Any) -> Thread:
    return Thread(**dict(row))


class DeployState:
    """Every method is a coroutine: the SQL runs on the store's worker thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.term: Term | None = None  # set on the copy a leader term works with
        store.migrate(COMPONENT, MIGRATIONS)

    def fenced(self, term: Term) -> DeployState:
        """This state, with every write refused (``Fenced``) once ``term`` is over."""
        other = copy.copy(self)
        other.term = term
        return other

    @contextmanager
    def _tx(self, action: str = "outbox") -> Iterator[Tx]:
        with self.store.transaction() as tx:
            if self.term is not None:
                self.term.check(tx, action)  # Fenced: the transaction writes nothing
            yield tx

    # ------------------------------------------------------------------ threads

    async def thread(self, service: str, revision: str) -> Thread | None:
        return await self.store.run(self._one, ONE, {"service": service, "revision": revision})

    async def rolling_out(self, service: str) -> list[Thread]:
        return await self.store.run(
            self._all, OF_SERVICE, {"service": service, "status": ROLLING_OUT}
        )

    async def due(self, now: float) -> list[Thread]:
        return await self.store.run(self._all, DUE, {"open": list(OPEN), "now": now})

    def _one(self, sql: str, params: dict[str, Any]) -> Thread | None:
        with self.store.transaction() as tx:
            row = tx.one(sql, params)
        return _thread(row) if row is not None else None

    def _all(self, sql: str, params: dict[str, Any]) -> list[Thread]:
        with self.store.transaction() as tx:
            return [_thread(r) for r in tx.all(sql, params)]

    # ------------------------------------------------------------------ events in

    async def events(self, limit: int = 500) -> list[OutboxItem]:
        return await self.store.run(self.store.outbox_pending, [EVENT_TOPIC], limit)

    async def apply(self, reaction: Reaction, key: str, event_id: int | None = None) -> None:
        """In one transaction: save the threads, queue the Slack steps and annotations,
        mark the event (if any) delivered. ``key`` makes the queued items' keys unique."""
        await self.store.run(self._apply, reaction, key, event_id)

    def _apply(self, reaction: Reaction, key: str, event_id: int | None) -> None:
        now = self.store.clock()
        with self._tx() as tx:
            for t in reaction.threads:
                values = {k: getattr(t, k) for k in COLUMNS.split(", ")[:9]}
                tx.execute(SAVE, {**values, "now": now})
            for n, step in enumerate(reaction.slack):
                step_key = f"{step['service']}@{step['revision']}" if step["op"] == "post" else None
                self.store.outbox_add(SLACK_TOPIC, step, step_key or f"{key}:{n}")
            for n, body in enumerate(reaction.annotations):
                self.store.outbox_add(GRAFANA_TOPIC, {"annotation": body}, f"{key}:a{n}")
            if event_id is not None:
                self.store.outbox_delivered(event_id)

    # ------------------------------------------------------------------ work out

    async def work(self, limit: int = 500) -> list[OutboxItem]:
        return await self.store.run(self.store.outbox_pending, list(WORK_TOPICS), limit)

    async def sending(self, item_id: int, action: str) -> None:
        """The claim before a post (``slack_post``) or an annotation (``annotation``)."""
        await self.store.run(self._mark, self.store.outbox_sending, item_id, action)

    async def done(self, item_id: int) -> None:
        await self.store.run(self._mark, self.store.outbox_delivered, item_id, "outbox")

    def _mark(self, mark: Callable[[int], None], item_id: int, action: str) -> None:
        with self._tx(action):
            mark(item_id)

    async def posted(self, item_id: int, thread: Thread, channel: str, ts: str) -> None:
        await self.store.run(self._posted, item_id, thread, channel, ts)

    def _posted(self, item_id: int, thread: Thread, channel: str, ts: str) -> None:
        params = {"service": thread.service, "revision": thread.revision}
        with self._tx() as tx:
            tx.execute(POSTED, {**params, "channel": channel, "ts": ts})
            self.store.outbox_delivered(item_id)

    async def annotated(self, item_id: int, key: str, grafana_id: int) -> None:
        await self.store.run(self._annotated, item_id, key, grafana_id)

    def _annotated(self, item_id: int, key: str, grafana_id: int) -> None:
        with self._tx() as tx:
            tx.execute(ANNOTATED, {"key": key, "id": grafana_id, "now": self.store.clock()})
            self.store.outbox_delivered(item_id)

    async def annotation_ids(self) -> dict[str, int]:
        return await self.store.run(self._annotation_ids)

    def _annotation_ids(self) -> dict[str, int]:
        with self.store.transaction() as tx:
            rows = tx.all("SELECT item_key, grafana_id FROM deploy_annotations")
        return {r["item_key"]: int(r["grafana_id"]) for r in rows}

    async def retry(self, item_id: int, error: str, delay: float, *, maybe_sent: bool) -> None:
        call = functools.partial(self.store.outbox_retry, maybe_sent=maybe_sent)
        await self.store.run(call, item_id, error, delay)

    async def failed(self, item_id: int, error: str) -> None:
        await self.store.run(self.store.outbox_failed, item_id, error)

    def pending_count(self) -> int:
        return sum(self.store.outbox_count(topic) for topic in ALL_TOPICS)

    async def prune(self, before: float, topics: Sequence[str] = ALL_TOPICS) -> int:
        return await self.store.run(self.store.outbox_prune, list(topics), before)
