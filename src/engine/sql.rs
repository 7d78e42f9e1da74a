//! The same rule as SQL: a query returning the ids of the customers the
//! engine finds, for SQLite (the oracle the tests compare against),
//! PostgreSQL and DuckDB.
//!
//! Values are bound as parameters; [`SqlQuery::inline`] writes them as
//! safely quoted literals so the query can be pasted and run as is.
//! Identifiers come only from the workspace schema and are always quoted.
//! Every condition is two-valued (never NULL), so NOT means what it says.

use super::resolve::{EventProperty, NumTest, RFilter, RKind, RNode, RWindow, ValueTest};
use super::rule::{Aggregate, Combine, TraitKind};
use super::traits::{ENGAGEMENT, rfm_segment};
use crate::model::FieldType;
use crate::model::time::{DAY, format_ts, ts_to_date};
pub use crate::store::SqlValue;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    #[default]
    Sqlite,
    Postgres,
    DuckDb,
    /// Spark SQL, as Databricks runs it.
    Spark,
    BigQuery,
    Snowflake,
}

impl Dialect {
    pub const ALL: [Dialect; 6] = [
        Dialect::Sqlite,
        Dialect::Postgres,
        Dialect::DuckDb,
        Dialect::Spark,
        Dialect::BigQuery,
        Dialect::Snowflake,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
            Dialect::DuckDb => "DuckDB",
            Dialect::Spark => "Spark SQL",
            Dialect::BigQuery => "BigQuery",
            Dialect::Snowflake => "Snowflake",
        }
    }

    /// The name `--dialect` takes.
    pub fn key(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::DuckDb => "duckdb",
            Dialect::Spark => "spark",
            Dialect::BigQuery => "bigquery",
            Dialect::Snowflake => "snowflake",
        }
    }

    pub fn parse(s: &str) -> Option<Dialect> {
        match s.to_ascii_lowercase().as_str() {
            "sqlite" => Some(Dialect::Sqlite),
            "postgres" | "postgresql" | "pg" => Some(Dialect::Postgres),
            "duckdb" => Some(Dialect::DuckDb),
            "spark" | "sparksql" | "spark-sql" | "databricks" => Some(Dialect::Spark),
            "bigquery" | "bq" => Some(Dialect::BigQuery),
            "snowflake" => Some(Dialect::Snowflake),
            _ => None,
        }
    }

    /// Identifiers: double quotes (SQL's own), backticks in Spark and
    /// BigQuery.
    pub fn quote_ident(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            Dialect::BigQuery => format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// A table name, `schema.table` quoted part by part.
    pub fn quote_table(self, name: &str) -> String {
        name.split('.')
            .map(|part| self.quote_ident(part))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A value as a literal. Spark and BigQuery read backslash escapes in
    /// string literals (and Spark joins `'a''b'` into `ab`), so there a
    /// quote and a backslash are escaped with a backslash; elsewhere a
    /// quote is doubled.
    pub fn literal(self, v: &SqlValue) -> String {
        match (self, v) {
            (Dialect::Spark | Dialect::BigQuery, SqlValue::Text(s)) => {
                let mut out = String::with_capacity(s.len() + 2);
                out.push('\'');
                for ch in s.chars() {
                    match ch {
                        '\\' => out.push_str("\\\\"),
                        '\'' => out.push_str("\\'"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        c => out.push(c),
                    }
                }
                out.push('\'');
                out
            }
            _ => v.literal(),
        }
    }

    /// Integer division of two whole, non-negative numbers; `a` is a
    /// column or parenthesized, `b` a number or a call.
    fn idiv(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => format!("{a} / {b}"),
            Dialect::DuckDb => format!("{a} // {b}"),
            Dialect::Spark => format!("{a} div {b}"),
            Dialect::BigQuery => format!("DIV({a}, {b})"),
            Dialect::Snowflake => format!("FLOOR({a} / {b})"),
        }
    }

    fn least(self) -> &'static str {
        if self == Dialect::Sqlite {
            "min"
        } else {
            "least"
        }
    }

    /// Where `needle` starts in `hay` (1-based, 0 when absent), up to
    /// where the needle's text goes: the returned pair wraps it.
    fn position(self, hay: &str) -> (String, &'static str) {
        match self {
            Dialect::Sqlite | Dialect::Spark => (format!("instr({hay}, "), ")"),
            Dialect::Postgres | Dialect::DuckDb | Dialect::BigQuery => {
                (format!("strpos({hay}, "), ")")
            }
            // POSITION(needle, hay): the needle comes first.
            Dialect::Snowflake => ("position(".to_string(), ""),
        }
    }

    /// Bound-parameter placeholder `n` (1-based).
    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres | Dialect::DuckDb => format!("${n}"),
            Dialect::Spark | Dialect::BigQuery | Dialect::Snowflake => "?".into(),
        }
    }
}

