//! A PostgreSQL database as the place segments run: the connection (its
//! string kept in the workspace without a password; the password from
//! `PRISM_PG_PASSWORD` or `PGPASSWORD`), a check that the tables and
//! columns a query reads are there, and counts and members as SQL.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls};

use super::WarehouseError;
use crate::engine::resolve::RNode;
use crate::engine::sql::{Dialect, EVENT_COLUMNS, Mapping, compile_mapped, compile_reachable};
use crate::store::{SqlValue, Store};

/// Each node's verdict for one customer, pre-order: `(depth, label, passes)`.
pub type Verdicts = Vec<(usize, String, bool)>;

/// Workspace settings keys.
pub const META_URL: &str = "source:postgres";
pub const META_MAPPING: &str = "source:mapping";

/// Environment variables the password is read from, in order.
pub const PASSWORD_VARS: [&str; 2] = ["PRISM_PG_PASSWORD", "PGPASSWORD"];

/// A database the workspace's segments can run on.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// `postgresql://user@host:port/db` or `host=… user=… dbname=…`,
    /// never with a password.
    pub url: String,
    pub mapping: Mapping,
    /// How long one query may run.
    pub timeout: Duration,
}

/// Parses a connection string; one with a password is refused (it would
/// be kept in plain text).
pub fn parse_url(url: &str) -> Result<Config, WarehouseError> {
    let config = Config::from_str(url.trim())
        .map_err(|e| WarehouseError::Invalid(format!("connection string {url:?}: {e}")))?;
    if config.get_password().is_some() {
        return Err(WarehouseError::Invalid(format!(
            "the connection string holds a password, which would be stored in plain text: \
             leave it out and set {} in the environment",
            PASSWORD_VARS[0]
        )));
    }
    if config.get_hosts().is_empty() {
        return Err(WarehouseError::Invalid(format!(
            "connection string {url:?}: no host"
        )));
    }
    Ok(config)
}

impl Source {
    pub fn new(url: &str, mapping: Mapping) -> Result<Source, WarehouseError> {
        parse_url(url)?;
        Ok(Source {
            url: url.trim().to_string(),
            mapping,
            timeout: Duration::from_secs(300),
        })
    }

    /// The workspace's source, if one is set.
    pub fn of_workspace(store: &Store) -> Result<Option<Source>, WarehouseError> {
        let Some(url) = store.meta(META_URL)? else {
            return Ok(None);
        };
        let mapping = match store.meta(META_MAPPING)? {
            Some(text) => Mapping::parse(&text).map_err(|e| {
                WarehouseError::Invalid(format!("the workspace's table mapping: {e}"))
            })?,
            None => Mapping::default(),
        };
        Source::new(&url, mapping).map(Some)
    }

    /// Keeps this source in the workspace (no password is in it).
    pub fn save(&self, store: &Store) -> Result<(), WarehouseError> {
        store.set_meta(META_URL, &self.url)?;
        let mapping = serde_json::to_string(&self.mapping).expect("a mapping serializes");
        store.set_meta(META_MAPPING, &mapping)?;
        Ok(())
    }

    /// Forgets the workspace's source: the local engine again.
    pub fn clear(store: &Store) -> Result<(), WarehouseError> {
        store.delete_meta(META_URL)?;
        store.delete_meta(META_MAPPING)?;
        Ok(())
    }

    /// Where it points, for messages: `user@host:port/db`.
    pub fn describe(&self) -> String {
        match parse_url(&self.url) {
            Ok(c) => describe(&c),
            Err(_) => self.url.clone(),
        }
    }

