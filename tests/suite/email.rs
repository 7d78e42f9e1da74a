//! Email: the render context, starter templates, escaping, lint, the
//! content map, export and the CLI, on real workspace files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use prism::email::context::ContextBuilder;
use prism::email::export::{self, Format, Unit};
use prism::email::lint;
use prism::email::mapping::{self, variant_for};
use prism::email::shape::context_shape;
use prism::email::starter::{parse_template_file, starter_templates};
use prism::email::{EmailError, Mail, Renderer, Severity};
use prism::engine::Engine;
use prism::model::{
    Customer, Event, FieldType, FieldValue, MapEntry, Product, SegmentRecord, Template,
};
use prism::progress::{CancelFlag, NoProgress, Progress};
use prism::store::Store;

use crate::common::ts;

const AS_OF: &str = "2026-11-01";

fn prism() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prism"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The SKUs of a list of products in a context.
fn skus(products: &serde_json::Value) -> Vec<&str> {
    products
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect()
}

fn ev(
    name: &str,
    time: &str,
    value: Option<f64>,
    product: Option<&str>,
    category: Option<&str>,
) -> Event {
    Event {
        name: name.into(),
        time: ts(time),
        value,
        product: product.map(Into::into),
        category: category.map(Into::into),
        ..Event::default()
    }
}

fn person(ext: &str, first: Option<&str>, email: &str, city: Option<&str>) -> Customer {
    let mut custom = BTreeMap::new();
    custom.insert("tier".to_string(), FieldValue::Text("gold".into()));
    Customer {
        external_id: ext.into(),
        email: Some(email.into()),
        first_name: first.map(Into::into),
        last_name: Some("Test".into()),
        city: city.map(Into::into),
        country: Some("US".into()),
        signup_at: Some(ts("2026-01-01")),
        email_consent: true,
        custom,
        ..Customer::default()
    }
}

pub const HOSTILE_NAME: &str = "<script>alert('x')</script> & \"Bo\" 😀";
pub const RTL_CITY: &str = "القاهرة";

/// A shop of four products and five customers chosen for the edge cases:
/// - M1 Mia: orders, then two items added to the cart (a cart), views.
/// - M2 (no first name): one order, nothing in the cart.
/// - M3: hostile first name, right-to-left city, a 5,000-character last name.
/// - M4 Noor: bought both products anyone ever bought (no recommendations).
/// - M5 Sam: no events at all.
///
/// Segments: Buyers (any order, priority 1), Everyone else (no order, 2).
fn email_workspace(dir: &Path) -> PathBuf {
    let path = dir.join("mail.prism");
    let mut store = Store::create(&path).unwrap();
    store
        .add_custom_field("tier", FieldType::Text, "Tier")
        .unwrap();
    let products = [
        ("P-MUG", "Stoneware Mug", "Kitchen", 18.0),
        ("P-POT", "Tea Pot", "Kitchen", 42.5),
        ("P-BAG", "Canvas Tote", "Bags", 25.0),
        ("P-LAMP", "Brass Lamp", "Home", 1250.0),
    ];
    let mut hostile = person("M3", Some(HOSTILE_NAME), "m3@x.com", Some(RTL_CITY));
    hostile.last_name = Some("L".repeat(5000));
    let people = vec![
        (
            person("M1", Some("Mia"), "mia@x.com", Some("Oslo")),
            vec![
                ev(
                    "order",
                    "2026-09-01 10:00",
                    Some(18.0),
                    Some("P-MUG"),
                    Some("Kitchen"),
                ),
                ev(
                    "order",
                    "2026-10-01 10:00",
                    Some(42.5),
                    Some("P-POT"),
                    Some("Kitchen"),
                ),
                ev(
                    "product_view",
                    "2026-10-20 10:00",
                    None,
                    Some("P-BAG"),
                    Some("Bags"),
                ),
                ev(
                    "add_to_cart",
                    "2026-09-15 10:00",
                    None,
                    Some("P-LAMP"),
                    Some("Home"),
                ),
                ev(
                    "add_to_cart",
                    "2026-10-25 10:00",
                    None,
                    Some("P-BAG"),
                    Some("Bags"),
                ),
                ev(
                    "add_to_cart",
                    "2026-10-26 10:00",
                    None,
                    Some("P-LAMP"),
                    Some("Home"),
                ),
            ],
        ),
        (
            person("M2", None, "m2@x.com", None),
            vec![ev(
                "order",
                "2026-10-10 10:00",
                Some(25.0),
                Some("P-BAG"),
                Some("Bags"),
            )],
        ),
        (
            hostile,
            vec![ev(
                "order",
                "2026-10-11 10:00",
                Some(18.0),
                Some("P-MUG"),
                Some("Kitchen"),
            )],
        ),
        (
            person("M4", Some("Noor"), "noor@x.com", Some("Lyon")),
            vec![
                ev(
                    "order",
                    "2026-10-12 10:00",
                    Some(18.0),
                    Some("P-MUG"),
                    Some("Kitchen"),
                ),
                ev(
                    "order",
                    "2026-10-13 10:00",
                    Some(42.5),
                    Some("P-POT"),
                    Some("Kitchen"),
                ),
                ev(
                    "order",
                    "2026-10-14 10:00",
                    Some(25.0),
                    Some("P-BAG"),
                    Some("Bags"),
                ),
            ],
        ),
        (person("M5", Some("Sam"), "sam@x.com", Some("Rome")), vec![]),
    ];
    {
        let mut load = store.bulk_load(false).unwrap();
        for (sku, name, cat, price) in products {
            load.insert_product(&Product {
                sku: sku.into(),
                name: name.into(),
                category: Some(cat.into()),
                price: Some(price),
            })
            .unwrap();
        }
        for (c, events) in people {
            let id = load.insert_customer(&c).unwrap();
            for mut e in events {
                e.customer_id = id;
                load.insert_event(&e).unwrap();
            }
        }
        load.commit().unwrap();
    }
    let orders = |op: &str, n: i64| {
        serde_json::json!({"version": 1, "root": {"type": "group", "match": "all", "children": [
            {"type": "event", "event": "order", "aggregate": "count", "op": op, "value": n, "window": {"kind": "ever"}}
        ]}})
        .to_string()
    };
    for (name, rule) in [
        ("Buyers", orders("at_least", 1)),
        ("Everyone else", orders("equals", 0)),
    ] {
        store
            .save_segment(&SegmentRecord {
                name: name.into(),
                color: "#336699".into(),
                rule,
                ..SegmentRecord::default()
            })
            .unwrap();
    }
    for t in starter_templates(ts(AS_OF)) {
        store.save_template(&t, "starter").unwrap();
    }
    for (k, v) in prism::email::starter::SAMPLE_SHOP {
        store.set_meta(k, v).unwrap();
    }
    path
}