/// Where a warehouse keeps Prism's two tables: their names and their
/// columns' names (`schema.table` allowed). Unnamed columns keep Prism's
/// own name. Timestamps are whole seconds since 1970 (UTC), calendar dates
/// `YYYY-MM-DD` text, as `prism export-schema` writes them.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub customers: TableMap,
    #[serde(default)]
    pub events: TableMap,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TableMap {
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, String>,
}

/// The events table's columns a query reads.
pub const EVENT_COLUMNS: [&str; 8] = [
    "customer_id",
    "name",
    "time",
    "value",
    "product",
    "category",
    "campaign",
    "properties",
];

impl Mapping {
    /// Reads a mapping file (JSON); errors say where.
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let m: Mapping = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            format!("at {path}: {}", e.into_inner())
        })?;
        for (what, t) in [("customers", &m.customers), ("events", &m.events)] {
            if let Some(name) = &t.table
                && (name.trim().is_empty() || name.split('.').any(|p| p.trim().is_empty()))
            {
                return Err(format!("{what}.table: {name:?} is not a table name"));
            }
            for (from, to) in &t.columns {
                if to.trim().is_empty() {
                    return Err(format!("{what}.columns.{from}: the column name is empty"));
                }
            }
        }
        if let Some(bad) = m
            .events
            .columns
            .keys()
            .find(|k| !EVENT_COLUMNS.contains(&k.as_str()))
        {
            return Err(format!(
                "events.columns.{bad}: not an events column (those are {})",
                EVENT_COLUMNS.join(", ")
            ));
        }
        Ok(m)
    }

    /// Refuses a customer field the mapping renames that `known` (the
    /// workspace's fields) does not have.
    pub fn check_fields(&self, known: &[&str]) -> Result<(), String> {
        match self
            .customers
            .columns
            .keys()
            .find(|k| k.as_str() != "id" && !known.contains(&k.as_str()))
        {
            Some(f) => Err(format!(
                "mapping customers.columns.{f}: the workspace has no field {f:?}"
            )),
            None => Ok(()),
        }
    }

    pub fn customers_table(&self) -> &str {
        self.customers.table.as_deref().unwrap_or("customers")
    }

    pub fn events_table(&self) -> &str {
        self.events.table.as_deref().unwrap_or("events")
    }

    pub fn customer_column<'a>(&'a self, field: &'a str) -> &'a str {
        self.customers
            .columns
            .get(field)
            .map_or(field, String::as_str)
    }

    pub fn event_column<'a>(&'a self, col: &'a str) -> &'a str {
        self.events.columns.get(col).map_or(col, String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Sql(String),
    Param(SqlValue),
}

/// A compiled query.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlQuery {
    pub dialect: Dialect,
    pub as_of: i64,
    pieces: Vec<Piece>,
}

impl SqlQuery {
    /// The SQL with numbered placeholders, and the values to bind.
    pub fn parameterized(&self) -> (String, Vec<SqlValue>) {
        let mut sql = String::new();
        let mut params = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Sql(s) => sql.push_str(s),
                Piece::Param(v) => {
                    params.push(v.clone());
                    let n = params.len();
                    sql.push_str(&self.dialect.placeholder(n));
                    if self.dialect == Dialect::Postgres {
                        // The type is stated: PostgreSQL would infer it from
                        // the other side (an integer count for 1.5, say).
                        sql.push_str(match v {
                            SqlValue::Int(_) => "::bigint",
                            SqlValue::Real(_) => "::double precision",
                            SqlValue::Text(_) => "::text",
                        });
                    }
                }
            }
        }
        (sql, params)
    }

    /// The SQL with every value written as a literal, ready to paste.
    pub fn inline(&self) -> String {
        let mut sql = format!(
            "-- Prism segment, {} dialect, as of {} UTC\n",
            self.dialect.name(),
            format_ts(self.as_of)
        );
        for p in &self.pieces {
            match p {
                Piece::Sql(s) => sql.push_str(s),
                Piece::Param(v) => sql.push_str(&self.dialect.literal(v)),
            }
        }
        sql
    }
}