    /// Connects, with the password from the environment.
    pub fn connect(&self) -> Result<Client, WarehouseError> {
        let mut config = parse_url(&self.url)?;
        if let Some(pw) = PASSWORD_VARS.iter().find_map(|v| std::env::var(v).ok()) {
            config.password(pw);
        }
        config
            .connect_timeout(Duration::from_secs(10))
            .application_name("prism");
        let mut client = config
            .connect(NoTls)
            .map_err(|e| connect_error(&config, &e))?;
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}",
                self.timeout.as_millis()
            ))
            .map_err(|e| query_error(&e, "SET statement_timeout"))?;
        Ok(client)
    }

    /// Checks that the tables and columns a query reads exist:
    /// `fields` are the customer fields the rules use.
    pub fn check_tables(&self, client: &mut Client, fields: &[&str]) -> Result<(), WarehouseError> {
        let m = &self.mapping;
        let (customers, events) = (m.customers_table(), m.events_table());
        let mut want: Vec<(&str, String)> = vec![(customers, m.customer_column("id").to_string())];
        want.extend(
            fields
                .iter()
                .map(|f| (customers, m.customer_column(f).to_string())),
        );
        want.extend(
            EVENT_COLUMNS
                .iter()
                .map(|c| (events, m.event_column(c).to_string())),
        );
        for table in [customers, events] {
            let have = table_columns(client, table)?;
            if have.is_empty() {
                return Err(WarehouseError::Database(format!(
                    "{}: no table {table:?} (set its name in the table mapping)",
                    self.describe()
                )));
            }
            let missing: Vec<&str> = want
                .iter()
                .filter(|(t, c)| *t == table && !have.contains(c))
                .map(|(_, c)| c.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(WarehouseError::Database(format!(
                    "{}: table {table:?} has no column {} (map it in the table mapping)",
                    self.describe(),
                    missing
                        .iter()
                        .map(|c| format!("{c:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The ids of the customers `node` selects as of `as_of`, in order;
    /// with `reachable_only`, only those who can be emailed then.
    pub fn member_ids(
        &self,
        client: &mut Client,
        node: &RNode,
        as_of: i64,
        reachable_only: bool,
    ) -> Result<Vec<i64>, WarehouseError> {
        let q = if reachable_only {
            compile_reachable(node, as_of, Dialect::Postgres, &self.mapping)
        } else {
            compile_mapped(node, as_of, Dialect::Postgres, &self.mapping)
        };
        let (sql, params) = q.parameterized();
        run_ids(client, &sql, &params)
    }

    /// The id of the customer `who` names there (id, customer id or email).
    pub fn find_customer(
        &self,
        client: &mut Client,
        who: &str,
    ) -> Result<Option<i64>, WarehouseError> {
        let d = Dialect::Postgres;
        let m = &self.mapping;
        let col = |f: &str| d.quote_ident(m.customer_column(f));
        let (id, ext, email) = (col("id"), col("external_id"), col("email"));
        let sql = format!(
            "SELECT {id} FROM {} WHERE {id}::text = $1 OR {ext} = $1 OR lower({email}) = lower($1) ORDER BY {id} LIMIT 1",
            d.quote_table(m.customers_table())
        );
        let who = who.trim().to_string();
        let rows = client
            .query(sql.as_str(), &[&who])
            .map_err(|e| query_error(&e, &sql))?;
        Ok(rows.first().map(|r| r.get::<_, i64>(0)))
    }

    /// Whether customer `id` passes each node of `node` as of `as_of`
    /// (pre-order: `(depth, label, passes)`), each node's SQL run there.
    pub fn explain(
        &self,
        client: &mut Client,
        node: &RNode,
        as_of: i64,
        id: i64,
        progress: &dyn crate::progress::Progress,
    ) -> Result<Verdicts, WarehouseError> {
        let mut out = Vec::new();
        for (depth, n) in super::nodes_with_depth(node) {
            if progress.is_cancelled() {
                return Err(WarehouseError::Cancelled);
            }
            let (sql, mut params) =
                compile_mapped(n, as_of, Dialect::Postgres, &self.mapping).parameterized();
            params.push(SqlValue::Int(id));
            let sql = format!(
                "SELECT EXISTS (SELECT 1 FROM (\n{sql}\n) AS m(id) WHERE m.id = ${}::bigint)",
                params.len()
            );
            let refs = param_refs(&params);
            let row = client
                .query_one(sql.as_str(), &refs)
                .map_err(|e| query_error(&e, &sql))?;
            out.push((
                depth,
                crate::engine::explain::node_label(n),
                row.get::<_, bool>(0),
            ));
        }
        Ok(out)
    }

    /// How many customers `node` selects as of `as_of`.
    pub fn count(
        &self,
        client: &mut Client,
        node: &RNode,
        as_of: i64,
    ) -> Result<u64, WarehouseError> {
        let (sql, params) =
            compile_mapped(node, as_of, Dialect::Postgres, &self.mapping).parameterized();
        let sql = super::count_query(&sql);
        let refs = param_refs(&params);
        let row = client
            .query_one(sql.as_str(), &refs)
            .map_err(|e| query_error(&e, &sql))?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}

fn describe(c: &Config) -> String {
    let host = match c.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "?".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "PostgreSQL {}@{host}:{port}/{}",
        c.get_user().unwrap_or("?"),
        c.get_dbname().or(c.get_user()).unwrap_or("?")
    )
}

fn connect_error(c: &Config, e: &postgres::Error) -> WarehouseError {
    let at = describe(c);
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let what = match code {
            "28P01" | "28000" => format!(
                "the password was refused (set {} in the environment)",
                PASSWORD_VARS[0]
            ),
            "3D000" => "that database does not exist".to_string(),
            _ => db.message().to_string(),
        };
        return WarehouseError::Database(format!("{at}: {what}"));
    }
    let text = e.to_string();
    let source = std::error::Error::source(e).map(|s| s.to_string());
    let detail = source.unwrap_or(text);
    if detail.contains("password missing") {
        return WarehouseError::Database(format!(
            "{at}: the server asks for a password; set {} in the environment",
            PASSWORD_VARS[0]
        ));
    }
    WarehouseError::Database(format!("cannot reach {at}: {detail}"))
}

fn query_error(e: &postgres::Error, sql: &str) -> WarehouseError {
    match e.as_db_error() {
        Some(db) if db.code().code() == "57014" => WarehouseError::Database(
            "PostgreSQL stopped the query: it ran past the time limit".into(),
        ),
        Some(db) => WarehouseError::Database(format!(
            "PostgreSQL: {}{}",
            db.message(),
            db.hint().map(|h| format!(" ({h})")).unwrap_or_default()
        )),
        None => WarehouseError::Database(format!(
            "PostgreSQL: {e} (query: {})",
            sql.lines().next().unwrap_or("")
        )),
    }
}

fn param_refs(params: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|v| match v {
            SqlValue::Int(n) => n as &(dyn ToSql + Sync),
            SqlValue::Real(x) => x as &(dyn ToSql + Sync),
            SqlValue::Text(s) => s as &(dyn ToSql + Sync),
        })
        .collect()
}

/// Runs `f` on `client`; when `progress` is cancelled meanwhile, the
/// server is asked to stop the running statement (which then fails with
/// "cancelled"), so Cancel does not wait for a slow query to end.
pub fn cancellable<T>(
    client: &mut Client,
    progress: &dyn crate::progress::Progress,
    f: impl FnOnce(&mut Client) -> Result<T, WarehouseError>,
) -> Result<T, WarehouseError> {
    let token = client.cancel_token();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if progress.is_cancelled() {
                    let _ = token.cancel_query(NoTls);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let r = f(client);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        match r {
            Err(_) if progress.is_cancelled() => Err(WarehouseError::Cancelled),
            r => r,
        }
    })
}

/// Runs a query returning customer ids (`bigint`).
pub fn run_ids(
    client: &mut Client,
    sql: &str,
    params: &[SqlValue],
) -> Result<Vec<i64>, WarehouseError> {
    let refs = param_refs(params);
    let rows = client.query(sql, &refs).map_err(|e| query_error(&e, sql))?;
    Ok(rows.iter().map(|r| r.get::<_, i64>(0)).collect())
}

/// How many workers one PostgreSQL query may use beside its own process
/// (`max_parallel_workers_per_gather`), for benchmark lines.
pub fn parallel_workers(client: &mut Client) -> Result<String, WarehouseError> {
    let sql = "SHOW max_parallel_workers_per_gather";
    let row = client
        .query_one(sql, &[])
        .map_err(|e| query_error(&e, sql))?;
    Ok(row.get::<_, String>(0))
}

/// The columns of `table` (`schema.table` or a table on the search path).
fn table_columns(client: &mut Client, table: &str) -> Result<Vec<String>, WarehouseError> {
    let (schema, name) = match table.rsplit_once('.') {
        Some((s, n)) => (Some(s.to_string()), n.to_string()),
        None => (None, table.to_string()),
    };
    let sql = "SELECT column_name::text FROM information_schema.columns \
               WHERE table_name = $1 AND (($2::text IS NULL AND table_schema = ANY(current_schemas(false))) \
               OR table_schema = $2::text) ORDER BY ordinal_position";
    let rows = client
        .query(sql, &[&name, &schema])
        .map_err(|e| query_error(&e, sql))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// Loads the files `prism export-schema --dialect postgres` wrote in `dir`
/// into schema `schema` (created; replaced if there), and sets the
/// session's search path to it. For tests and first trials.
pub fn load_export(client: &mut Client, dir: &Path, schema: &str) -> Result<(), WarehouseError> {
    let q = Dialect::Postgres.quote_ident(schema);
    let ddl_path = dir.join("schema.sql");
    let ddl = std::fs::read_to_string(&ddl_path).map_err(super::io(&ddl_path))?;
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {q} CASCADE; CREATE SCHEMA {q}; SET search_path TO {q};\n{ddl}"
        ))
        .map_err(|e| query_error(&e, "CREATE SCHEMA"))?;
    for table in ["customers", "events"] {
        let path = dir.join(format!("{table}.csv"));
        let mut file = std::fs::File::open(&path).map_err(super::io(&path))?;
        let mut writer = client
            .copy_in(&format!(
                "COPY {q}.{} FROM STDIN WITH (FORMAT csv, HEADER true)",
                Dialect::Postgres.quote_ident(table)
            ))
            .map_err(|e| query_error(&e, "COPY"))?;
        std::io::copy(&mut file, &mut writer).map_err(super::io(&path))?;
        writer.finish().map_err(|e| query_error(&e, "COPY"))?;
    }
    client
        .batch_execute(&format!(
            "CREATE INDEX ON {q}.events (customer_id, name, time); ANALYZE {q}.customers; ANALYZE {q}.events;"
        ))
        .map_err(|e| query_error(&e, "CREATE INDEX"))?;
    Ok(())
}
