//! Segment services the rule builder runs as background jobs: evaluate a
//! draft, count saved segments, overlaps, compare versions; [`ops`] changes
//! saved segments.

pub mod ops;

use std::path::Path;
use std::sync::Arc;

use crate::app::AppError;
use crate::engine::edit::path_string;
use crate::engine::members::{exclusive_counts, overlap_matrix};
use crate::engine::resolve::RNode;
use crate::engine::rule::Rule;
use crate::engine::sql::{Dialect, compile};
use crate::engine::{Engine, Evaluation, RuleError, Schema, parse_rule, resolve, schema_of};
use crate::model::{SegmentRecord, group_thousands};
use crate::progress::Progress;
use crate::store::Store;

/// A loaded workspace, ready for segment work.
pub struct Loaded {
    pub engine: Arc<Engine>,
    pub schema: Arc<Schema>,
    pub segments: Vec<SegmentRecord>,
    /// What demo mode masks in this workspace.
    pub masker: Arc<crate::model::mask::Masker>,
}

/// Builds the engine and reads what rules can refer to.
pub fn load(path: &Path, progress: &dyn Progress) -> Result<Loaded, AppError> {
    let store = Store::open_read_only(path)?;
    let schema = schema_of(&store)?;
    let segments = store.segments()?;
    let engine = Engine::load(&store, progress)?;
    Ok(Loaded {
        engine: Arc::new(engine),
        schema: Arc::new(schema),
        segments,
        masker: Arc::new(store.masker()?),
    })
}

/// Resolves `rule` as the segment `name` would be saved: references to
/// `name` see this rule, so a cycle through it is found (and named).
pub fn resolve_as(schema: &Schema, name: &str, rule: &Rule) -> Result<RNode, RuleError> {
    let mut s = schema.clone();
    if !name.is_empty() {
        s.segments.insert(name.to_string(), rule.clone());
    }
    resolve(rule, &s)
}

/// A draft's evaluation, with its SQL.
pub struct DraftResult {
    pub node: Arc<RNode>,
    pub evaluation: Evaluation,
    /// The draft's key email metrics (when the workspace's sends are
    /// read): computed with the count, in the same job.
    pub live: Option<crate::app::performance::LiveMetrics>,
    /// Inline SQL per dialect.
    pub sql: std::collections::HashMap<Dialect, String>,
}

impl DraftResult {
    pub fn sql(&self, dialect: Dialect) -> &str {
        self.sql
            .get(&dialect)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub enum DraftError {
    /// The rule is not valid yet; the error names the node.
    Rule(RuleError),
    Failed(AppError),
}

pub fn evaluate_draft(
    engine: &Engine,
    schema: &Schema,
    name: &str,
    rule: &Rule,
    as_of: i64,
    progress: &dyn Progress,
) -> Result<DraftResult, DraftError> {
    let node = resolve_as(schema, name, rule).map_err(DraftError::Rule)?;
    let evaluation = engine
        .evaluate(&node, as_of, progress)
        .map_err(|e| DraftError::Failed(e.into()))?;
    let sql = Dialect::ALL
        .iter()
        .map(|d| (*d, compile(&node, as_of, *d).inline()))
        .collect();
    Ok(DraftResult {
        node: Arc::new(node),
        evaluation,
        live: None,
        sql,
    })
}

/// A saved segment's count, and how many of its members can be emailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    pub count: usize,
    pub reachable: usize,
}

impl From<&Evaluation> for Counted {
    fn from(e: &Evaluation) -> Counted {
        Counted {
            count: e.count(),
            reachable: e.reachable,
        }
    }
}

/// The count of each saved segment (by id), for the list and `prism
/// segment list`.
pub fn saved_counts(
    engine: &Engine,
    schema: &Schema,
    segments: &[SegmentRecord],
    as_of: i64,
    progress: &dyn Progress,
) -> Vec<(i64, Result<Counted, AppError>)> {
    segments
        .iter()
        .map(|s| {
            let count = parse_rule(&s.rule)
                .and_then(|r| resolve(&r, schema))
                .map_err(AppError::from)
                .and_then(|n| Ok(Counted::from(&engine.evaluate(&n, as_of, progress)?)));
            (s.id, count)
        })
        .collect()
}

/// Pairwise overlaps of segments in priority order, and exclusive counts.
#[derive(Clone, Debug, PartialEq)]
pub struct OverlapReport {
    pub names: Vec<String>,
    pub colors: Vec<String>,
    pub sizes: Vec<usize>,
    pub matrix: Vec<Vec<usize>>,
    pub exclusive: Vec<usize>,
}

/// `segments` in priority order, each with the rule to use.
pub fn overlap(
    engine: &Engine,
    schema: &Schema,
    segments: &[(String, String, Rule)],
    as_of: i64,
    progress: &dyn Progress,
) -> Result<OverlapReport, AppError> {
    let mut sets = Vec::new();
    for (name, _, rule) in segments {
        let node = resolve_as(schema, name, rule)
            .map_err(|e| AppError::Invalid(format!("{name}: rule error at {e}")))?;
        sets.push(engine.set_of(&node, as_of, progress)?);
    }
    let refs: Vec<&crate::engine::Bitset> = sets.iter().map(|s| s.as_ref()).collect();
    Ok(OverlapReport {
        names: segments.iter().map(|s| s.0.clone()).collect(),
        colors: segments.iter().map(|s| s.1.clone()).collect(),
        sizes: refs.iter().map(|s| s.count()).collect(),
        matrix: overlap_matrix(&refs),
        exclusive: exclusive_counts(&refs),
    })
}

/// How customers move between two versions of a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionDiff {
    pub before: usize,
    pub after: usize,
    /// In the newer version only.
    pub entered: usize,
    /// In the older version only.
    pub left: usize,
    pub entered_sample: Vec<String>,
    pub left_sample: Vec<String>,
}