struct Builder<'m> {
    dialect: Dialect,
    as_of: i64,
    names: &'m Mapping,
    pieces: Vec<Piece>,
}

impl<'m> Builder<'m> {
    /// An empty builder for a sub-expression, same dialect and names.
    fn sub(&self) -> Builder<'m> {
        Builder {
            dialect: self.dialect,
            as_of: self.as_of,
            names: self.names,
            pieces: Vec::new(),
        }
    }

    /// `c.<column of customer field>`.
    fn c(&self, field: &str) -> String {
        format!(
            "c.{}",
            self.dialect.quote_ident(self.names.customer_column(field))
        )
    }

    /// `e.<events column>`.
    fn e(&self, col: &str) -> String {
        format!(
            "e.{}",
            self.dialect.quote_ident(self.names.event_column(col))
        )
    }

    fn customers(&self) -> String {
        self.dialect.quote_table(self.names.customers_table())
    }

    fn events(&self) -> String {
        self.dialect.quote_table(self.names.events_table())
    }

    fn sql(&mut self, s: &str) {
        if let Some(Piece::Sql(last)) = self.pieces.last_mut() {
            last.push_str(s);
        } else {
            self.pieces.push(Piece::Sql(s.to_string()));
        }
    }

    fn param(&mut self, v: SqlValue) {
        self.pieces.push(Piece::Param(v));
    }

    fn text(&mut self, s: &str) {
        self.param(SqlValue::Text(s.to_string()));
    }

    fn num(&mut self, x: f64) {
        self.param(SqlValue::Real(x));
    }

    fn int(&mut self, n: i64) {
        self.param(SqlValue::Int(n));
    }
}

/// Whether the tree (with referenced segments and scores) uses RFM traits.
/// The purchase event of the first RFM trait in the tree, if any uses RFM.
fn uses_rfm(node: &RNode) -> Option<&str> {
    match &node.kind {
        RKind::Group { children, .. } => children.iter().find_map(uses_rfm),
        RKind::Segment { rule, .. } => uses_rfm(rule),
        RKind::Trait {
            kind,
            score,
            purchase_event,
            ..
        } => match score {
            Some((_, rules)) => rules.iter().find_map(|(_, r)| uses_rfm(r)),
            None => (!matches!(kind, TraitKind::EngagementScore | TraitKind::Score))
                .then_some(purchase_event.as_str()),
        },
        _ => None,
    }
}

/// Compiles `root` as of `as_of` to a query returning customer ids, on
/// Prism's own table and column names.
pub fn compile(root: &RNode, as_of: i64, dialect: Dialect) -> SqlQuery {
    compile_mapped(root, as_of, dialect, &Mapping::default())
}

/// Compiles `root` as of `as_of` to a query returning customer ids, on the
/// tables and columns `names` gives.
pub fn compile_mapped(root: &RNode, as_of: i64, dialect: Dialect, names: &Mapping) -> SqlQuery {
    compile_with(root, as_of, dialect, names, false)
}

/// Like [`compile_mapped`], keeping only customers who can be emailed as
/// of `as_of` (`engine::reach`'s definition: consent, an address, no
/// unsubscribe and no hard bounce at or before that time).
pub fn compile_reachable(root: &RNode, as_of: i64, dialect: Dialect, names: &Mapping) -> SqlQuery {
    compile_with(root, as_of, dialect, names, true)
}