fn mail(path: &Path) -> Mail {
    let store = Store::open(path).unwrap();
    let engine = Arc::new(Engine::load(&store, &NoProgress).unwrap());
    Mail::load(&store, engine, ts(AS_OF)).unwrap()
}

fn row(m: &Mail, ext: &str) -> usize {
    m.builder
        .find(ext)
        .unwrap_or_else(|| panic!("no customer {ext}"))
}

#[test]
fn context_follows_its_documented_shape_and_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let m = mail(&email_workspace(dir.path()));
    let shape = context_shape(&m.engine.data.fields);
    for i in 0..m.engine.data.len() {
        let c = m.builder.build(i);
        assert_eq!(shape.check(&c, "context"), None, "{c:#}");
    }
    let mia = m.builder.build(row(&m, "M1"));
    // The cart holds what was added after the last order, newest first,
    // each product once.
    let cart = skus(&mia["cart"]);
    assert_eq!(cart, ["P-LAMP", "P-BAG"]);
    assert_eq!(mia["cart_total"], 1275.0);
    assert_eq!(mia["orders"]["count"], 2);
    assert_eq!(mia["orders"]["total"], 60.5);
    assert_eq!(mia["last_order"]["product"]["name"], "Tea Pot");
    assert_eq!(mia["segments"], serde_json::json!(["Buyers"]));
    assert_eq!(mia["custom"]["tier"], "gold");
    assert_eq!(mia["tier"], "gold");
    assert_eq!(mia["shop"]["name"], "Lumen & Loom");
    // Recommendations never repeat a purchase; top sellers fill in.
    let recs = skus(&mia["recommended_products"]);
    assert_eq!(
        recs,
        ["P-BAG"],
        "Mia bought the mug and the pot; the tote is the only other seller"
    );
    let noor = m.builder.build(row(&m, "M4"));
    assert_eq!(noor["recommended_products"], serde_json::json!([]));
    assert_eq!(noor["cart"], serde_json::json!([]));
    let sam = m.builder.build(row(&m, "M5"));
    assert_eq!(sam["last_order"], serde_json::Value::Null);
    assert_eq!(sam["orders"]["count"], 0);
    assert_eq!(sam["segment"], "Everyone else");
    assert_eq!(sam["recommended_products"].as_array().unwrap().len(), 3);
    // The same inputs give the same context.
    assert_eq!(m.builder.build(row(&m, "M1")), mia);
}

