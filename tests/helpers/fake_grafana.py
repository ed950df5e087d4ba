"""A small local Grafana implementing the documented HTTP API subset that publishing uses.

Shapes follow Grafana's Folder, Search and Dashboard HTTP API docs:
- every call needs ``Authorization: Bearer <token>`` (401 ``{"message": "Unauthorized"}``);
- ``GET /api/folders``, ``GET /api/folders/:uid`` (404 when missing),
  ``POST /api/folders {uid, title}`` (409 when the uid or title is taken);
- ``GET /api/search?type=dash-db&folderUIDs=..&tag=..`` (tags AND-ed, folders OR-ed);
- ``GET /api/dashboards/uid/:uid`` -> ``{"dashboard": {..., id, uid, version}, "meta": {...}}``;
- ``POST /api/dashboards/db {dashboard, folderUid, overwrite, message}``: with
  ``overwrite: false`` a stored dashboard whose version differs from the one sent answers
  412 ``version-mismatch``, and another dashboard with the same title in the folder answers
  412 ``name-exists``; success bumps ``version`` and answers ``{id, uid, url, status, version,
  slug}``;
- ``DELETE /api/dashboards/uid/:uid`` -> ``{title, message, id}``;
- annotations (the Annotations HTTP API, and Grafana's store for the filters):
  ``POST /api/annotations {time, timeEnd, tags, text, dashboardUID, panelId}`` -> ``{message:
  "Annotation added", id}`` (``text`` required; ``time`` defaults to now, ``timeEnd`` to
  ``time``; a ``timeEnd`` before ``time`` is 400); ``GET /api/annotations`` with ``from`` /
  ``to`` (epoch ms: only when both are given, those with ``time <= to`` and ``timeEnd >=
  from``), ``tags`` (repeated: every one, or any with ``matchAny=true``), ``type``
  (``annotation`` | ``alert``), ``dashboardUID``, ``panelId``, ``limit`` (default 100), newest
  ``timeEnd`` first; ``DELETE /api/annotations/:id``.

Run it in a thread: ``with FakeGrafana(token) as grafana: grafana.url ...``. ``calls``
records every request (method, path) so tests can prove a dry run wrote nothing. Faults for
the next calls: ``fail_next`` (answer a status, store nothing) and ``lose_next`` (do the work,
then close the connection without an answer, as a network that drops it does).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@dataclass
class Stored:
    id: int
    dashboard: dict[str, Any]
    folder_uid: str
    messages: list[str] = field(default_factory=list)


class FakeGrafana:
    def __init__(self, token: str) -> None:
        self.token = token
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, Stored] = {}
        self.calls: list[tuple[str, str]] = []
        self.annotations: dict[int, dict[str, Any]] = {}
        self.faults: list[tuple[str, str, int]] = []  # (method, path prefix, status or 0)
        self._next_id = 1
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ test set-up

    def add_folder(self, uid: str, title: str) -> None:
        self.folders[uid] = {"id": self._new_id(), "uid": uid, "title": title, "version": 1}

    def add_dashboard(self, dashboard: dict[str, Any], folder_uid: str, version: int = 1) -> None:
        stored = copy.deepcopy(dashboard)
        stored_id = self._new_id()
        stored.update(id=stored_id, version=version)
        self.dashboards[stored["uid"]] = Stored(stored_id, stored, folder_uid)

    def fail_next(
        self, count: int, status: int = 503, method: str = "POST", path: str = ""
    ) -> None:
        """Answer the next ``count`` matching calls with ``status``, doing nothing."""
        self.faults += [(method, path, status)] * count

    def lose_next(self, count: int, method: str = "POST", path: str = "") -> None:
        """Do the next ``count`` matching calls, then close the connection unanswered."""
        self.faults += [(method, path, 0)] * count

    def fault(self, method: str, path: str) -> int | None:
        for n, (m, prefix, status) in enumerate(self.faults):
            if m == method and path.startswith(prefix):
                del self.faults[n]
                return status
        return None

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in ("POST", "PUT", "DELETE")]

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------------ the API

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "GET" and parts == ["api", "folders"]:
            return 200, [{k: f[k] for k in ("id", "uid", "title")} for f in self.folders.values()]
        if method == "GET" and parts[:2] == ["api", "folders"] and len(parts) == 3:
            found = self.folders.get(parts[2])
            return (200, self._folder(found)) if found else (404, _msg("folder not found"))
        if method == "POST" and parts == ["api", "folders"]:
            return self._create_folder(body)
        if method == "GET" and parts == ["api", "search"]:
            return 200, self._search(query)
        if parts[:3] == ["api", "dashboards", "uid"] and len(parts) == 4:
            if method == "GET":
                return self._get(parts[3])
            if method == "DELETE":
                return self._delete(parts[3])
        if method == "POST" and parts == ["api", "dashboards", "db"]:
            return self._save(body)
        if parts == ["api", "annotations"] and method in ("GET", "POST"):
            return self._add_annotation(body) if method == "POST" else self._annotations(query)
        if parts[:2] == ["api", "annotations"] and len(parts) == 3 and method == "DELETE":
            found = parts[2].isdigit() and self.annotations.pop(int(parts[2]), None)
            return (
                (200, _msg("Annotation deleted")) if found else (404, _msg("Annotation not found"))
            )
        return 404, _msg("Not found")

    # ------------------------------------------------------------------ annotations

    def _add_annotation(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, _msg("bad request data")
        text, tags = body.get("text"), body.get("tags") or []
        if not isinstance(text, str) or not text:
            return 400, _msg("Failed to save annotation: text field should not be empty")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return 400, _msg("bad request data")
        start = body.get("time") or int(time.time() * 1000)
        end = body.get("timeEnd") or start
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            return 400, _msg("bad request data")
        if end < start:
            return 400, _msg("Failed to save annotation: invalid time range")
        new_id = self._new_id()
        now = int(time.time() * 1000)
        self.annotations[new_id] = {
            "id": new_id,
            "alertId": 0,
            "dashboardId": 0,
            "dashboardUID": body.get("dashboardUID") or "",
            "panelId": int(body.get("panelId") or 0),
            "userId": 1,
            "newState": "",
            "prevState": "",
            "created": now,
            "updated": now,
            "time": start,
            "timeEnd": end,
            "text": text,
            "tags": list(tags),
            "login": "sre-daemon",
            "data": {},
        }
        return 200, {"message": "Annotation added", "id": new_id}

    def _annotations(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        def number(name: str, default: int = 0) -> int:
            raw = query.get(name, [""])[0]
            return int(raw) if raw.lstrip("-").isdigit() else default

        start, end, limit = number("from"), number("to"), number("limit") or 100
        tags = query.get("tags", [])
        any_tag = query.get("matchAny", ["false"])[0] == "true"
        kind = query.get("type", [""])[0]
        found = []
        for a in self.annotations.values():
            if start > 0 and end > 0 and not (a["time"] <= end and a["timeEnd"] >= start):
                continue
            if kind in ("annotation", "alert") and (a["alertId"] > 0) != (kind == "alert"):
                continue
            if tags and not (any if any_tag else all)(t in a["tags"] for t in tags):
                continue
            if "dashboardUID" in query and a["dashboardUID"] != query["dashboardUID"][0]:
                continue
            if "panelId" in query and a["panelId"] != number("panelId"):
                continue
            found.append(copy.deepcopy(a))
        found.sort(key=lambda a: (a["timeEnd"], a["time"]), reverse=True)
        return 200, found[:limit]

    def _folder(self, f: dict[str, Any]) -> dict[str, Any]:
        return {**f, "url": f"/dashboards/f/{f['uid']}/{_slug(f['title'])}", "canSave": True}

    def _create_folder(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("title"):
            return 400, _msg("folder title cannot be empty")
        uid = body.get("uid") or f"f{self._next_id}"
        if uid in self.folders:
            return 409, _msg("a folder with the same uid already exists")
        if any(f["title"] == body["title"] for f in self.folders.values()):
            return 409, _msg("a folder with the same name already exists")
        self.add_folder(uid, body["title"])
        return 200, self._folder(self.folders[uid])

    def _search(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        if query.get("type", ["dash-db"])[0] != "dash-db":
            return []
        folders = [u for v in query.get("folderUIDs", []) for u in v.split(",") if u]
        tags = query.get("tag", [])
        hits = []
        for uid, s in self.dashboards.items():
            dash_tags = list(s.dashboard.get("tags") or [])
            if folders and s.folder_uid not in folders:
                continue
            if not all(t in dash_tags for t in tags):
                continue
            title = s.dashboard.get("title", "")
            folder = self.folders.get(s.folder_uid, {})
            hits.append(
                {
                    "id": s.id,
                    "uid": uid,
                    "title": title,
                    "uri": f"db/{_slug(title)}",
                    "url": f"/d/{uid}/{_slug(title)}",
                    "slug": "",
                    "type": "dash-db",
                    "tags": dash_tags,
                    "isStarred": False,
                    "folderId": folder.get("id", 0),
                    "folderUid": s.folder_uid,
                    "folderTitle": folder.get("title", "General"),
                }
            )
        return sorted(hits, key=lambda h: h["title"])

    def _get(self, uid: str) -> tuple[int, Any]:
        s = self.dashboards.get(uid)
        if s is None:
            return 404, _msg("Dashboard not found")
        folder = self.folders.get(s.folder_uid, {})
        title = s.dashboard.get("title", "")
        meta = {
            "type": "db",
            "canSave": True,
            "slug": _slug(title),
            "url": f"/d/{uid}/{_slug(title)}",
            "version": s.dashboard["version"],
            "folderId": folder.get("id", 0),
            "folderUid": s.folder_uid,
            "folderTitle": folder.get("title", "General"),
        }
        return 200, {"dashboard": copy.deepcopy(s.dashboard), "meta": meta}

    def _delete(self, uid: str) -> tuple[int, Any]:
        s = self.dashboards.pop(uid, None)
        if s is None:
            return 404, _msg("Dashboard not found")
        title = s.dashboard.get("title", "")
        return 200, {"title": title, "message": f"Dashboard {title} deleted", "id": s.id}

    def _save(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
            return 400, _msg("bad request data")
        dash = copy.deepcopy(body["dashboard"])
        title = dash.get("title") or ""
        if not title.strip():
            return 400, _msg("Dashboard title cannot be empty")
        folder_uid = body.get("folderUid") or ""
        if folder_uid and folder_uid not in self.folders:
            return 400, _msg("folder not found")
        overwrite = bool(body.get("overwrite"))
        uid = dash.get("uid") or f"d{self._next_id}"
        existing = self.dashboards.get(uid)
        if existing is None and dash.get("id"):
            return 404, _msg("Dashboard not found")
        if existing is not None and not overwrite:
            if dash.get("version", 0) != existing.dashboard["version"]:
                return 412, {
                    "message": "The dashboard has been changed by someone else",
                    "status": "version-mismatch",
                }
        for other_uid, other in list(self.dashboards.items()):
            same = other.folder_uid == folder_uid and other.dashboard.get("title") == title
            if same and other_uid != uid:
                if not overwrite:
                    return 412, {
                        "message": "A dashboard with the same name in the folder already exists",
                        "status": "name-exists",
                    }
                del self.dashboards[other_uid]
        version = existing.dashboard["version"] + 1 if existing else 1
        stored_id = existing.id if existing else self._new_id()
        dash.update(uid=uid, id=stored_id, version=version)
        messages = [*(existing.messages if existing else []), str(body.get("message", ""))]
        self.dashboards[uid] = Stored(stored_id, dash, folder_uid, messages)
        return 200, {
            "id": stored_id,
            "uid": uid,
            "url": f"/d/{uid}/{_slug(title)}",
            "status": "success",
            "version": version,
            "slug": _slug(title),
        }


def _msg(text: str) -> dict[str, str]:
    return {"message": text}


def _handler(grafana: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with grafana._lock:
                grafana.calls.append((self.command, parts.path))
                fault = grafana.fault(self.command, parts.path)
                if fault:  # an answer, and nothing done
                    status, payload = fault, _msg("injected fault")
                elif self.headers.get("Authorization") != f"Bearer {grafana.token}":
                    status, payload = 401, _msg("Unauthorized")
                else:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        status, payload = 400, _msg("bad request data")
                    else:
                        query = parse_qs(parts.query)
                        status, payload = grafana.handle(self.command, parts.path, query, body)
            if fault == 0:  # done, and the answer lost on the way
                self.close_connection = True
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
