"""Deploys: one Slack thread per new revision, and Grafana annotations of deploys,
rollbacks and silences, from the events other features publish.

``feature`` (the loop: consume, settle, deliver), ``model`` (what each event does to a
thread, and a watch window's end: pure), ``messages`` (the thread's parent message: pure),
``state`` (threads, annotation ids, outbox topics), ``delivery`` (Slack at most once,
Grafana at least once without duplicates), ``metrics``.
"""