fn compile_with(
    root: &RNode,
    as_of: i64,
    dialect: Dialect,
    names: &Mapping,
    reachable: bool,
) -> SqlQuery {
    let mut b = Builder {
        dialect,
        as_of,
        names,
        pieces: Vec::new(),
    };
    let rfm = uses_rfm(root);
    if let Some(purchase) = rfm {
        rfm_ctes(&mut b, purchase);
    }
    let (id, customers) = (b.c("id"), b.customers());
    b.sql(&format!("SELECT {id}\nFROM {customers} AS c\n"));
    if rfm.is_some() {
        b.sql(&format!("LEFT JOIN rfm ON rfm.customer_id = {id}\n"));
    }
    b.sql("WHERE ");
    node(&mut b, root, 1);
    if reachable {
        let (consent, email) = (b.c("email_consent"), b.c("email"));
        let (events, who, name, time) = (b.events(), b.e("customer_id"), b.e("name"), b.e("time"));
        b.sql(&format!(
            "\n  AND COALESCE({consent} = 1, FALSE) AND {email} IS NOT NULL\n  AND NOT EXISTS (SELECT 1 FROM {events} AS e WHERE {who} = {id} AND {name} IN ("
        ));
        b.text(crate::model::event_names::UNSUBSCRIBE);
        b.sql(", ");
        b.text(crate::model::event_names::EMAIL_BOUNCE);
        b.sql(&format!(") AND {time} <= "));
        b.int(as_of);
        b.sql(")");
    }
    b.sql(&format!("\nORDER BY {id}"));
    SqlQuery {
        dialect,
        as_of,
        pieces: b.pieces,
    }
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

fn node(b: &mut Builder, n: &RNode, depth: usize) {
    if n.not {
        b.sql("NOT ");
    }
    match &n.kind {
        RKind::Group { combine, children } => {
            if children.is_empty() {
                b.sql(match combine {
                    Combine::All => "TRUE",
                    Combine::Any => "FALSE",
                });
                return;
            }
            let op = match combine {
                Combine::All => "AND",
                Combine::Any => "OR",
            };
            b.sql("(\n");
            for (i, c) in children.iter().enumerate() {
                b.sql(&indent(depth));
                if i > 0 {
                    b.sql(op);
                    b.sql(" ");
                }
                node(b, c, depth + 1);
                b.sql("\n");
            }
            b.sql(&indent(depth.saturating_sub(1)));
            b.sql(")");
        }
        RKind::Profile { field, test } => {
            b.sql("(");
            let col = b.c(&field.name);
            match field.field_type {
                FieldType::Text => text_test(b, &col, test),
                FieldType::Number | FieldType::Bool => num_value_test(b, &col, test),
                FieldType::Timestamp => time_test(b, &col, test),
                FieldType::Date => date_text_test(b, &col, test),
            }
            b.sql(")");
        }
        RKind::Event {
            event,
            filters,
            aggregate,
            window,
            test,
        } => {
            b.sql("COALESCE(");
            event_subquery(b, event, filters, *aggregate, window);
            num_compare(b, test);
            b.sql(")");
        }
        RKind::Segment { name, rule } => {
            b.sql(&format!("/* segment {} */ ", name.replace("*/", "* /")));
            b.sql("(");
            node(b, rule, depth + 1);
            b.sql(")");
        }
        RKind::Trait {
            kind, score, test, ..
        } => {
            b.sql("(");
            match (kind, score) {
                (_, Some((_, rules))) => {
                    let mut expr = b.sub();
                    expr.sql("(0");
                    for (points, cond) in rules {
                        expr.sql(" + CASE WHEN ");
                        node(&mut expr, cond, depth + 2);
                        expr.sql(" THEN ");
                        expr.int(*points);
                        expr.sql(" ELSE 0 END");
                    }
                    expr.sql(")");
                    value_test_on_expr(b, expr.pieces, test);
                }
                (TraitKind::EngagementScore, None) => {
                    let mut expr = b.sub();
                    let least = b.dialect.least();
                    expr.sql(&format!("{least}(100, 0"));
                    for (event, days, points) in ENGAGEMENT {
                        expr.sql(&format!(" + {points} * "));
                        event_subquery(
                            &mut expr,
                            event,
                            &[],
                            Aggregate::Count,
                            &RWindow::LastDays(days),
                        );
                    }
                    expr.sql(")");
                    value_test_on_expr(b, expr.pieces, test);
                }
                (TraitKind::RfmSegment, None) => {
                    text_test(b, "COALESCE(rfm.segment, 'No orders')", test);
                }
                (k, None) => {
                    let col = match k {
                        TraitKind::RfmRecencyDays => "rfm.recency_days",
                        TraitKind::RfmFrequency => "COALESCE(rfm.frequency, 0)",
                        TraitKind::RfmMonetary => "COALESCE(rfm.monetary, 0)",
                        TraitKind::RfmRScore => "rfm.r_score",
                        TraitKind::RfmFScore => "rfm.f_score",
                        _ => "rfm.m_score",
                    };
                    num_value_test(b, col, test);
                }
            }
            b.sql(")");
        }
    }
}

/// Tests an expression given as pieces: it is repeated where needed.
fn value_test_on_expr(b: &mut Builder, expr: Vec<Piece>, test: &ValueTest) {
    // Numbers only here (scores and engagement are never NULL).
    let emit = |b: &mut Builder| b.pieces.extend(expr.iter().cloned());
    match test {
        ValueTest::Num(t) => {
            b.sql("COALESCE(");
            emit(b);
            num_compare(b, t);
            b.sql(")");
        }
        ValueTest::NumIn(xs) => {
            emit(b);
            b.sql(" IN (");
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    b.sql(", ");
                }
                b.num(*x);
            }
            b.sql(")");
        }
        ValueTest::IsSet => {
            emit(b);
            b.sql(" IS NOT NULL");
        }
        ValueTest::IsEmpty => {
            emit(b);
            b.sql(" IS NULL");
        }
        _ => b.sql("FALSE"),
    }
}