#[test]
fn context_as_of_an_earlier_time_sees_only_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let path = email_workspace(dir.path());
    let store = Store::open(&path).unwrap();
    let engine = Arc::new(Engine::load(&store, &NoProgress).unwrap());
    let schema = prism::engine::schema_of(&store).unwrap();
    let b = ContextBuilder::new(&store, engine, &schema, ts("2026-09-20")).unwrap();
    let mia = b.build(b.find("M1").unwrap());
    assert_eq!(mia["orders"]["count"], 1);
    let cart = skus(&mia["cart"]);
    assert_eq!(cart, ["P-LAMP"]);
}

fn render(m: &Mail, template: &str, ext: &str) -> prism::email::Rendered {
    let t = m.template(template).unwrap().clone();
    let r = m.renderer(&t).unwrap();
    r.render_with_text(m.builder.build(row(m, ext))).unwrap()
}

/// Every starter for every chosen customer, against committed golden
/// files (`PRISM_UPDATE_GOLDEN=1` rewrites them after a deliberate change).
#[test]
fn starter_templates_render_as_the_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let m = mail(&email_workspace(dir.path()));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/email");
    let update = std::env::var_os("PRISM_UPDATE_GOLDEN").is_some();
    let mut mismatched = Vec::new();
    for t in &m.templates {
        for ext in ["M1", "M2", "M3", "M4", "M5"] {
            let out = render(&m, &t.name, ext);
            let text = format!(
                "From: {} <{}>\nSubject: {}\nPreheader: {}\n\n{}\n----- text -----\n{}",
                out.from_name,
                out.from_address,
                out.subject,
                out.preheader,
                out.html,
                out.text.as_deref().unwrap_or("")
            );
            let file = golden.join(format!("{}-{ext}.txt", prism::email::export::slug(&t.name)));
            if update {
                std::fs::create_dir_all(&golden).unwrap();
                std::fs::write(&file, &text).unwrap();
            } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
                mismatched.push(file.display().to_string());
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "renders differ from {mismatched:?}; run with PRISM_UPDATE_GOLDEN=1 to accept"
    );

    // What the golden files must show, independently of their bytes.
    let welcome_m2 = render(&m, "Welcome", "M2");
    assert!(
        welcome_m2.html.contains("Hi there,"),
        "a missing first name falls back"
    );
    assert_eq!(welcome_m2.subject, "Welcome to Lumen & Loom, friend");
    let cart_m1 = render(&m, "Abandoned cart", "M1");
    assert_eq!(cart_m1.subject, "You left 2 items in your cart");
    assert!(cart_m1.html.contains("Brass Lamp") && cart_m1.html.contains("$1,275.00"));
    let cart_m4 = render(&m, "Abandoned cart", "M4");
    assert_eq!(cart_m4.subject, "Still looking, Noor?");
    assert!(
        !cart_m4.html.contains("Popular right now"),
        "no recommendations: no empty product grid"
    );
    assert!(cart_m4.html.contains("Still looking?"));
    let win_m5 = render(&m, "Win-back", "M5");
    assert!(win_m5.html.contains("15% off your first order"));
    let win_m1 = render(&m, "Win-back", "M1");
    assert!(
        win_m1
            .html
            .contains("Your last order was on 1 October 2026")
    );
    let vip_m1 = render(&m, "VIP offer", "M1");
    assert!(vip_m1.html.contains("placed 2 orders"), "{}", vip_m1.html);
    let vip_m2 = render(&m, "VIP offer", "M2");
    assert!(
        vip_m2.html.contains("placed 1 order with"),
        "pluralize: one order"
    );
    // The preheader is the first, hidden text of the body.
    assert!(
        win_m1.html.contains("display:none")
            && win_m1.html.contains("It has been a while. Here is")
    );
    assert!(win_m1.text.as_deref().unwrap().contains("Hi Mia,"));
    assert!(
        !win_m1.text.as_deref().unwrap().contains('─'),
        "text parts have no drawn tables"
    );
}

#[test]
fn customer_data_is_escaped_and_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let m = mail(&email_workspace(dir.path()));
    let out = render(&m, "Welcome", "M3");
    assert!(
        !out.html.contains("<script>"),
        "customer data reached the HTML unescaped"
    );
    assert!(
        out.html
            .contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;Bo&quot; 😀"),
        "{}",
        out.html
    );
    assert!(out.html.contains(RTL_CITY));
    // The subject is a header, not HTML: the text as written, on one line.
    assert_eq!(
        out.subject,
        format!("Welcome to Lumen & Loom, {HOSTILE_NAME}")
    );
    let t = Template {
        name: "Long".into(),
        subject: "{{last_name}}\r\nBcc: someone@else.com".into(),
        body: "<p>{{full_name}}</p><p>{{truncate last_name 10}}</p>".into(),
        ..Template::default()
    };
    let r = Renderer::new(&t, &HashMap::new()).unwrap();
    let out = r.render(m.builder.build(row(&m, "M3"))).unwrap();
    assert!(
        !out.subject.contains('\n') && !out.subject.contains('\r'),
        "no header injection"
    );
    assert!(out.html.contains(&"L".repeat(5000)));
    assert!(out.html.contains("<p>LLLLLLLLL…</p>"));
}

