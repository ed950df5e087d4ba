"""The alerts feature's tables, their migrations, and the SQL text ``state.py`` runs."""

from __future__ import annotations

import sqlalchemy as sa

from sre.runtime.store.contract import Tx
from sre.runtime.store.tables import ID, TIME

tables = sa.MetaData()
alert_groups = sa.Table(
    "alert_groups",
    tables,
    sa.Column("group_key", sa.Text, primary_key=True),
    sa.Column("channel", sa.Text),
    sa.Column("ts", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="firing"),
    sa.Column("view", sa.Text),
    sa.Column("started_at", TIME),
    sa.Column("resolved_at", TIME),
    sa.Column("ack_by", sa.Text),
    sa.Column("ack_at", TIME),
    sa.Column("silence_id", sa.Text),
    sa.Column("silence_url", sa.Text),
    sa.Column("silenced_by", sa.Text),
    sa.Column("applied_item", ID),
    sa.Column("updated_at", TIME, nullable=False),
)
slack_messages = sa.Table(
    "slack_messages",
    tables,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("ts", sa.Text, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)


digests = sa.Table(
    "digests",
    tables,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("ts", sa.Text),
    sa.Column("opened_at", TIME, nullable=False),
    sa.Column("closed_at", TIME),
    sqlite_autoincrement=True,
)


def _create(tx: Tx) -> None:
    tx.create(alert_groups, slack_messages)


def _digests(tx: Tx) -> None:
    """Migration 2: storm digests, and which digest a group belongs to."""
    tx.create(digests)
    tx.execute("ALTER TABLE alert_groups ADD COLUMN digest_id BIGINT")


MIGRATIONS = (_create, _digests)

GROUP_COLUMNS = (*(c.name for c in alert_groups.columns), "digest_id")
ACTION_COLUMNS = ("ack_by", "ack_at", "silence_id", "silence_url", "silenced_by")
DELIVERY_COLUMNS = tuple(c for c in GROUP_COLUMNS if c not in ACTION_COLUMNS)

GROUP = f"SELECT {', '.join(GROUP_COLUMNS)} FROM alert_groups WHERE group_key = :k"
GROUPS = f"SELECT {', '.join(GROUP_COLUMNS)} FROM alert_groups WHERE group_key IN :keys"
MEMBERS = f"SELECT {', '.join(GROUP_COLUMNS)} FROM alert_groups WHERE digest_id = :id"
DIGEST_COLUMNS = "id, channel, ts, opened_at, closed_at"
FIRING = (
    f"SELECT {', '.join(GROUP_COLUMNS)} FROM alert_groups "
    "WHERE status = 'firing' AND ts IS NOT NULL"
)
SAVE_GROUP = (
    f"INSERT INTO alert_groups ({', '.join(DELIVERY_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in DELIVERY_COLUMNS)}) "
    "ON CONFLICT (group_key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in DELIVERY_COLUMNS[1:])
)
MESSAGE_OF = "SELECT channel, ts FROM slack_messages WHERE key = :key"
REMEMBER_MESSAGE = (
    "INSERT INTO slack_messages (key, channel, ts, created_at) VALUES (:key, :channel, :ts, "
    ":now) ON CONFLICT (key) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, "
    "created_at = excluded.created_at"
)
