//! Beyond one laptop: a workspace written out for a warehouse engine
//! (`prism export-schema`), and a PostgreSQL database as the place a
//! segment runs ([`postgres`]). The SQL itself is the engine's compiler
//! ([`crate::engine::sql`]), one dialect per engine.

pub mod postgres;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::engine::schema_of;
use crate::engine::sql::{Dialect, EVENT_COLUMNS};
use crate::model::FieldType;
use crate::progress::Progress;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Something the user asked for that cannot be done, said plainly.
    #[error("{0}")]
    Invalid(String),
    /// The database: unreachable, refused, missing a table, too slow.
    #[error("{0}")]
    Database(String),
    #[error("cancelled")]
    Cancelled,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a column holds, for its type in each engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Ids and timestamps (whole seconds since 1970, UTC).
    Int,
    Real,
    /// 0 or 1.
    Flag,
    Text,
}

impl Kind {
    fn of(t: FieldType) -> Kind {
        match t {
            FieldType::Text | FieldType::Date => Kind::Text,
            FieldType::Number => Kind::Real,
            FieldType::Timestamp => Kind::Int,
            FieldType::Bool => Kind::Flag,
        }
    }

    fn sql(self, d: Dialect) -> &'static str {
        match (d, self) {
            (Dialect::Sqlite, Kind::Int | Kind::Flag) => "INTEGER",
            (Dialect::Sqlite, Kind::Real) => "REAL",
            (Dialect::Sqlite, Kind::Text) => "TEXT",
            (Dialect::BigQuery, Kind::Int | Kind::Flag) => "INT64",
            (Dialect::BigQuery, Kind::Real) => "FLOAT64",
            (Dialect::BigQuery | Dialect::Spark, Kind::Text) => "STRING",
            (Dialect::Postgres, Kind::Real) => "DOUBLE PRECISION",
            (Dialect::Postgres, Kind::Text) => "TEXT",
            (_, Kind::Int) => "BIGINT",
            (_, Kind::Flag) => "INTEGER",
            (_, Kind::Real) => "DOUBLE",
            (_, Kind::Text) => "VARCHAR",
        }
    }
}

/// A table's columns and what each holds.
type Columns = Vec<(String, Kind)>;

/// The two tables as Prism writes them: `(table, columns)`.
fn tables(store: &Store) -> Result<Vec<(&'static str, Columns)>, WarehouseError> {
    let schema = schema_of(store)?;
    let mut customers = vec![("id".to_string(), Kind::Int)];
    customers.extend(
        schema
            .fields
            .iter()
            .map(|f| (f.name.clone(), Kind::of(f.field_type))),
    );
    let events = std::iter::once(("id", Kind::Int))
        .chain(EVENT_COLUMNS.iter().map(|&c| {
            let kind = match c {
                "customer_id" | "time" => Kind::Int,
                "value" => Kind::Real,
                _ => Kind::Text,
            };
            (c, kind)
        }))
        .map(|(c, k)| (c.to_string(), k))
        .collect();
    Ok(vec![("customers", customers), ("events", events)])
}

/// A workspace written out for an engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub dialect: Dialect,
    pub dir: PathBuf,
    pub customers: u64,
    pub events: u64,
    /// The DDL, then what loads the files.
    pub schema_sql: PathBuf,
    pub load_sql: PathBuf,
}

/// The `CREATE TABLE` statements for `dialect`.
pub fn ddl(store: &Store, dialect: Dialect) -> Result<String, WarehouseError> {
    let mut out = format!(
        "-- Prism workspace tables, {} dialect. Timestamps are whole seconds since\n\
         -- 1970 (UTC); calendar dates are YYYY-MM-DD text; flags are 0 or 1.\n",
        dialect.name()
    );
    for (table, cols) in tables(store)? {
        let body: Vec<String> = cols
            .iter()
            .map(|(c, k)| format!("  {} {}", dialect.quote_ident(c), k.sql(dialect)))
            .collect();
        out.push_str(&format!(
            "CREATE TABLE {} (\n{}\n);\n",
            dialect.quote_ident(table),
            body.join(",\n")
        ));
    }
    Ok(out)
}

/// What loads `table` from `file` (an absolute path) in `dialect`.
fn load_statement(dialect: Dialect, table: &str, file: &Path, cols: &[(String, Kind)]) -> String {
    let t = dialect.quote_ident(table);
    let f = file.display().to_string().replace('\'', "''");
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match dialect {
        Dialect::Postgres => {
            format!("\\copy {t} FROM '{f}' WITH (FORMAT csv, HEADER true)\n")
        }
        Dialect::DuckDb => format!("COPY {t} FROM '{f}' (FORMAT csv, HEADER true);\n"),
        Dialect::Spark => {
            let schema: Vec<String> = cols
                .iter()
                .map(|(c, k)| format!("{} {}", dialect.quote_ident(c), k.sql(dialect)))
                .collect();
            format!(
                "CREATE OR REPLACE TEMPORARY VIEW {t} ({}) USING csv OPTIONS (path '{f}', header 'true', escape '\"', multiLine 'true');\n",
                schema.join(", ")
            )
        }
        Dialect::BigQuery => format!(
            "-- Copy {name} to a bucket first: gsutil cp {f} gs://YOUR_BUCKET/\n\
             LOAD DATA INTO {t} FROM FILES (format = 'CSV', skip_leading_rows = 1, uris = ['gs://YOUR_BUCKET/{name}']);\n"
        ),
        Dialect::Snowflake => format!(
            "PUT 'file://{f}' @~/prism AUTO_COMPRESS = FALSE;\n\
             COPY INTO {t} FROM @~/prism/{name} FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"' EMPTY_FIELD_AS_NULL = TRUE);\n"
        ),
        Dialect::Sqlite => String::new(),
    }
}