fn planted() -> Template {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email/planted.html");
    parse_template_file("planted.html", &std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn lint_finds_every_planted_problem() {
    let dir = tempfile::tempdir().unwrap();
    let m = mail(&email_workspace(dir.path()));
    let t = planted();
    // A triple-stash of customer data refuses to compile.
    let Err(EmailError::Template { findings, .. }) = m.renderer(&t) else {
        panic!("a triple-stash of customer data must be refused");
    };
    assert!(
        findings
            .iter()
            .any(|f| f.line == 8 && f.message.contains("unescaped")),
        "{findings:?}"
    );
    // Without it, lint over every customer finds the rest.
    let mut t2 = t.clone();
    t2.body = t2.body.replace("{{{first_name}}}", "{{first_name}}");
    let r = m.renderer(&t2).unwrap();
    let rows: Vec<usize> = (0..m.engine.data.len()).collect();
    let report = lint::lint(&r, &m.builder, &rows, &m.shape, &NoProgress);
    let lines = report.lines();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has("Planted.html:9:10: error: unknown variable \"frist_name\""),
        "{lines:#?}"
    );
    assert!(has("did you mean \"first_name\""), "{lines:#?}");
    assert!(
        has("Planted.html:17:43: error: unknown variable \"colour\""),
        "{lines:#?}"
    );
    assert!(
        has("Planted.html:10:16: warning: city is empty for 1 of 5 members"),
        "{lines:#?}"
    );
    assert!(
        has(
            "Planted.html:11:1: warning: image \"https://lumenandloom.shop/hero.jpg\" has no alt text"
        ),
        "{lines:#?}"
    );
    assert!(
        has("Planted.html:12:1: warning: a link has no href"),
        "{lines:#?}"
    );
    assert!(
        has("Planted.html:13:1: warning: a link goes to href=\"#\""),
        "{lines:#?}"
    );
    assert!(
        has("Planted.html:14:1: warning: a link goes to a placeholder domain"),
        "{lines:#?}"
    );
    assert!(
        has("Planted.html:15:4: warning: first_name is empty for 1 of 5 members"),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("in the rendered email")),
        "the sources already show these: {lines:#?}"
    );
    assert!(
        has("Planted.html:3:10: warning: the subject is longer than 60 characters"),
        "{lines:#?}"
    );
    // Nobody's cart is non-empty... except Mia's: lint Noor and Sam only.
    let few = vec![row(&m, "M4"), row(&m, "M5")];
    let report = lint::lint(&r, &m.builder, &few, &m.shape, &NoProgress);
    assert!(
        report.lines().iter().any(|l| l
            .contains("Planted.html:16:1: warning: {{#if cart}}: no member reaches this branch")),
        "{:#?}",
        report.lines()
    );
    let cart = report
        .branches
        .iter()
        .find(|b| b.condition == "cart")
        .unwrap();
    assert_eq!((cart.then_reached, cart.else_reached), (Some(0), Some(2)));
    let city = report.vars.iter().find(|v| v.path == "city").unwrap();
    assert_eq!((city.empty, city.of, city.covered), (0, 2, false));
    let name = report.vars.iter().find(|v| v.path == "first_name").unwrap();
    // The subject's `default` covers its own use only; the body's bare
    // use is the one reported.
    assert!(!name.covered);
    assert_eq!(
        (name.pos.part.as_str(), name.pos.line, name.pos.col),
        ("body", 8, 4)
    );
}

#[test]
fn starter_templates_lint_clean_over_the_sample_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.prism");
    let opts = prism::sample::SampleOptions {
        customers: 3000,
        seed: 42,
        as_of: ts(AS_OF),
        name: "Sample".into(),
    };
    prism::sample::generate_workspace(&opts, &path, false, &NoProgress).unwrap();
    let m = mail(&path);
    let routes = m.routes();
    assert_eq!(routes.len(), 7, "every seed segment is mapped");
    assert!(
        routes.iter().any(|r| r.variants.len() == 2),
        "the sample shows an A/B test"
    );
    let assigned = m.assignments(&routes);
    assert!(!assigned.is_empty());
    let shape = context_shape(&m.engine.data.fields);
    for t in &m.templates {
        let r = m.renderer(t).unwrap();
        let rows: Vec<usize> = assigned
            .iter()
            .filter(|a| routes[a.route].variants[a.variant].1 == t.id)
            .map(|a| a.row)
            .collect();
        let report = lint::lint(&r, &m.builder, &rows, &shape, &NoProgress);
        let bad: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| f.display(&t.name))
            .collect();
        assert!(bad.is_empty(), "{}: {bad:#?}", t.name);
        assert_eq!(report.members, rows.len());
    }
}