/// ` > ?, FALSE` — the tail of `COALESCE(expr <cmp>, <when null>)`.
fn num_compare(b: &mut Builder, t: &NumTest) {
    let (op, x, when_null) = match *t {
        NumTest::Eq(x) => ("=", x, "FALSE"),
        NumTest::Ne(x) => ("<>", x, "TRUE"),
        NumTest::Lt(x) => ("<", x, "FALSE"),
        NumTest::Le(x) => ("<=", x, "FALSE"),
        NumTest::Gt(x) => (">", x, "FALSE"),
        NumTest::Ge(x) => (">=", x, "FALSE"),
        NumTest::Between(lo, hi) => {
            b.sql(" BETWEEN ");
            b.num(lo);
            b.sql(" AND ");
            b.num(hi);
            b.sql(", FALSE");
            return;
        }
    };
    b.sql(&format!(" {op} "));
    b.num(x);
    b.sql(&format!(", {when_null}"));
}

fn num_value_test(b: &mut Builder, col: &str, test: &ValueTest) {
    match test {
        ValueTest::IsSet => b.sql(&format!("{col} IS NOT NULL")),
        ValueTest::IsEmpty => b.sql(&format!("{col} IS NULL")),
        ValueTest::Bool(true) => b.sql(&format!("{col} IS NOT NULL AND {col} <> 0")),
        ValueTest::Bool(false) => b.sql(&format!("{col} IS NOT NULL AND {col} = 0")),
        ValueTest::Num(t) => {
            b.sql(&format!("COALESCE({col}"));
            num_compare(b, t);
            b.sql(")");
        }
        ValueTest::NumIn(xs) => {
            b.sql(&format!("{col} IS NOT NULL AND {col} IN ("));
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    b.sql(", ");
                }
                b.num(*x);
            }
            b.sql(")");
        }
        _ => b.sql("FALSE"),
    }
}

fn text_test(b: &mut Builder, col: &str, test: &ValueTest) {
    let lower = format!("lower({col})");
    let guard = format!("{col} IS NOT NULL AND ");
    match test {
        ValueTest::IsSet => b.sql(&format!("{col} IS NOT NULL")),
        ValueTest::IsEmpty => b.sql(&format!("{col} IS NULL")),
        ValueTest::TextEq(s) => {
            b.sql(&format!("{guard}{lower} = "));
            b.text(s);
        }
        ValueTest::TextNe(s) => {
            b.sql(&format!("{col} IS NULL OR {lower} <> "));
            b.text(s);
        }
        ValueTest::Contains(s) | ValueTest::StartsWith(s) => {
            let (open, close) = b.dialect.position(&lower);
            b.sql(&format!("{guard}{open}"));
            b.text(s);
            if b.dialect == Dialect::Snowflake {
                b.sql(&format!(", {lower})"));
            } else {
                b.sql(close);
            }
            b.sql(if matches!(test, ValueTest::Contains(_)) {
                " > 0"
            } else {
                " = 1"
            });
        }
        ValueTest::EndsWith(s) => {
            if b.dialect == Dialect::Sqlite {
                b.sql(&format!("{guard}substr({lower}, -length("));
            } else {
                b.sql(&format!("{guard}right({lower}, length("));
            }
            b.text(s);
            b.sql(")) = ");
            b.text(s);
        }
        ValueTest::TextIn(xs) => {
            b.sql(&format!("{guard}{lower} IN ("));
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    b.sql(", ");
                }
                b.text(x);
            }
            b.sql(")");
        }
        ValueTest::Regex(p, _) => {
            let close = match b.dialect {
                Dialect::Sqlite => {
                    b.sql(&format!("{guard}{col} REGEXP "));
                    ""
                }
                Dialect::Postgres => {
                    b.sql(&format!("{guard}{col} ~ "));
                    ""
                }
                Dialect::Spark => {
                    b.sql(&format!("{guard}{col} RLIKE "));
                    ""
                }
                Dialect::DuckDb => {
                    b.sql(&format!("{guard}regexp_matches({col}, "));
                    ")"
                }
                Dialect::BigQuery => {
                    b.sql(&format!("{guard}REGEXP_CONTAINS({col}, "));
                    ")"
                }
                // REGEXP_LIKE must match the whole text; REGEXP_INSTR finds.
                Dialect::Snowflake => {
                    b.sql(&format!("{guard}REGEXP_INSTR({col}, "));
                    ") > 0"
                }
            };
            b.text(p);
            b.sql(close);
        }
        _ => b.sql("FALSE"),
    }
}