pub fn compare(
    engine: &Engine,
    schema: &Schema,
    name: &str,
    before: &Rule,
    after: &Rule,
    as_of: i64,
    progress: &dyn Progress,
) -> Result<VersionDiff, AppError> {
    let set = |r: &Rule| -> Result<Arc<crate::engine::Bitset>, AppError> {
        let n = resolve_as(schema, name, r)?;
        Ok(engine.set_of(&n, as_of, progress)?)
    };
    let a = set(before)?;
    let b = set(after)?;
    let mut entered = (*b).clone();
    entered.and_not_with(&a);
    let mut left = (*a).clone();
    left.and_not_with(&b);
    let sample = |s: &crate::engine::Bitset| -> Vec<String> {
        engine
            .sample_members(s, 5, 1)
            .into_iter()
            .map(|i| engine.customer_summary(i))
            .collect()
    };
    Ok(VersionDiff {
        before: a.count(),
        after: b.count(),
        entered: entered.count(),
        left: left.count(),
        entered_sample: sample(&entered),
        left_sample: sample(&left),
    })
}

/// Node paths with their counts, for display by path.
pub fn counts_by_path(
    e: &Evaluation,
) -> std::collections::HashMap<crate::engine::resolve::NodePath, (usize, f64)> {
    e.nodes
        .iter()
        .map(|n| (n.path.clone(), (n.count, n.share_of_parent)))
        .collect()
}

/// The path string of a node address (re-exported for the UI).
pub fn path_of(addr: &[usize]) -> String {
    path_string(addr)
}

/// Writes members (engine indexes, in order) with every customer field,
/// and records the export in the workspace's audit log.
pub fn write_members_csv(engine: &Engine, order: &[usize], out: &Path) -> Result<(), AppError> {
    let io = |e: std::io::Error| AppError::Io {
        path: out.display().to_string(),
        source: e,
    };
    let file = std::fs::File::create(out).map_err(io)?;
    write_members_csv_to(engine, order, &mut std::io::BufWriter::new(file)).map_err(io)?;
    audit_members_export(engine, order.len(), &out.display().to_string())
}

/// What a members export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembersExport {
    pub rows: usize,
    /// Unreachable members left out (or, with an override, included).
    pub unreachable: usize,
    pub included_unreachable: bool,
}