#[test]
fn bad_templates_get_a_clear_error_with_line_and_column() {
    let none = HashMap::new();
    let body = |b: &str| Template {
        name: "Bad".into(),
        body: b.into(),
        ..Template::default()
    };
    let err = |t: &Template, parts: &HashMap<String, String>| -> Vec<String> {
        match Renderer::new(t, parts) {
            Ok(_) => panic!("{:?} compiled", t.body),
            Err(f) => f.iter().map(|f| f.display(&t.name)).collect(),
        }
    };
    let e = err(
        &body("<p>ok</p>\n<p>{{#if first_name}}unclosed</p>\n"),
        &none,
    );
    assert!(e[0].starts_with("Bad.html:"), "{e:?}");
    let e = err(&body("<p>\n  {{shout first_name}}</p>"), &none);
    assert_eq!(e, ["Bad.html:9:3: error: unknown helper \"shout\""]);
    let e = err(&body("{{> nowhere}}"), &none);
    assert!(
        e[0].starts_with("Bad.html:8:1: error: no partial named \"nowhere\""),
        "{e:?}"
    );
    let mut loops = HashMap::new();
    loops.insert("loop".to_string(), "<p>{{> loop}}</p>".to_string());
    let e = err(&body("{{> loop}}"), &loops);
    assert!(e.iter().any(|l| l.contains("includes itself")), "{e:?}");
    let huge = "<p>x</p>".repeat(5 * 1024 * 1024 / 8);
    let e = err(&body(&huge), &none);
    assert!(e[0].contains("templates are limited to 1 MB"), "{e:?}");
    let deep = "{{#if a}}".repeat(5000);
    let e = err(&body(&deep), &none);
    assert!(e[0].contains("nested more than"), "{e:?}");
    let e = err(&body("{{* inline}}"), &none);
    assert!(e[0].contains("decorators"), "{e:?}");
    // An invalid date format is a render error, never a panic.
    let t = body("{{date as_of \"%Q %\"}}");
    let r = Renderer::new(&t, &none).unwrap();
    let failed = r.render(serde_json::json!({"as_of": "2026-11-01T00:00:00Z"}));
    assert!(
        matches!(failed, Err(EmailError::Render { .. })),
        "{failed:?}"
    );
}

#[test]
fn template_add_refuses_bad_files_and_keeps_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let ws = email_workspace(dir.path());
    let before = Store::open(&ws).unwrap().templates().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email");
    let out = prism()
        .args(["template", "add"])
        .arg(&ws)
        .arg(fixtures.join("latin1.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("latin1.html:1:15: the file is not UTF-8"),
        "{msg}"
    );
    let out = prism()
        .args(["template", "add"])
        .arg(&ws)
        .arg(fixtures.join("planted.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("Planted.html:15:4: error:") && msg.contains("not saved"),
        "{msg}"
    );
    let big = dir.path().join("big.html");
    std::fs::write(&big, "x".repeat(5 << 20)).unwrap();
    let out = prism()
        .args(["template", "add"])
        .arg(&ws)
        .arg(&big)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("limited to 1 MB"));
    assert_eq!(
        Store::open(&ws).unwrap().templates().unwrap(),
        before,
        "nothing was saved"
    );

    // A good file saves; saving again makes a new version; export and
    // show give it back.
    let good = dir.path().join("hello.html");
    std::fs::write(&good, "---\nname: Hello\nsubject: Hi {{default first_name \"you\"}}\n---\n<p>Hello {{first_name}}</p>\n").unwrap();
    run_ok(prism().args(["template", "add"]).arg(&ws).arg(&good));
    let again = run_ok(prism().args(["template", "add"]).arg(&ws).arg(&good));
    assert!(again.contains("version 2"), "{again}");
    let shown = run_ok(prism().args(["template", "show"]).arg(&ws).arg("Hello"));
    assert!(
        shown.contains("subject: Hi {{default first_name \"you\"}}")
            && shown.contains("<p>Hello {{first_name}}</p>")
    );
    let list = run_ok(prism().args(["template", "list"]).arg(&ws));
    assert!(list.contains("Hello\t2\t"), "{list}");
    run_ok(prism().args(["template", "delete"]).arg(&ws).arg("Hello"));
    assert!(!run_ok(prism().args(["template", "list"]).arg(&ws)).contains("Hello\t"));
}

