//! Segments where the data lives: the SQL of every dialect, a mapping to
//! the user's own table and column names, `prism export-schema`, and a
//! PostgreSQL source with its bad inputs. (The real engines' members are
//! checked in engine_differential.rs.)

use std::path::Path;
use std::process::Command;

use prism::engine::sql::{Dialect, Mapping, compile, compile_mapped};
use prism::engine::{Engine, parse_rule, resolve, schema_of};
use prism::progress::NoProgress;
use prism::store::Store;
use prism::warehouse::postgres::Source;
use serde_json::json;

use crate::common;

fn prism() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prism"))
}

/// What `prism ARGS…` did: its exit code, standard output and error.
struct Ran {
    code: Option<i32>,
    out: String,
    err: String,
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Ran {
    let out = prism()
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap();
    Ran {
        code: out.status.code(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `prism ARGS…`, which must succeed: its standard output and error.
fn ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (String, String) {
    let r = run(args);
    assert_eq!(r.code, Some(0), "{}", r.err);
    (r.out, r.err)
}

/// A rule touching a profile field, events with a filter, RFM and a text
/// test, as the tiny workspace knows them.
fn busy_rule() -> prism::engine::rule::Rule {
    parse_rule(
        &json!({"version": 1, "root": {"type": "group", "match": "any", "children": [
            {"type": "group", "match": "all", "children": [
                {"type": "profile", "field": "country", "op": "equals", "value": "de"},
                {"type": "event", "event": "order", "aggregate": "sum", "op": "greater_than", "value": 100}
            ]},
            {"type": "trait", "trait": "rfm_segment", "op": "equals", "value": "At risk"},
            {"type": "event", "event": "email_open", "aggregate": "distinct_days", "op": "at_least", "value": 2,
             "window": {"kind": "last_days", "days": 30}}
        ]}})
        .to_string(),
    )
    .unwrap()
}

#[test]
fn every_dialect_quotes_its_own_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::tiny_workspace(dir.path());
    let store = Store::open_read_only(&path).unwrap();
    let schema = schema_of(&store).unwrap();
    let rule = parse_rule(
        &json!({"version": 1, "root": {"type": "group", "match": "all", "children": [
            {"type": "profile", "field": "last_name", "op": "contains", "value": "o'b\\d"},
            {"type": "profile", "field": "email", "op": "matches", "value": "^a.*\\.com$"},
            {"type": "event", "event": "order", "aggregate": "distinct_days", "op": "at_least", "value": 2}
        ]}})
        .to_string(),
    )
    .unwrap();
    let node = resolve(&rule, &schema).unwrap();
    let as_of = common::ts(common::AS_OF);
    let sql = |d: Dialect| compile(&node, as_of, d).inline();
    // Spark and BigQuery: backticks, and a backslash escapes in literals.
    for d in [Dialect::Spark, Dialect::BigQuery] {
        let q = sql(d);
        assert!(q.contains("FROM `customers` AS c"), "{q}");
        assert!(q.contains(r"'o\'b\\d'"), "{q}");
    }
    assert!(sql(Dialect::Spark).contains("count(DISTINCT e.`time` div 86400)"));
    assert!(sql(Dialect::Spark).contains("RLIKE"));
    assert!(sql(Dialect::BigQuery).contains("DIV(e.`time`, 86400)"));
    assert!(sql(Dialect::BigQuery).contains("REGEXP_CONTAINS("));
    // Snowflake: SQL's quotes, POSITION(needle, hay), a regex that finds.
    let snow = sql(Dialect::Snowflake);
    assert!(snow.contains("FROM \"customers\" AS c"), "{snow}");
    assert!(
        snow.contains("position('o''b\\d', lower(c.\"last_name\")) > 0"),
        "{snow}"
    );
    assert!(
        snow.contains("REGEXP_INSTR(c.\"email\", '^a.*\\.com$') > 0"),
        "{snow}"
    );
    assert!(snow.contains("FLOOR(e.\"time\" / 86400)"), "{snow}");
    // PostgreSQL's parameters carry their types.
    let (pg, _) = compile(&node, as_of, Dialect::Postgres).parameterized();
    assert!(pg.contains("$1::text"), "{pg}");
    assert!(pg.contains("::double precision"), "{pg}");
    for d in Dialect::ALL {
        assert_eq!(Dialect::parse(d.key()), Some(d));
    }
    assert_eq!(Dialect::parse("databricks"), Some(Dialect::Spark));
    assert_eq!(Dialect::parse("oracle"), None);
}

/// The tiny workspace's tables renamed as a CRM keeps them: the mapped SQL
/// runs on them and finds exactly the engine's members.
#[test]
fn a_mapping_runs_the_rule_on_the_users_own_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::tiny_workspace(dir.path());
    let store = Store::open_read_only(&path).unwrap();
    let schema = schema_of(&store).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    let node = resolve(&busy_rule(), &schema).unwrap();
    let as_of = common::ts(common::AS_OF);
    let expected: Vec<i64> = engine
        .evaluate(&node, as_of, &NoProgress)
        .unwrap()
        .members
        .iter()
        .map(|i| engine.id_of(i))
        .collect();
    assert!(!expected.is_empty() && expected.len() < engine.len());
    drop(store);
    // A copy with other names, made with the sqlite3 library itself.
    let crm = dir.path().join("crm.sqlite");
    std::fs::copy(&path, &crm).unwrap();
    {
        let c = python_sqlite(&crm);
        c(r#"ALTER TABLE customers RENAME TO contacts;
             ALTER TABLE contacts RENAME COLUMN id TO contact_id;
             ALTER TABLE contacts RENAME COLUMN country TO country_code;
             ALTER TABLE events RENAME TO activity;
             ALTER TABLE activity RENAME COLUMN customer_id TO contact_id;
             ALTER TABLE activity RENAME COLUMN name TO activity_type;
             ALTER TABLE activity RENAME COLUMN time TO occurred_at;"#);
    }
    let mapping = Mapping::parse(
        r#"{"customers": {"table": "contacts", "columns": {"id": "contact_id", "country": "country_code"}},
            "events": {"table": "activity", "columns": {"customer_id": "contact_id", "name": "activity_type", "time": "occurred_at"}}}"#,
    )
    .unwrap();
    let q = compile_mapped(&node, as_of, Dialect::Sqlite, &mapping);
    let sql = q.inline();
    assert!(sql.contains("FROM \"contacts\" AS c"), "{sql}");
    assert!(!sql.contains("\"customers\""), "{sql}");
    let got = query_ids(&crm, &sql);
    assert_eq!(got, expected, "{sql}");
    // Prism's own names do not run there.
    let plain = compile(&node, as_of, Dialect::Sqlite).inline();
    assert!(try_query_ids(&crm, &plain).is_err());
}

/// Runs SQL statements on a SQLite file with Python's sqlite3 module:
/// another program than Prism changes the file.
fn python_sqlite(path: &Path) -> impl Fn(&str) + '_ {
    move |sql: &str| {
        let out = Command::new("python3")
            .args(["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()"])
            .arg(path)
            .arg(sql)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn try_query_ids(path: &Path, sql: &str) -> Result<Vec<i64>, String> {
    let out = Command::new("python3")
        .args(["-c", "import sqlite3, sys, re\nc = sqlite3.connect(sys.argv[1])\nc.create_function('REGEXP', 2, lambda p, s: s is not None and re.search(p, s) is not None)\nfor r in c.execute(sys.argv[2]): print(r[0])"])
        .arg(path)
        .arg(sql)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect())
}

fn query_ids(path: &Path, sql: &str) -> Vec<i64> {
    try_query_ids(path, sql).unwrap()
}

#[test]
fn a_bad_mapping_says_where() {
    for (text, says) in [
        (
            r#"{"customers": {"tabel": "x"}}"#,
            "at customers.tabel: unknown field `tabel`",
        ),
        (
            r#"{"events": {"columns": {"when": "ts"}}}"#,
            "events.columns.when: not an events column",
        ),
        (
            r#"{"customers": {"table": "crm."}}"#,
            "customers.table: \"crm.\" is not a table name",
        ),
        (
            r#"{"customers": {"columns": {"id": " "}}}"#,
            "customers.columns.id: the column name is empty",
        ),
        (r#"{"customers": [}"#, "at customers"),
    ] {
        let e = Mapping::parse(text).unwrap_err();
        assert!(e.contains(says), "{text}: {e}");
    }
    // On the command line: the file, and a field the workspace lacks.
    let dir = tempfile::tempdir().unwrap();
    let ws = common::tiny_workspace(dir.path());
    let m = dir.path().join("mapping.json");
    std::fs::write(&m, r#"{"customers": {"columns": {"loyalty": "tier"}}}"#).unwrap();
    let rule = dir.path().join("rule.json");
    std::fs::write(&rule, busy_rule_text()).unwrap();
    let r = run(&[
        &"sql",
        &ws,
        &"--rule",
        &rule,
        &"--dialect",
        &"postgres",
        &"--mapping",
        &m,
    ]);
    assert_eq!(r.code, Some(2));
    let err = r.err;
    assert!(
        err.contains("customers.columns.loyalty: the workspace has no field"),
        "{err}"
    );
    let err = run(&[&"sql", &ws, &"--rule", &rule, &"--dialect", &"oracle"]).err;
    assert!(
        err.contains(
            "--dialect \"oracle\": use one of sqlite, postgres, duckdb, spark, bigquery, snowflake"
        ),
        "{err}"
    );
}

fn busy_rule_text() -> String {
    json!({"version": 1, "root": {"type": "group", "match": "all", "children": [
        {"type": "profile", "field": "country", "op": "equals", "value": "de"}
    ]}})
    .to_string()
}

/// `prism export-schema`: the files hold every customer and event, and
/// their sums agree with the workspace (read by Python's csv module).
#[test]
fn export_schema_writes_every_row_for_each_engine() {
    let dir = tempfile::tempdir().unwrap();
    let ws = common::sample_with_edges(dir.path(), 300);
    let store = Store::open_read_only(&ws).unwrap();
    let (customers, events) = (
        store.customer_count().unwrap(),
        store.event_count().unwrap(),
    );
    let mut value_sum = 0.0;
    store
        .for_each_event(|e| {
            value_sum += e.value.unwrap_or(0.0);
            true
        })
        .unwrap();
    drop(store);
    for d in ["postgres", "duckdb", "spark", "bigquery", "snowflake"] {
        let out_dir = dir.path().join(d);
        let (text, _) = ok(&[&"export-schema", &ws, &"--dialect", &d, &"--out", &out_dir]);
        assert!(text.contains(&format!("customers = {customers}")), "{text}");
        assert!(text.contains(&format!("events = {events}")), "{text}");
        let load = std::fs::read_to_string(out_dir.join("load.sql")).unwrap();
        assert!(
            load.contains("customers.csv") && load.contains("events.csv"),
            "{load}"
        );
        if d != "spark" {
            let ddl = std::fs::read_to_string(out_dir.join("schema.sql")).unwrap();
            assert!(ddl.contains("CREATE TABLE"), "{ddl}");
            assert!(
                ddl.contains("loyalty_tier"),
                "custom fields are columns: {ddl}"
            );
        }
    }
    // Read back by another program.
    let out = Command::new("python3")
        .args(["-c", "import csv, sys\nrows = list(csv.DictReader(open(sys.argv[1], newline='')))\nev = list(csv.DictReader(open(sys.argv[2], newline='')))\nprint(len(rows), len(ev), sum(float(e['value'] or 0) for e in ev), sum(1 for r in rows if r['email'] == ''))"])
        .arg(dir.path().join("duckdb/customers.csv"))
        .arg(dir.path().join("duckdb/events.csv"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(parts[0].parse::<i64>().unwrap(), customers);
    assert_eq!(parts[1].parse::<i64>().unwrap(), events);
    let sum: f64 = parts[2].parse().unwrap();
    assert!(
        (sum - value_sum).abs() < 1e-6 * value_sum.abs().max(1.0),
        "{sum} vs {value_sum}"
    );
    // SQLite needs no export; a folder that cannot be made is named.
    let r = run(&[
        &"export-schema",
        &ws,
        &"--dialect",
        &"sqlite",
        &"--out",
        &dir.path().join("x"),
    ]);
    assert!(r.err.contains("already a SQLite database"), "{}", r.err);
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let r = run(&[
        &"export-schema",
        &ws,
        &"--dialect",
        &"duckdb",
        &"--out",
        &blocker.join("sub"),
    ]);
    assert_ne!(r.code, Some(0));
    assert!(r.err.contains("sub"), "{}", r.err);
}

#[test]
fn a_source_never_keeps_a_password_and_an_unreachable_one_is_named() {
    let e = Source::new(
        "postgresql://ann:secret@db.example.com/shop",
        Mapping::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("holds a password"), "{e}");
    let e = Source::new("not a url ===", Mapping::default()).unwrap_err();
    assert!(e.to_string().contains("connection string"), "{e}");
    // Nothing listens on this port: a clear error, and the workspace as it was.
    let dir = tempfile::tempdir().unwrap();
    let ws = common::tiny_workspace(dir.path());
    let before = std::fs::read(&ws).unwrap();
    let r = run(&[
        &"source",
        &"set",
        &ws,
        &"postgresql://prism@127.0.0.1:9/prism",
    ]);
    assert_eq!(r.code, Some(3));
    let err = r.err;
    assert!(
        err.contains("cannot reach PostgreSQL prism@127.0.0.1:9/prism"),
        "{err}"
    );
    assert_eq!(std::fs::read(&ws).unwrap(), before, "the workspace changed");
    assert!(ok(&[&"source", &"show", &ws]).0.contains("source = local"));
    let rule = dir.path().join("rule.json");
    std::fs::write(&rule, busy_rule_text()).unwrap();
    let r = run(&[&"count", &ws, &"--rule", &rule, &"--on-source"]);
    assert_ne!(r.code, Some(0));
    assert!(r.err.contains("has no source"), "{}", r.err);
}

/// A real PostgreSQL (CI starts one; `PRISM_TEST_POSTGRES`): the source
/// set, counted on at every node, and its bad inputs.
#[test]
fn a_postgres_source_counts_like_the_engine_and_names_what_is_wrong() {
    let Ok(url) = std::env::var("PRISM_TEST_POSTGRES") else {
        assert!(
            std::env::var("PRISM_REQUIRE_ENGINES").is_err(),
            "PRISM_TEST_POSTGRES is required here"
        );
        eprintln!("NOT CHECKED: PostgreSQL source: PRISM_TEST_POSTGRES is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ws = common::sample_with_edges(dir.path(), 300);
    let store = Store::open_read_only(&ws).unwrap();
    let schema_name = format!("prism_src_{}", std::process::id());
    let export = dir.path().join("pg");
    prism::warehouse::export_schema(&store, Dialect::Postgres, &export, &NoProgress).unwrap();
    let plain = Source::new(&url, Mapping::default()).unwrap();
    let mut client = plain.connect().unwrap();
    prism::warehouse::postgres::load_export(&mut client, &export, &schema_name).unwrap();
    // The source names its tables through the mapping (schema-qualified).
    let mapping_path = dir.path().join("mapping.json");
    std::fs::write(
        &mapping_path,
        json!({"customers": {"table": format!("{schema_name}.customers")},
               "events": {"table": format!("{schema_name}.events")}})
        .to_string(),
    )
    .unwrap();
    drop(store);
    ok(&[&"source", &"set", &ws, &url, &"--mapping", &mapping_path]);
    let count = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"count",
            &ws,
            &"--segment",
            &"Frequent buyers",
            &"--as-of",
            &"2026-11-01",
        ];
        args.extend(extra.iter().map(|e| e as &dyn AsRef<std::ffi::OsStr>));
        let (text, _) = ok(&args);
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix("count = "))
            .unwrap()
            .parse::<u64>()
            .unwrap();
        (n, text)
    };
    let (local, _) = count(&[]);
    let (remote, text) = count(&["--on-source", "--tree"]);
    assert_eq!(remote, local, "{text}");
    assert!(local > 0);
    assert!(text.contains("source = PostgreSQL"), "{text}");
    // The app's path: every node counted there.
    let store = Store::open_read_only(&ws).unwrap();
    let schema = schema_of(&store).unwrap();
    let node = resolve(&busy_rule(), &schema).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    let as_of = common::ts(common::AS_OF);
    let ev = engine.evaluate(&node, as_of, &NoProgress).unwrap();
    let counted =
        prism::app::segments::count_on_source(&ws, &node, as_of, true, &NoProgress).unwrap();
    let remote_counts: Vec<u64> = counted.nodes.iter().map(|n| n.2).collect();
    let local_counts: Vec<u64> = ev.nodes.iter().map(|n| n.count as u64).collect();
    assert_eq!(remote_counts, local_counts);
    // Members there: the same ids as the local engine's, who cannot be
    // emailed left out alike; with a reason, everyone, and it is audited.
    let ids = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"members",
            &ws,
            &"--segment",
            &"Frequent buyers",
            &"--as-of",
            &"2026-11-01",
            &"--out",
            &"-",
        ];
        args.extend(extra.iter().map(|e| e as &dyn AsRef<std::ffi::OsStr>));
        let (out, err) = ok(&args);
        let ids: Vec<i64> = out
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        (ids, err)
    };
    let (local_ids, _) = ids(&[]);
    let (remote_ids, summary) = ids(&["--on-source"]);
    assert_eq!(remote_ids, local_ids, "{summary}");
    assert!(!local_ids.is_empty());
    let (everyone, summary) = ids(&["--on-source", "--include-unreachable", "QA check"]);
    assert!(summary.contains("unreachable_included = "), "{summary}");
    assert!(everyone.len() > remote_ids.len(), "{summary}");
    assert!(ok(&[&"audit", &ws, &"--csv"]).0.contains("QA check"));
    // Explain there: the same verdict as the local engine's, node by node.
    let explain = |extra: &[&str]| {
        let who = local_ids[0].to_string();
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"explain",
            &ws,
            &"--segment",
            &"Frequent buyers",
            &"--as-of",
            &"2026-11-01",
            &"--customer",
            &who,
        ];
        args.extend(extra.iter().map(|e| e as &dyn AsRef<std::ffi::OsStr>));
        ok(&args).0
    };
    let there = explain(&["--on-source"]);
    assert!(there.contains("member = yes"), "{there}");
    assert_eq!(
        there.matches("PASS").count(),
        explain(&[]).matches("PASS").count(),
        "{there}"
    );
    // The same from the SQL tab: counted at every node and a customer
    // explained there, in the background.
    {
        use egui_kittest::kittest::Queryable;
        let data = dir.path().join("data");
        let app = crate::ui_common::app(&data, Some(&ws), Some(prism::app::Screen::Segments), None);
        let mut h = crate::ui_common::harness(app, 1600.0, 1000.0);
        let wait = std::time::Duration::from_secs(120);
        crate::ui_common::run_until(&mut h, "the first count", wait, |a| {
            a.segments.eval.result.is_some() && a.jobs.is_idle()
        });
        h.get_by_label("SQL").click();
        crate::ui_common::run_until(&mut h, "the source read", wait, |a| {
            matches!(a.segments.sql.source, Some(Ok(Some(_))))
        });
        h.get_by_label("Count on PostgreSQL").click();
        crate::ui_common::run_until(&mut h, "the counts there", wait, |a| {
            a.segments.sql.remote.is_some()
        });
        let r = h.state().segments.sql.remote.clone().unwrap().unwrap();
        assert_eq!(r.count.nodes[0].2, r.local as u64);
        h.get_by_label("Customer on PostgreSQL").click();
        h.get_by_label("Customer on PostgreSQL")
            .type_text(&local_ids[0].to_string());
        h.run_ok();
        h.get_by_label("Explain on PostgreSQL").click();
        crate::ui_common::run_until(&mut h, "the explanation there", wait, |a| {
            a.segments.sql.explained.is_some()
        });
        let (id, verdicts) = h.state().segments.sql.explained.clone().unwrap().unwrap();
        assert_eq!(id, local_ids[0]);
        let current = h.state().segments.eval.result.clone().unwrap().1;
        let row = current
            .evaluation
            .members
            .get(engine.data.index_of(id).unwrap());
        assert_eq!(verdicts[0].2, row, "the verdict at the root");
        assert_eq!(verdicts.len(), current.evaluation.nodes.len());
    }
    // A missing table, a missing column: named.
    let mut source = Source::of_workspace(&store).unwrap().unwrap();
    source.mapping.events.table = Some(format!("{schema_name}.evnts"));
    let mut c = source.connect().unwrap();
    let e = source
        .check_tables(&mut c, &["country"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("no table \"{schema_name}.evnts\"")),
        "{e}"
    );
    source.mapping.events.table = Some(format!("{schema_name}.events"));
    source
        .mapping
        .customers
        .columns
        .insert("country".into(), "land".into());
    let e = source
        .check_tables(&mut c, &["country"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no column \"land\""), "{e}");
    // A query past its time limit is stopped and says so.
    source.mapping.customers.columns.clear();
    c.batch_execute(&format!(
        "CREATE FUNCTION {schema_name}.slowly(bigint) RETURNS bigint VOLATILE LANGUAGE sql \
         AS $$ SELECT pg_sleep(0.01); SELECT $1 $$;
         CREATE VIEW {schema_name}.slow AS SELECT c.* FROM {schema_name}.customers c \
         WHERE {schema_name}.slowly(c.id) = c.id"
    ))
    .unwrap();
    source.mapping.customers.table = Some(format!("{schema_name}.slow"));
    source.timeout = std::time::Duration::from_millis(300);
    let mut c = source.connect().unwrap();
    let e = source.count(&mut c, &node, as_of).unwrap_err().to_string();
    assert!(e.contains("time limit"), "{e}");
    // Cancel reaches the server: the slow statement stops rather than
    // running its seconds to the end.
    source.timeout = std::time::Duration::from_secs(120);
    let mut c = source.connect().unwrap();
    let flag = prism::progress::CancelFlag::default();
    let one = resolve(
        &parse_rule(
            &json!({"version": 1, "root": {"type": "profile", "field": "country", "op": "is_set"}})
                .to_string(),
        )
        .unwrap(),
        &schema,
    )
    .unwrap();
    let r = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            flag.cancel();
        });
        prism::warehouse::postgres::cancellable(&mut c, &flag, |c| source.count(c, &one, as_of))
    });
    assert!(
        matches!(r, Err(prism::warehouse::WarehouseError::Cancelled)),
        "{r:?}"
    );
    // A wrong password.
    let wrong = prism()
        .args(["source", "check"])
        .arg(&ws)
        .env("PRISM_PG_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("password was refused"), "{err}");
    c.batch_execute(&format!("DROP SCHEMA {schema_name} CASCADE"))
        .unwrap();
    // Clearing it: the local engine only.
    ok(&[&"source", &"clear", &ws]);
    assert!(ok(&[&"source", &"show", &ws]).0.contains("source = local"));
}

