"""Clients whose side effects check a term first (``term.py``).

* :class:`FencedPoster`: the Slack poster the outbox delivery uses in one leader term. A
  post was claimed already (the item's *sending* mark, set in a transaction that checks
  the term); right before the call the term is checked once more on the local clock, the
  last check possible (Slack takes no fencing token). An update has no such mark: it is
  claimed here, in a transaction of its own, and then checked on the clock the same way.
* :class:`FencedAlertmanager`: silences, created by whichever replica Slack sent the
  button click to, under that replica's membership term.

A refused call raises :class:`Fenced` (the poster) or ``ClientError("fenced")`` (the
Alertmanager client, whose callers report client errors to the user); it is counted in
``sre_ha_fenced_actions_total`` either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from sre.clients import ClientError
from sre.clients.alertmanager import AlertmanagerClient
from sre.clients.slack import Poster
from sre.runtime.ha.term import Fenced, Term
from sre.runtime.store import Store


async def claim(store: Store, term: Term, action: str) -> None:
    """A transaction that only checks ``term``: Fenced when it is over."""

    def check() -> None:
        with store.transaction() as tx:
            term.check(tx, action)

    await store.run(check)


class FencedPoster:
    def __init__(self, poster: Poster, term: Term, store: Store) -> None:
        self.poster = poster
        self.term = term
        self.store = store

    async def open(self) -> None:
        await self.poster.open()

    async def close(self) -> None:
        await self.poster.close()

    async def post(
        self,
        channel: str,
        message: dict[str, Any],
        *,
        thread_ts: str | None = None,
        post_id: str | None = None,
    ) -> tuple[str, str]:
        self.term.guard("slack_post")
        return await self.poster.post(channel, message, thread_ts=thread_ts, post_id=post_id)

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        await claim(self.store, self.term, "slack_update")
        self.term.guard("slack_update")
        await self.poster.update(channel, ts, message)

    async def ephemeral(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        self.term.guard("slack_post")
        await self.poster.ephemeral(channel, user, text, thread_ts=thread_ts)

    async def find(
        self, channel: str, post_id: str, *, since: float, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        return await self.poster.find(channel, post_id, since=since, thread_ts=thread_ts)


class FencedAlertmanager(AlertmanagerClient):
    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        term: Callable[[], Term],
        store: Store,
    ) -> None:
        super().__init__(base_url, session)
        self._term = term
        self._store = store

    async def create_silence(
        self,
        labels: Mapping[str, str],
        *,
        starts_at: float,
        ends_at: float,
        created_by: str,
        comment: str,
    ) -> str:
        term = self._term()
        try:
            await claim(self._store, term, "silence")
            term.guard("silence")
        except Fenced as err:
            raise ClientError("fenced", str(err), retryable=False) from None
        return await super().create_silence(
            labels, starts_at=starts_at, ends_at=ends_at, created_by=created_by, comment=comment
        )
