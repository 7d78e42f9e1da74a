//! The workspace schema and its migrations.
//!
//! `PRAGMA user_version` holds the schema version; migration `i` (0-based)
//! takes a workspace from version `i` to `i + 1`. Every migration runs in the
//! same transaction as the version bump, so a workspace is never half-migrated.

/// `PRAGMA application_id` of every Prism workspace: "PRSM" in ASCII.
pub const APPLICATION_ID: i32 = 0x5052_534D;

/// Lookup indexes a first load of their table drops and leaves out: the
/// engine keeps its own columns, so nothing the app shows reads through
/// them, and one sort when a query first needs one costs less than a
/// B-tree insert per row on every import. [`Store::ensure_index`] builds
/// one; from then on every load keeps it. What the engine reads comes in
/// storage order, and per-name figures come from `event_stats`.
///
/// [`Store::ensure_index`]: super::Store::ensure_index
pub const ON_DEMAND_INDEXES: &[OnDemandIndex] = &[EVENTS_BY_CUSTOMER, CUSTOMERS_BY_EMAIL];

/// A customer's events by name and time, for SQL run on the workspace
/// (its correlated subqueries: `Store::query_customer_ids`, the oracle)
/// and for an import's check for events the workspace already has. Both
/// build it the first time they run.
pub const EVENTS_BY_CUSTOMER: OnDemandIndex = OnDemandIndex {
    name: "events_customer_name_time",
    table: "events",
    create: "CREATE INDEX IF NOT EXISTS events_customer_name_time ON events(customer_id, name, time)",
};

/// Customers by email. Imports keep every key in memory and the app finds
/// customers through the engine; only an erasure by email looks one up in
/// SQLite, and it reads the table (a million customers in a fraction of
/// a second) rather than build this. Workspaces from before keep it.
pub const CUSTOMERS_BY_EMAIL: OnDemandIndex = OnDemandIndex {
    name: "customers_email",
    table: "customers",
    create: "CREATE INDEX IF NOT EXISTS customers_email ON customers(email)",
};

/// A lookup index a first load of its table drops (see [`ON_DEMAND_INDEXES`]).
pub struct OnDemandIndex {
    pub name: &'static str,
    pub table: &'static str,
    pub create: &'static str,
}

pub const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    r#"
CREATE TABLE workspace_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE custom_fields (
    name       TEXT PRIMARY KEY,
    field_type TEXT NOT NULL CHECK (field_type IN ('text', 'number', 'date', 'timestamp', 'bool')),
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE customers (
    id            INTEGER PRIMARY KEY,
    external_id   TEXT NOT NULL UNIQUE,
    email         TEXT,
    first_name    TEXT,
    last_name     TEXT,
    birth_date    TEXT,
    gender        TEXT,
    city          TEXT,
    country       TEXT,
    signup_at     INTEGER,
    email_consent INTEGER NOT NULL DEFAULT 0 CHECK (email_consent IN (0, 1))
) STRICT;
CREATE INDEX customers_email ON customers(email);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    time        INTEGER NOT NULL,
    value       REAL,
    product     TEXT,
    category    TEXT,
    campaign    TEXT,
    properties  TEXT CHECK (properties IS NULL OR json_valid(properties))
) STRICT;
CREATE INDEX events_customer_name_time ON events(customer_id, name, time);
CREATE INDEX events_name_time ON events(name, time);

CREATE TABLE products (
    sku      TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    category TEXT,
    price    REAL
) STRICT;