fn time_test(b: &mut Builder, col: &str, test: &ValueTest) {
    match test {
        ValueTest::IsSet => b.sql(&format!("{col} IS NOT NULL")),
        ValueTest::IsEmpty => b.sql(&format!("{col} IS NULL")),
        ValueTest::Date(d) => {
            let (lo, hi) = d.range(b.as_of);
            b.sql(&format!("{col} IS NOT NULL"));
            if lo != i64::MIN {
                b.sql(&format!(" AND {col} >= "));
                b.int(lo);
            }
            if hi != i64::MAX {
                b.sql(&format!(" AND {col} < "));
                b.int(hi);
            }
        }
        _ => b.sql("FALSE"),
    }
}

/// The first day whose midnight is at or after `t`, as `YYYY-MM-DD`.
fn ceil_day(t: i64) -> String {
    let d = t.div_euclid(DAY) + i64::from(t.rem_euclid(DAY) != 0);
    ts_to_date(d * DAY).to_string()
}

/// Calendar dates are stored as `YYYY-MM-DD` text, which sorts like the
/// dates themselves: `[lo, hi)` becomes `col >= 'first day' AND col < 'day after'`.
fn date_text_test(b: &mut Builder, col: &str, test: &ValueTest) {
    match test {
        ValueTest::IsSet => b.sql(&format!("{col} IS NOT NULL")),
        ValueTest::IsEmpty => b.sql(&format!("{col} IS NULL")),
        ValueTest::Date(d) => {
            let (lo, hi) = d.range(b.as_of);
            b.sql(&format!("{col} IS NOT NULL"));
            if lo != i64::MIN {
                b.sql(&format!(" AND {col} >= "));
                b.text(&ceil_day(lo));
            }
            if hi != i64::MAX {
                b.sql(&format!(" AND {col} < "));
                b.text(&ceil_day(hi));
            }
        }
        _ => b.sql("FALSE"),
    }
}

fn event_subquery(
    b: &mut Builder,
    event: &str,
    filters: &[RFilter],
    aggregate: Aggregate,
    window: &RWindow,
) {
    let (value, time) = (b.e("value"), b.e("time"));
    b.sql("(SELECT ");
    match aggregate {
        Aggregate::Count => b.sql("count(*)"),
        Aggregate::Sum => b.sql(&format!("COALESCE(sum({value}), 0)")),
        Aggregate::Average => b.sql(&format!("avg({value})")),
        Aggregate::Min => b.sql(&format!("min({value})")),
        Aggregate::Max => b.sql(&format!("max({value})")),
        Aggregate::DistinctDays => {
            let day = b.dialect.idiv(&time, "86400");
            b.sql(&format!("count(DISTINCT {day})"));
        }
        Aggregate::DaysSinceLast => {
            b.sql("(");
            b.int(b.as_of);
            b.sql(&format!(" - max({time})) / 86400.0"));
        }
    }
    let (events, who, id, name) = (b.events(), b.e("customer_id"), b.c("id"), b.e("name"));
    b.sql(&format!(
        " FROM {events} AS e WHERE {who} = {id} AND {name} = "
    ));
    b.text(event);
    let (lo, hi) = window.range(b.as_of);
    if lo != i64::MIN {
        b.sql(&format!(" AND {time} >= "));
        b.int(lo);
    }
    b.sql(&format!(" AND {time} < "));
    b.int(hi);
    for f in filters {
        b.sql(" AND (");
        match &f.property {
            EventProperty::Value => num_value_test(b, &value, &f.test),
            EventProperty::Extra(key) => extra_test(b, key, &f.test),
            p => {
                let col = b.e(&p.name());
                text_test(b, &col, &f.test)
            }
        }
        b.sql(")");
    }
    b.sql(")");
}