#[test]
fn variants_are_stable_and_split_by_weight() {
    let a: Vec<usize> = (0..20_000)
        .map(|id| variant_for(id, 7, &[50, 50]))
        .collect();
    let b: Vec<usize> = (0..20_000)
        .map(|id| variant_for(id, 7, &[50, 50]))
        .collect();
    assert_eq!(a, b);
    let share_b = a.iter().filter(|&&v| v == 1).count() as f64 / a.len() as f64;
    assert!((share_b - 0.5).abs() < 0.02, "{share_b}");
    let c: Vec<usize> = (0..20_000)
        .map(|id| variant_for(id, 7, &[90, 10]))
        .collect();
    let share = c.iter().filter(|&&v| v == 1).count() as f64 / c.len() as f64;
    assert!((share - 0.1).abs() < 0.01, "{share}");
    // Fixed values: assignments never move between versions of Prism.
    assert_eq!(
        (0..8)
            .map(|id| variant_for(id, 3, &[1, 1]))
            .collect::<Vec<_>>(),
        [1, 0, 0, 1, 0, 0, 1, 0]
    );
}

#[test]
fn map_edits_and_exclusive_assignment_follow_priority() {
    let dir = tempfile::tempdir().unwrap();
    let ws = email_workspace(dir.path());
    let shown = run_ok(prism().arg("map").arg(&ws).args([
        "--segment",
        "Buyers",
        "--template",
        "VIP offer",
        "--as-of",
        AS_OF,
    ]));
    assert!(shown.contains("1\tBuyers\tA\tVIP offer\t1\t4"), "{shown}");
    let shown = run_ok(prism().arg("map").arg(&ws).args([
        "--segment",
        "Buyers",
        "--template",
        "Newsletter",
        "--variant",
        "B",
        "--weight",
        "3",
        "--as-of",
        AS_OF,
    ]));
    assert!(shown.contains("Buyers\tB\tNewsletter\t3"), "{shown}");
    assert!(shown.contains("not mapped: Everyone else"), "{shown}");
    let out = prism()
        .arg("map")
        .arg(&ws)
        .args(["--segment", "Buyers", "--template", "Nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let store = Store::open(&ws).unwrap();
    let map = store.content_map().unwrap();
    assert_eq!(map.len(), 2);
    let templates = store.templates().unwrap();
    let bad = [MapEntry {
        segment_id: map[0].segment_id,
        variant: "A".into(),
        template_id: 999,
        weight: 1,
    }];
    assert!(mapping::validate(&bad, &templates).is_err());

    // A customer in both segments gets the first one's message.
    let m = mail(&ws);
    let routes = m.routes();
    let assigned = m.assignments(&routes);
    assert_eq!(assigned.len(), 4, "four buyers");
    let mut seen = std::collections::HashSet::new();
    assert!(
        assigned.iter().all(|a| seen.insert(a.row)),
        "one message per customer"
    );
    run_ok(
        prism()
            .arg("map")
            .arg(&ws)
            .args(["--segment", "Buyers", "--clear"]),
    );
    assert!(Store::open(&ws).unwrap().content_map().unwrap().is_empty());
}

struct CancelAfter(std::sync::atomic::AtomicUsize, usize);
impl Progress for CancelAfter {
    fn report(&self, _: f32, _: &str) {}
    fn is_cancelled(&self) -> bool {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= self.1
    }
}

fn units(m: &Mail) -> (Vec<Renderer>, Vec<Unit>) {
    let r = m.renderer(m.template("Newsletter").unwrap()).unwrap();
    let units = (0..m.engine.data.len())
        .map(|row| Unit {
            renderer: 0,
            row,
            segment: "All of them".into(),
            variant: String::new(),
        })
        .collect();
    (vec![r], units)
}

#[test]
fn exports_are_whole_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let m = mail(&email_workspace(dir.path()));
    let (rs, us) = units(&m);
    let out = dir.path().join("out");
    let stats =
        export::export(&m.builder, &rs, &us, &out, Format::Html, false, &NoProgress).unwrap();
    assert_eq!(stats.files, 5);
    let mut files: Vec<String> = std::fs::read_dir(out.join("all-of-them"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["M1.html", "M2.html", "M3.html", "M4.html", "M5.html"]
    );
    // A non-empty folder is not overwritten without force.
    let again = export::export(&m.builder, &rs, &us, &out, Format::Eml, false, &NoProgress);
    assert!(
        matches!(again, Err(EmailError::Invalid(ref e)) if e.contains("--force")),
        "{again:?}"
    );
    assert!(out.join("all-of-them/M1.html").exists());
    // A cancelled export leaves the old one and no temporary folder.
    let cancel = CancelAfter(Default::default(), 1);
    let r = export::export(&m.builder, &rs, &us, &out, Format::Eml, true, &cancel);
    assert!(matches!(r, Err(EmailError::Cancelled)), "{r:?}");
    assert!(out.join("all-of-them/M1.html").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let flag = CancelFlag::default();
    flag.cancel();
    let new = dir.path().join("new");
    assert!(export::export(&m.builder, &rs, &us, &new, Format::Html, false, &flag).is_err());
    assert!(
        !new.exists(),
        "a cancelled export leaves nothing under its name"
    );
    // With force, the new export replaces the old one whole.
    export::export(&m.builder, &rs, &us, &out, Format::Eml, true, &NoProgress).unwrap();
    assert!(out.join("all-of-them/M1.eml").exists() && !out.join("all-of-them/M1.html").exists());
    // One CSV of subjects, as an ESP upload wants.
    let csv = dir.path().join("subjects.csv");
    export::export(&m.builder, &rs, &us, &csv, Format::Csv, false, &NoProgress).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    let hostile = rows.iter().find(|r| &r[1] == "M3").unwrap();
    assert_eq!(
        &hostile[6],
        format!("{HOSTILE_NAME}, this week at Lumen & Loom")
    );
}

#[test]
fn eml_files_open_in_pythons_email_package() {
    let Ok(probe) = Command::new("python3").arg("--version").output() else {
        eprintln!("SKIPPED: no python3 on this machine, .eml parsing not checked");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().unwrap();
    let ws = email_workspace(dir.path());
    run_ok(prism().arg("map").arg(&ws).args([
        "--segment",
        "Buyers",
        "--template",
        "Abandoned cart",
        "--as-of",
        AS_OF,
    ]));
    let out = dir.path().join("eml");
    let printed = run_ok(
        prism()
            .arg("render")
            .arg(&ws)
            .args(["--mapped", "--format", "eml", "--as-of", AS_OF, "--out"])
            .arg(&out),
    );
    assert!(printed.contains("emails = 4"), "{printed}");
    let script = r#"
import sys, email, email.policy, pathlib
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.eml")):
    m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
    assert m.get_content_type() == "multipart/alternative", m.get_content_type()
    parts = [x for x in m.iter_parts()]
    kinds = [x.get_content_type() for x in parts]
    assert kinds == ["text/plain", "text/html"], kinds
    assert all(x.get_content_charset() == "utf-8" for x in parts)
    html = parts[1].get_content()
    text = parts[0].get_content()
    assert "<script>" not in html
    print(p.stem, "|", m["subject"], "|", m["from"], "|", m["to"], "|", len(text) > 100, "|", "Lumen" in html)
"#;
    let lines = run_ok(Command::new("python3").arg("-c").arg(script).arg(&out));
    assert!(lines.contains("M1 | You left 2 items in your cart | Lumen & Loom <hello@lumenandloom.shop> | mia@x.com | True | True"), "{lines}");
    assert!(
        lines.contains(&format!("M3 | Still looking, {HOSTILE_NAME}? |")),
        "{lines}"
    );
}

#[test]
fn cli_context_and_lint_fit_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let ws = email_workspace(dir.path());
    let json =
        run_ok(
            prism()
                .arg("context")
                .arg(&ws)
                .args(["--customer", "mia@x.com", "--as-of", AS_OF]),
        );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["external_id"], "M1");
    assert_eq!(v["as_of"], "2026-11-01T00:00:00Z");
    let out = prism()
        .arg("context")
        .arg(&ws)
        .args(["--customer", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Lint of a clean template passes; a planted error fails with
    // file:line:column.
    run_ok(prism().arg("lint").arg(&ws).args([
        "--template",
        "Welcome",
        "--segment",
        "Everyone else",
        "--as-of",
        AS_OF,
    ]));
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "---\nname: Typo\nsubject: Hi\n---\n<p>\n{{frist_name}}</p>\n",
    )
    .unwrap();
    run_ok(prism().args(["template", "add"]).arg(&ws).arg(&bad));
    let out = prism()
        .arg("lint")
        .arg(&ws)
        .args(["--template", "Typo", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Typo.html:9:1: error: unknown variable \"frist_name\""),
        "{stdout}"
    );
}

#[test]
fn lint_runs_in_the_background_and_stops_when_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let m = mail(&email_workspace(dir.path()));
    let r = m.renderer(m.template("Newsletter").unwrap()).unwrap();
    // Many rows (the same five customers over and over) so both threads run.
    let rows: Vec<usize> = (0..10_000).map(|k| k % 5).collect();
    let flag = CancelFlag::default();
    flag.cancel();
    let report = lint::lint(&r, &m.builder, &rows, &m.shape, &flag);
    assert!(report.members < rows.len(), "cancel stops the lint");
    let report = lint::lint(&r, &m.builder, &rows, &m.shape, &NoProgress);
    assert_eq!(report.members, rows.len());
}

/// Where `needle` first stands in `text`: line and column, from 1.
fn line_col_of(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found"));
    let before = &text[..at];
    (
        before.matches('\n').count() + 1,
        before.rsplit('\n').next().unwrap().chars().count() + 1,
    )
}

#[test]
fn templates_and_customers_from_elsewhere_render_and_lint() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("crm.prism");
    let ws_s = ws.to_str().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let contacts = fixtures.join("crm_contacts.csv");
    // Customers exported by a CRM (written by Python's csv module).
    run_ok(prism().args([
        "import",
        ws_s,
        contacts.to_str().unwrap(),
        "--kind",
        "customers",
    ]));
    let welcome = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/templates/welcome.html");
    run_ok(prism().args(["template", "add", ws_s, welcome.to_str().unwrap()]));

    // Every customer's welcome greets them by the first name in the file,
    // read here with a plain CSV reader.
    let mut first_names: HashMap<String, String> = HashMap::new();
    let mut reader = csv::Reader::from_path(&contacts).unwrap();
    for rec in reader.records() {
        let rec = rec.unwrap();
        first_names.insert(rec[0].to_string(), rec[1].to_string());
    }
    assert_eq!(first_names.len(), 1_000);
    // Everyone, as a saved segment (an empty AND group).
    let rule = dir.path().join("everyone.json");
    std::fs::write(
        &rule,
        serde_json::to_string(&prism::engine::rule::Rule::everyone()).unwrap(),
    )
    .unwrap();
    run_ok(
        prism()
            .args(["segment", "save", ws_s, "--name", "Everyone", "--rule"])
            .arg(&rule),
    );
    let out = dir.path().join("out");
    run_ok(
        prism()
            .args([
                "render",
                ws_s,
                "--template",
                "Welcome",
                "--segment",
                "Everyone",
                "--out",
            ])
            .arg(&out)
            .args(["--format", "html", "--as-of", AS_OF])
            // Every greeting is checked, the unreachable's too.
            .args(["--include-unreachable", "QA of every greeting"]),
    );
    let mut files = 0;
    for e in walk(&out) {
        let id = e.file_stem().unwrap().to_str().unwrap().to_string();
        let html = std::fs::read_to_string(&e).unwrap();
        let name = &first_names[&id];
        assert!(
            html.contains(&format!("Hi {name},")),
            "{id}: no greeting for {name}"
        );
        files += 1;
    }
    assert_eq!(files, 1_000);

    // A public template (Ghost's invitation, from its npm package) uses
    // variables of its own: lint names each, at its line and column.
    let ghost = fixtures.join("email_public/ghost-invite-user.html");
    run_ok(prism().args(["template", "add", ws_s, ghost.to_str().unwrap()]));
    let body = std::fs::read_to_string(&ghost).unwrap();
    let lint = prism()
        .args([
            "lint",
            ws_s,
            "--template",
            "ghost-invite-user",
            "--as-of",
            AS_OF,
        ])
        .output()
        .unwrap();
    assert_eq!(lint.status.code(), Some(1), "unknown variables are errors");
    let printed = String::from_utf8_lossy(&lint.stdout);
    let offset = prism::email::Layout::standard().body_offset;
    for var in [
        "blogName",
        "invitedByName",
        "invitedByEmail",
        "resetLink",
        "recipientEmail",
    ] {
        let (line, col) = line_col_of(&body, &format!("{{{{{var}}}}}"));
        let want = format!(
            "ghost-invite-user.html:{}:{col}: error: unknown variable \"{var}\"",
            line + offset
        );
        assert!(printed.contains(&want), "{want}\nnot in:\n{printed}");
    }
    // It still renders (unknown variables print nothing), escaped.
    let one = dir.path().join("ghost");
    run_ok(
        prism()
            .args([
                "render",
                ws_s,
                "--template",
                "ghost-invite-user",
                "--customer",
                "C00328",
                "--out",
            ])
            .arg(&one)
            .args(["--include-unreachable", "QA of a public template"]),
    );
    let html = std::fs::read_to_string(walk(&one).first().unwrap()).unwrap();
    assert!(html.contains("</html>"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