/// The SQL tab: another dialect, Export SQL…, and a source that cannot be
/// reached, named in the tab when asked for a count (the UI stays live).
#[test]
fn the_sql_tab_exports_and_counts_on_the_source() {
    use egui_kittest::kittest::Queryable;
    use prism::app::Screen;
    let dir = tempfile::tempdir().unwrap();
    let ws = common::sample_with_edges(dir.path(), 200);
    {
        let store = Store::open(&ws).unwrap();
        Source::new("postgresql://prism@127.0.0.1:9/prism", Mapping::default())
            .unwrap()
            .save(&store)
            .unwrap();
    }
    let data = dir.path().join("data");
    let app = crate::ui_common::app(&data, Some(&ws), Some(Screen::Segments), None);
    let mut h = crate::ui_common::harness(app, 1600.0, 1000.0);
    let wait = std::time::Duration::from_secs(120);
    crate::ui_common::run_until(&mut h, "the first count", wait, |a| {
        a.segments.eval.result.is_some() && a.jobs.is_idle()
    });
    h.get_by_label("SQL").click();
    h.run_ok();
    h.get_by_label("SQL dialect").click();
    h.run_ok();
    h.get_by_label("Spark SQL").click();
    h.run_ok();
    assert_eq!(h.state().segments.sql.dialect, Dialect::Spark);
    let (key, r) = h.state().segments.eval.result.clone().unwrap();
    assert_eq!(Some(key), h.state().segments.current);
    assert!(r.sql(Dialect::Spark).contains("FROM `customers` AS c"));
    h.get_by_label("Export SQL…");
    crate::ui_common::run_until(&mut h, "the source read", wait, |a| {
        matches!(a.segments.sql.source, Some(Ok(Some(_))))
    });
    h.get_by_label("Source: PostgreSQL prism@127.0.0.1:9/prism");
    h.get_by_label("Count on PostgreSQL").click();
    crate::ui_common::run_until(&mut h, "the source's answer", wait, |a| {
        a.segments.sql.remote.is_some()
    });
    let e = h.state().segments.sql.remote.clone().unwrap().unwrap_err();
    assert!(
        e.contains("cannot reach PostgreSQL prism@127.0.0.1:9/prism"),
        "{e}"
    );
    assert!(h.query_by_label(&e).is_some(), "the error is shown");
}