/// A test on an extra JSON property (`key` is `[A-Za-z0-9_]+`). Text tests
/// see only string values, number tests only numbers; "is set" means a
/// string or a number is there.
fn extra_test(b: &mut Builder, key: &str, test: &ValueTest) {
    let numeric = matches!(test, ValueTest::Num(_) | ValueTest::NumIn(_));
    let p = b.e("properties");
    // The JSON type of the value, its text (strings) and its number.
    let (ty, types_text, types_num, text_val, num_val) = match b.dialect {
        Dialect::Sqlite => (
            format!("json_type({p}, '$.{key}')"),
            "('text')",
            "('integer', 'real')",
            format!("json_extract({p}, '$.{key}')"),
            format!("json_extract({p}, '$.{key}')"),
        ),
        Dialect::Postgres => (
            format!("jsonb_typeof({p}::jsonb -> '{key}')"),
            "('string')",
            "('number')",
            format!("({p}::jsonb ->> '{key}')"),
            format!("({p}::jsonb ->> '{key}')::double precision"),
        ),
        Dialect::DuckDb => (
            format!("json_type({p}, '$.{key}')"),
            "('VARCHAR')",
            "('BIGINT', 'UBIGINT', 'DOUBLE')",
            format!("json_extract_string({p}, '$.{key}')"),
            format!("CAST(json_extract({p}, '$.{key}') AS DOUBLE)"),
        ),
        // Spark 4's VARIANT: the type named by schema_of_variant.
        Dialect::Spark => {
            let v = format!("variant_get(try_parse_json({p}), '$.{key}')");
            (
                format!(
                    "CASE WHEN schema_of_variant({v}) = 'STRING' THEN 'string' \
                     WHEN schema_of_variant({v}) IN ('BIGINT', 'INT', 'SMALLINT', 'TINYINT', 'DOUBLE', 'FLOAT') \
                     OR schema_of_variant({v}) LIKE 'DECIMAL%' THEN 'number' END"
                ),
                "('string')",
                "('number')",
                format!("try_variant_get(try_parse_json({p}), '$.{key}', 'string')"),
                format!("try_variant_get(try_parse_json({p}), '$.{key}', 'double')"),
            )
        }
        Dialect::BigQuery => (
            format!("JSON_TYPE(JSON_QUERY(SAFE.PARSE_JSON({p}), '$.{key}'))"),
            "('string')",
            "('number')",
            format!("JSON_VALUE({p}, '$.{key}')"),
            format!("SAFE_CAST(JSON_VALUE({p}, '$.{key}') AS FLOAT64)"),
        ),
        Dialect::Snowflake => (
            format!("TYPEOF(GET_PATH(TRY_PARSE_JSON({p}), '{key}'))"),
            "('VARCHAR')",
            "('INTEGER', 'DOUBLE', 'DECIMAL')",
            format!("GET_PATH(TRY_PARSE_JSON({p}), '{key}')::string"),
            format!("GET_PATH(TRY_PARSE_JSON({p}), '{key}')::float"),
        ),
    };
    match test {
        ValueTest::IsSet | ValueTest::IsEmpty => {
            let not = if matches!(test, ValueTest::IsEmpty) {
                "NOT "
            } else {
                ""
            };
            b.sql(&format!(
                "{not}COALESCE({ty} IN {types_text} OR {ty} IN {types_num}, FALSE)"
            ));
        }
        ValueTest::TextNe(s) => {
            // Not a string at all, or a different one.
            b.sql(&format!(
                "COALESCE({ty} NOT IN {types_text}, TRUE) OR lower({text_val}) <> "
            ));
            b.text(s);
        }
        ValueTest::Num(NumTest::Ne(_)) => {
            // Not a number at all, or a different one.
            b.sql(&format!("NOT COALESCE({ty} IN {types_num}, FALSE) OR ("));
            num_value_test(b, &num_val, test);
            b.sql(")");
        }
        _ if numeric => {
            b.sql(&format!("COALESCE({ty} IN {types_num}, FALSE) AND ("));
            num_value_test(b, &num_val, test);
            b.sql(")");
        }
        _ => {
            b.sql(&format!("COALESCE({ty} IN {types_text}, FALSE) AND ("));
            text_test(b, &text_val, test);
            b.sql(")");
        }
    }
}