/// Writes `schema.sql` (the DDL) and `load.sql` (what loads
/// `customers.csv` and `events.csv` of the same folder) for `dialect`.
/// The CSV files are the same for every engine, so one export serves all.
pub fn write_sql_files(
    store: &Store,
    dialect: Dialect,
    dir: &Path,
) -> Result<(PathBuf, PathBuf), WarehouseError> {
    let mut load = format!(
        "-- Loads the Prism workspace's files, {} dialect (after schema.sql).\n",
        dialect.name()
    );
    for (table, cols) in tables(store)? {
        load.push_str(&load_statement(
            dialect,
            table,
            &dir.join(format!("{table}.csv")),
            &cols,
        ));
    }
    let schema_sql = dir.join("schema.sql");
    let ddl = if dialect == Dialect::Spark {
        // Spark reads the files in place: the views in load.sql are the tables.
        "-- Spark SQL: load.sql creates the tables as views over the CSV files.\n".to_string()
    } else {
        ddl(store, dialect)?
    };
    std::fs::write(&schema_sql, ddl).map_err(io(&schema_sql))?;
    let load_sql = dir.join("load.sql");
    std::fs::write(&load_sql, load).map_err(io(&load_sql))?;
    Ok((schema_sql, load_sql))
}

/// Writes `customers.csv`, `events.csv`, `schema.sql` (the DDL) and
/// `load.sql` (what loads the files) into `dir` for `dialect`. NULL is an
/// empty field; text is always quoted (so an empty text stays one).
pub fn export_schema(
    store: &Store,
    dialect: Dialect,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<Exported, WarehouseError> {
    if dialect == Dialect::Sqlite {
        return Err(WarehouseError::Invalid(
            "a workspace is already a SQLite database: copy the .prism file".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let dir = dir.canonicalize().map_err(io(dir))?;
    let total = (store.customer_count()? + store.event_count()?).max(1) as f32;
    let mut done = 0u64;
    let mut counts = [0u64; 2];
    for (k, (table, cols)) in tables(store)?.into_iter().enumerate() {
        let path = dir.join(format!("{table}.csv"));
        let file = File::create(&path).map_err(io(&path))?;
        let mut w = BufWriter::new(file);
        let names: Vec<&str> = cols.iter().map(|(c, _)| c.as_str()).collect();
        writeln!(w, "{}", names.join(",")).map_err(io(&path))?;
        let mut line = String::new();
        store.for_each_row_as_text(table, &names, |row| {
            line.clear();
            for (i, (cell, (_, kind))) in row.iter().zip(&cols).enumerate() {
                if i > 0 {
                    line.push(',');
                }
                match (cell, kind) {
                    (None, _) => {}
                    (Some(v), Kind::Text) => {
                        line.push('"');
                        line.push_str(&v.replace('"', "\"\""));
                        line.push('"');
                    }
                    (Some(v), _) => line.push_str(v),
                }
            }
            line.push('\n');
            w.write_all(line.as_bytes()).map_err(io(&path))?;
            counts[k] += 1;
            done += 1;
            if done.is_multiple_of(100_000) {
                progress.report(done as f32 / total, &format!("writing {table}"));
                if progress.is_cancelled() {
                    return Err(WarehouseError::Cancelled);
                }
            }
            Ok(())
        })?;
        w.flush().map_err(io(&path))?;
    }
    let (schema_sql, load_sql) = write_sql_files(store, dialect, &dir)?;
    Ok(Exported {
        dialect,
        dir,
        customers: counts[0],
        events: counts[1],
        schema_sql,
        load_sql,
    })
}

/// A member query turned into a count of its rows, in any dialect.
pub fn count_query(members_sql: &str) -> String {
    format!("SELECT count(*) FROM (\n{members_sql}\n) AS members")
}

/// Every node of `node` in pre-order (the order of the engine's node
/// counts), with its depth, 0 at the root.
pub fn nodes_with_depth(
    node: &crate::engine::resolve::RNode,
) -> Vec<(usize, &crate::engine::resolve::RNode)> {
    use crate::engine::resolve::RKind;
    let mut out = Vec::new();
    let mut stack = vec![(0usize, node)];
    while let Some((depth, n)) = stack.pop() {
        out.push((depth, n));
        if let RKind::Group { children, .. } = &n.kind {
            stack.extend(children.iter().rev().map(|c| (depth + 1, c)));
        }
    }
    out
}

/// The customer fields a rule reads (referenced segments and score models
/// included), each once, in order of appearance.
pub fn fields_used(node: &crate::engine::resolve::RNode) -> Vec<String> {
    use crate::engine::resolve::RKind;
    fn go(n: &crate::engine::resolve::RNode, out: &mut Vec<String>) {
        match &n.kind {
            RKind::Group { children, .. } => children.iter().for_each(|c| go(c, out)),
            RKind::Profile { field, .. } => {
                if !out.contains(&field.name) {
                    out.push(field.name.clone());
                }
            }
            RKind::Segment { rule, .. } => go(rule, out),
            RKind::Trait {
                score: Some((_, rules)),
                ..
            } => rules.iter().for_each(|(_, r)| go(r, out)),
            RKind::Trait { .. } | RKind::Event { .. } => {}
        }
    }
    let mut out = Vec::new();
    go(node, &mut out);
    out
}