CREATE TABLE templates (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    subject    TEXT NOT NULL,
    preheader  TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE campaigns (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    subject     TEXT,
    sent_at     INTEGER,
    template_id INTEGER REFERENCES templates(id) ON DELETE SET NULL
) STRICT;

CREATE TABLE segments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    color       TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    rule        TEXT NOT NULL CHECK (json_valid(rule)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE segment_versions (
    id           INTEGER PRIMARY KEY,
    segment_id   INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    rule         TEXT NOT NULL CHECK (json_valid(rule)),
    saved_at     INTEGER NOT NULL,
    member_count INTEGER,
    as_of        INTEGER,
    note         TEXT NOT NULL DEFAULT '',
    UNIQUE (segment_id, version)
) STRICT;

CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    file_name   TEXT NOT NULL,
    file_hash   TEXT NOT NULL,
    file_size   INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    rows_read   INTEGER NOT NULL DEFAULT 0,
    inserted    INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    merged      INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    report      TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX imports_hash ON imports(file_hash);
"#,
    // 1 → 2: user-defined scoring models for computed traits.
    r#"
CREATE TABLE scores (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL CHECK (json_valid(definition)),
    updated_at INTEGER NOT NULL
) STRICT;
"#,
    // 2 → 3: events keep the id their source gave them (an order id), so
    // re-importing an updated file updates instead of duplicating.
    r#"
ALTER TABLE events ADD COLUMN source_key TEXT;
CREATE UNIQUE INDEX events_source_key ON events(name, source_key) WHERE source_key IS NOT NULL;
"#,
    // 3 → 4: templates get a sender and an optional plain-text body, and are
    // saved with versions like segments; the content map says which
    // template (and which A/B variants, in what split) each segment gets.
    r#"
ALTER TABLE templates ADD COLUMN from_name TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN from_address TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN text_body TEXT;

CREATE TABLE template_versions (
    id           INTEGER PRIMARY KEY,
    template_id  INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    subject      TEXT NOT NULL,
    preheader    TEXT NOT NULL,
    body         TEXT NOT NULL,
    text_body    TEXT,
    from_name    TEXT NOT NULL,
    from_address TEXT NOT NULL,
    saved_at     INTEGER NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    UNIQUE (template_id, version)
) STRICT;

CREATE TABLE content_map (
    segment_id  INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    variant     TEXT NOT NULL,
    template_id INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    weight      INTEGER NOT NULL CHECK (weight > 0),
    PRIMARY KEY (segment_id, variant)
) STRICT;
"#,
    // 4 → 5: how many events of each name and their time range are kept
    // beside the events by every writer, so the (name, time) index, which
    // took more than half of a large import, is no longer needed.
    r#"
CREATE TABLE event_stats (
    name   TEXT PRIMARY KEY,
    events INTEGER NOT NULL,
    first  INTEGER NOT NULL,
    last   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO event_stats(name, events, first, last)
    SELECT name, count(*), min(time), max(time) FROM events GROUP BY name;
DROP INDEX IF EXISTS events_name_time;
"#,
    // 5 → 6: an audit log of what was done to the customers' data beyond
    // imports (which the imports table records): erasures, and what later
    // privacy work adds. It never holds the data it is about.
    r#"
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    user   TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
) STRICT;
INSERT INTO audit_log(at, user, action, detail)
    SELECT started_at, '', 'import',
           json_object('file', file_name, 'kind', kind, 'rows', rows_read,
                       'inserted', inserted, 'updated', updated, 'rejected', rejected)
    FROM imports WHERE status = 'ok' ORDER BY id;
"#,
    // 6 → 7: which customer fields are personal (demo mode masks them).
    // A field without a row is decided by its name (built-in fields by a
    // fixed list); imports and people add rows.
    r#"
CREATE TABLE pii_fields (
    name   TEXT PRIMARY KEY,
    pii    INTEGER NOT NULL CHECK (pii IN (0, 1)),
    kind   TEXT NOT NULL,
    set_by TEXT NOT NULL CHECK (set_by IN ('detected', 'user'))
) STRICT;
"#,
];

/// The schema version this build of Prism writes.
pub const CURRENT_VERSION: i32 = MIGRATIONS.len() as i32;

/// The tables a user can browse, in the order the Data screen lists them.
pub const BROWSABLE_TABLES: &[&str] = &[
    "customers",
    "events",
    "products",
    "campaigns",
    "templates",
    "template_versions",
    "content_map",
    "segments",
    "segment_versions",
    "imports",
    "audit_log",
    "custom_fields",
    "pii_fields",
    "scores",
];
