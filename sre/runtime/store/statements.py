"""The SQL text of the state store's core tables, in the dialect SQLite (>= 3.35) and
PostgreSQL share (``sql.SqlStore`` runs it; ``tables.py`` declares the tables)."""

VERSION = "SELECT version FROM schema_versions WHERE component = :component"
SET_VERSION = (
    "INSERT INTO schema_versions (component, version, applied_at) VALUES (:c, :v, :t) "
    "ON CONFLICT (component) DO UPDATE SET version = excluded.version, "
    "applied_at = excluded.applied_at"
)
PROBE_KEY, PROBE_BYTES = "sre:writable-probe", 256 * 1024  # see SqlStore.writable
PROBE_WRITE = "INSERT INTO cache (key, value, expires_at) VALUES (:key, :value, 0)"
PROBE_UNDO = "DELETE FROM cache WHERE key = :key"
TOUCH = "UPDATE schema_versions SET applied_at = applied_at WHERE component = 'core'"
CLAIM = (
    "INSERT INTO idempotency (scope, key, created_at) VALUES (:scope, :key, :now) "
    "ON CONFLICT DO NOTHING"
)
CLAIMED = "SELECT 1 FROM idempotency WHERE scope = :scope AND key = :key"
FORGET = "DELETE FROM idempotency WHERE scope = :scope AND created_at < :before"
UNCLAIM = "DELETE FROM idempotency WHERE scope = :scope AND key = :key"
# A key queued before inserts nothing and draws no id (PostgreSQL's ON CONFLICT alone would
# draw one: a gap the outbox reader would have to wait out); ON CONFLICT for the race.
OUTBOX_ADD = (
    "INSERT INTO outbox (topic, key, payload, next_attempt_at, created_at) "
    "SELECT :topic, :key, :payload, :now, :now WHERE NOT EXISTS "
    "(SELECT 1 FROM outbox WHERE topic = :topic AND key = :key) "
    "ON CONFLICT DO NOTHING RETURNING id"
)
OUTBOX_COLUMNS = (
    "id, topic, key, payload, status, attempts, next_attempt_at, created_at, delivered_at, "
    "last_error, sending_at"
)
OUTBOX_PENDING = (
    f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND topic IN :topics "
    "AND id > :after ORDER BY id LIMIT :limit"
)
OUTBOX_PENDING_UPTO = (
    f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND topic IN :topics "
    "AND id > :after AND id <= :top ORDER BY id LIMIT :limit"
)
OUTBOX_SENDING = "UPDATE outbox SET sending_at = :now WHERE id = :id"
OUTBOX_DELIVERED = (
    "UPDATE outbox SET status = 'delivered', delivered_at = :now, attempts = attempts + 1, "
    "last_error = NULL WHERE id = :id"
)
OUTBOX_RETRY = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = :error, next_attempt_at = :at, "
    "sending_at = CASE WHEN :maybe_sent = 1 THEN sending_at ELSE NULL END WHERE id = :id"
)
OUTBOX_FAILED = (
    "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = :error "
    "WHERE id = :id"
)
OUTBOX_COUNT = "SELECT count(*) FROM outbox WHERE status = 'pending'"
OUTBOX_COUNT_TOPIC = "SELECT count(*) FROM outbox WHERE status = 'pending' AND topic = :t"
OUTBOX_PRUNE = (
    "DELETE FROM outbox WHERE topic IN :topics AND status = 'delivered' AND delivered_at < :before"
)
AUDIT_ADD = (
    "INSERT INTO audit (ts, kind, subject, data) VALUES (:ts, :kind, :subject, :data) RETURNING id"
)
AUDIT_COLUMNS = "id, ts, kind, subject, data"
CACHE_GET = "SELECT value FROM cache WHERE key = :key AND (expires_at IS NULL OR expires_at > :now)"
CACHE_PUT = (
    "INSERT INTO cache (key, value, expires_at) VALUES (:key, :value, :expires) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
CACHE_PURGE = "DELETE FROM cache WHERE expires_at IS NOT NULL AND expires_at <= :now"