impl MembersExport {
    pub fn summary(&self, to: &str) -> String {
        let who = if self.included_unreachable {
            format!(
                "{} unreachable included",
                group_thousands(self.unreachable as i64)
            )
        } else {
            format!(
                "{} unreachable left out",
                group_thousands(self.unreachable as i64)
            )
        };
        format!(
            "Exported {} members to {to} ({who})",
            group_thousands(self.rows as i64)
        )
    }
}

/// Writes the members `audience` allows as of `as_of`, sorted, to `out`;
/// records the export, and any override, in the audit log.
pub fn export_members(
    engine: &Engine,
    members: &crate::engine::Bitset,
    sort: Option<&crate::engine::members::SortBy>,
    as_of: i64,
    audience: &super::privacy::Audience,
    out: &Path,
) -> Result<MembersExport, AppError> {
    let (chosen, unreachable) = super::privacy::members_for(engine, members, as_of, audience);
    let order: Vec<usize> = engine
        .sorted_members(&chosen, sort)
        .into_iter()
        .map(|i| i as usize)
        .collect();
    write_members_csv(engine, &order, out)?;
    super::privacy::record_override(engine.workspace(), audience, "members export", unreachable)?;
    Ok(MembersExport {
        rows: order.len(),
        unreachable,
        included_unreachable: audience.includes_unreachable(),
    })
}

/// Records an export of `rows` members to `to` in the audit log.
pub fn audit_members_export(engine: &Engine, rows: usize, to: &str) -> Result<(), AppError> {
    let detail = serde_json::json!({ "what": "members", "rows": rows, "to": to });
    crate::store::Store::audit(engine.workspace(), "export", &detail)?;
    Ok(())
}

/// The members as CSV into any writer (a file, standard output).
pub fn write_members_csv_to(
    engine: &Engine,
    order: &[usize],
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let fields: Vec<String> = engine.data.fields.iter().map(|f| f.name.clone()).collect();
    writeln!(w, "id,{}", fields.join(","))?;
    for &i in order {
        let mut line = engine.id_of(i).to_string();
        for f in &fields {
            line.push(',');
            line.push_str(&crate::model::text::csv_field(
                &engine.field_display(f, i).unwrap_or_default(),
            ));
        }
        writeln!(w, "{line}")?;
    }
    w.flush()
}

/// Writes text (a segment's SQL, a list of ids) to `path`, whole or not
/// at all: into a sibling first, renamed into place.
pub fn write_text(path: &std::path::Path, text: &str) -> Result<String, AppError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            AppError::Invalid(format!("{}: {e}", path.display()))
        })?;
    Ok(path.display().to_string())
}

/// A rule counted by the workspace's database.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceCount {
    /// Where: `PostgreSQL user@host:port/db`.
    pub source: String,
    /// `(depth, label, count)` of every node, the root first.
    pub nodes: Vec<(usize, String, u64)>,
    /// The root's query, in milliseconds.
    pub millis: f64,
}

/// `node` counted by the workspace's PostgreSQL source as of `as_of`: the
/// root, and with `every_node` each node below it too. The tables are
/// checked first, so a missing one is named rather than failing a query.
pub fn count_on_source(
    workspace: &std::path::Path,
    node: &crate::engine::resolve::RNode,
    as_of: i64,
    every_node: bool,
    progress: &dyn crate::progress::Progress,
) -> Result<SourceCount, AppError> {
    let store = Store::open_read_only(workspace)?;
    progress.report(0.0, "connecting to the source");
    let (source, mut client) = connect_source(&store, node)?;
    let mut walk = crate::warehouse::nodes_with_depth(node);
    if !every_node {
        walk.truncate(1);
    }
    let total = walk.len() as f32;
    let mut nodes = Vec::new();
    let mut millis = 0.0;
    for (depth, n) in walk {
        if progress.is_cancelled() {
            return Err(AppError::Cancelled);
        }
        progress.report(nodes.len() as f32 / total, "counting on PostgreSQL");
        let started = std::time::Instant::now();
        let count = crate::warehouse::postgres::cancellable(&mut client, progress, |c| {
            source.count(c, n, as_of)
        })?;
        if nodes.is_empty() {
            millis = started.elapsed().as_secs_f64() * 1e3;
        }
        nodes.push((depth, crate::engine::explain::node_label(n), count));
    }
    Ok(SourceCount {
        source: source.describe(),
        nodes,
        millis,
    })
}