fn rfm_ctes(b: &mut Builder, purchase: &str) {
    let d = b.dialect;
    let (time, value) = (b.e("time"), b.e("value"));
    let orders = |b: &mut Builder, select: &str| {
        let (events, who, id, name) = (b.events(), b.e("customer_id"), b.c("id"), b.e("name"));
        b.sql(&format!(
            "(SELECT {select} FROM {events} AS e WHERE {who} = {id} AND {name} = "
        ));
        b.text(purchase);
        b.sql(&format!(" AND {time} < "));
        b.int(b.as_of);
        b.sql(")");
    };
    let (id, customers) = (b.c("id"), b.customers());
    b.sql(&format!(
        "WITH rfm_base AS (\n  SELECT {id} AS customer_id,\n    "
    ));
    orders(b, &format!("max({time})"));
    b.sql(" AS last_order,\n    ");
    orders(b, "count(*)");
    b.sql(" AS frequency,\n    ");
    orders(b, &format!("COALESCE(sum({value}), 0)"));
    b.sql(&format!(
        " AS monetary\n  FROM {customers} AS c\n),\nrfm_buyers AS (\n  SELECT customer_id, "
    ));
    let recency = d.idiv(&format!("({} - last_order)", b.as_of), "86400");
    b.sql(&format!(
        "{recency} AS recency_days, frequency, monetary\n  FROM rfm_base WHERE last_order IS NOT NULL\n),\n"
    ));
    b.sql("rfm_scored AS (\n  SELECT customer_id, recency_days, frequency, monetary,\n");
    for (name, order) in [
        ("r_score", "recency_days DESC"),
        ("f_score", "frequency"),
        ("m_score", "monetary"),
    ] {
        let score = d.idiv(
            &format!("(5 * count(*) OVER (ORDER BY {order}) + count(*) OVER () - 1)"),
            "count(*) OVER ()",
        );
        b.sql(&format!("    {score} AS {name},\n"));
    }
    b.sql("    0 AS unused\n  FROM rfm_buyers\n),\nrfm AS (\n  SELECT customer_id, recency_days, frequency, monetary, r_score, f_score, m_score,\n    CASE");
    // The grid, spelled out cell by cell from the same function the engine uses.
    let mut cells: Vec<(&str, Vec<(u8, u8)>)> = Vec::new();
    for r in 1..=5u8 {
        for f in 1..=5u8 {
            let name = rfm_segment(r, f);
            match cells.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push((r, f)),
                None => cells.push((name, vec![(r, f)])),
            }
        }
    }
    for (name, pairs) in cells {
        let conds: Vec<String> = pairs
            .iter()
            .map(|(r, f)| format!("(r_score = {r} AND f_score = {f})"))
            .collect();
        b.sql(&format!(
            "\n      WHEN {} THEN {}",
            conds.join(" OR "),
            d.literal(&SqlValue::Text(name.to_string()))
        ));
    }
    b.sql("\n    END AS segment\n  FROM rfm_scored\n)\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted_safely() {
        assert_eq!(
            SqlValue::Text("'; DROP TABLE customers; --".into()).literal(),
            "'''; DROP TABLE customers; --'"
        );
        assert_eq!(SqlValue::Real(3.0).literal(), "3.0");
        assert_eq!(SqlValue::Real(0.1).literal(), "0.1");
        assert_eq!(SqlValue::Int(-5).literal(), "-5");
        assert_eq!(Dialect::Postgres.quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::Spark.quote_ident("a`b"), "`a``b`");
        assert_eq!(
            Dialect::Spark.literal(&SqlValue::Text("it's \\d".into())),
            "'it\\'s \\\\d'"
        );
        assert_eq!(
            Dialect::Snowflake.quote_table("crm.contacts"),
            "\"crm\".\"contacts\""
        );
    }

    #[test]
    fn ceil_day_rounds_up_to_midnight() {
        assert_eq!(ceil_day(0), "1970-01-01");
        assert_eq!(ceil_day(1), "1970-01-02");
        assert_eq!(ceil_day(DAY), "1970-01-02");
    }
}