/// Sets the workspace's PostgreSQL source to `url` with `mapping` (`None`
/// keeps the one it has), connected to and its tables checked first: a
/// wrong one never replaces a good one. `url` `None` clears it. Returns
/// where it points.
pub fn set_source(
    workspace: &Path,
    url: Option<&str>,
    mapping: Option<crate::engine::sql::Mapping>,
) -> Result<Option<String>, AppError> {
    use crate::warehouse::postgres::Source;
    let store = Store::open(workspace)?;
    let Some(url) = url else {
        Source::clear(&store)?;
        return Ok(None);
    };
    let known: Vec<String> = schema_of(&store)?
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let mapping = match mapping {
        Some(m) => {
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            m.check_fields(&known).map_err(AppError::Invalid)?;
            m
        }
        None => Source::of_workspace(&store)
            .ok()
            .flatten()
            .map(|s| s.mapping)
            .unwrap_or_default(),
    };
    let source = Source::new(url, mapping)?;
    let mut client = source.connect()?;
    let fields: Vec<&str> = known.iter().map(String::as_str).collect();
    source.check_tables(&mut client, &fields)?;
    source.save(&store)?;
    Ok(Some(source.describe()))
}

/// The workspace's source, connected, its tables checked for `node`.
fn connect_source(
    store: &Store,
    node: &RNode,
) -> Result<(crate::warehouse::postgres::Source, postgres::Client), AppError> {
    use crate::warehouse::postgres::Source;
    let source = Source::of_workspace(store)?
        .ok_or_else(|| AppError::Invalid("this workspace has no source".into()))?;
    let mut client = source.connect()?;
    let fields = crate::warehouse::fields_used(node);
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    source.check_tables(&mut client, &fields)?;
    Ok((source, client))
}

/// Members found on the workspace's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceMembers {
    pub ids: Vec<i64>,
    /// Unreachable members left out (or, with an override, included).
    pub unreachable: usize,
}

impl SourceMembers {
    /// The ids as CSV: `id`, then one per line.
    pub fn csv(&self) -> String {
        let mut csv = String::from("id\n");
        for id in &self.ids {
            csv.push_str(&format!("{id}\n"));
        }
        csv
    }
}

/// The ids of `node`'s members on the workspace's source as of `as_of`,
/// as `audience` allows (customers who cannot be emailed left out unless
/// a reason is given, which the audit log records with `what`).
pub fn members_on_source(
    workspace: &Path,
    node: &RNode,
    as_of: i64,
    audience: &super::privacy::Audience,
    what: &str,
) -> Result<SourceMembers, AppError> {
    let store = Store::open_read_only(workspace)?;
    let (source, mut client) = connect_source(&store, node)?;
    let everyone = source.member_ids(&mut client, node, as_of, false)?;
    let reachable = source.member_ids(&mut client, node, as_of, true)?;
    let unreachable = everyone.len() - reachable.len();
    drop(store);
    super::privacy::record_override(workspace, audience, what, unreachable)?;
    let ids = if audience.includes_unreachable() {
        everyone
    } else {
        reachable
    };
    let detail = serde_json::json!({ "what": "members", "rows": ids.len(), "to": what, "source": source.describe() });
    Store::audit(workspace, "export", &detail)?;
    Ok(SourceMembers { ids, unreachable })
}

/// Why customer `who` (id, customer id or email there) is in or out of
/// `node` on the workspace's source: `(their id, (depth, label, passes)
/// of every node)`.
pub fn explain_on_source(
    workspace: &Path,
    node: &RNode,
    as_of: i64,
    who: &str,
    progress: &dyn crate::progress::Progress,
) -> Result<(i64, crate::warehouse::postgres::Verdicts), AppError> {
    let store = Store::open_read_only(workspace)?;
    let (source, mut client) = connect_source(&store, node)?;
    let id = source.find_customer(&mut client, who)?.ok_or_else(|| {
        AppError::Invalid(format!("no customer {who:?} on {}", source.describe()))
    })?;
    let nodes = source.explain(&mut client, node, as_of, id, progress)?;
    Ok((id, nodes))
}
