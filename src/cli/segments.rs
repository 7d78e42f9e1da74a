//! Segment commands: count, members, explain, sql, and managing saved
//! segments and scoring models.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{CliError, TermProgress, parse_as_of_or_now};
use crate::app::AppError;
use crate::app::privacy::{self, Audience};
use crate::app::segments::ops;
use crate::engine::explain::node_label;
use crate::engine::members::SortBy;
use crate::engine::resolve::{parse_score_model, resolve_score};
use crate::engine::{Engine, EngineError, RNode, Rule, Schema, parse_rule, resolve, schema_of};
use crate::model::SegmentRecord;
use crate::store::{Store, StoreError};

/// Which rule: a saved segment or a rule file.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct RuleSource {
    /// A saved segment, by name.
    #[arg(long)]
    pub segment: Option<String>,
    /// A rule in a JSON file.
    #[arg(long)]
    pub rule: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum SegmentCommand {
    /// Save (create or update) a segment from a rule file; saving makes a new version.
    Save {
        workspace: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        rule: PathBuf,
        /// `#rrggbb`.
        #[arg(long)]
        color: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List saved segments with their counts.
    List {
        workspace: PathBuf,
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Delete a saved segment.
    Delete {
        workspace: PathBuf,
        #[arg(long)]
        name: String,
        /// Delete even if other segments refer to it.
        #[arg(long)]
        force: bool,
    },
    /// Rename a segment; rules that refer to it follow.
    Rename {
        workspace: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        to: String,
    },
    /// Save a copy of a segment as "NAME (copy)".
    Duplicate {
        workspace: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Move a segment one place up (higher priority) or down.
    Move {
        workspace: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, conflicts_with = "down", required_unless_present = "down")]
        up: bool,
        #[arg(long)]
        down: bool,
    },
    /// Change a segment's colour.
    Color {
        workspace: PathBuf,
        #[arg(long)]
        name: String,
        /// `#rrggbb`.
        color: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScoreCommand {
    /// Save a scoring model from a JSON file: {"version":1,"rules":[{"points":10,"condition":{…}}]}.
    Save {
        workspace: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// List scoring models.
    List { workspace: PathBuf },
    /// Delete a scoring model.
    Delete {
        workspace: PathBuf,
        #[arg(long)]
        name: String,
    },
}

impl From<AppError> for CliError {
    fn from(e: AppError) -> CliError {
        match e {
            AppError::Store(StoreError::Invalid(m)) => CliError::new(2, m),
            AppError::Store(s) => s.into(),
            AppError::Engine(e) => e.into(),
            AppError::Warehouse(e) => e.into(),
            other => CliError::new(if other.is_bad_input() { 2 } else { 1 }, other.to_string()),
        }
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> CliError {
        match e {
            EngineError::Store(e) => e.into(),
            EngineError::Rule(e) => CliError::new(2, format!("rule error at {e}")),
            EngineError::NotFound(m) => CliError::new(2, m),
            other => CliError::new(1, other.to_string()),
        }
    }
}

fn read_rule_file(path: &Path) -> Result<Rule, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(2, format!("{}: {e}", path.display())))?;
    parse_rule(&text)
        .map_err(|e| CliError::new(2, format!("{}: rule error at {e}", path.display())))
}

/// The rule to work on, resolved against the workspace.
pub(crate) fn load_rule(
    store: &Store,
    source: &RuleSource,
) -> Result<(Rule, RNode, Schema), CliError> {
    let schema = schema_of(store)?;
    let rule = match (&source.segment, &source.rule) {
        (Some(name), _) => {
            let seg = store.segment_by_name(name)?.ok_or_else(|| {
                CliError::new(
                    2,
                    format!("no segment named {name:?} in {}", store.path().display()),
                )
            })?;
            parse_rule(&seg.rule)
                .map_err(|e| CliError::new(2, format!("segment {name:?}: rule error at {e}")))?
        }
        (None, Some(path)) => read_rule_file(path)?,
        (None, None) => return Err(CliError::new(2, "give --segment NAME or --rule FILE.json")),
    };
    let node = resolve(&rule, &schema).map_err(|e| {
        let what = source
            .rule
            .as_ref()
            .map(|p| format!("{}: ", p.display()))
            .unwrap_or_default();
        CliError::new(2, format!("{what}rule error at {e}"))
    })?;
    Ok((rule, node, schema))
}

/// The workspace's engine; in demo mode, masking what is personal.
pub(crate) fn load_engine(store: &Store) -> Result<Engine, CliError> {
    let progress = TermProgress::new();
    let engine =
        Engine::load(store, &progress).map_err(|e| CliError::from(EngineError::from(e)))?;
    if super::demo() {
        engine.set_mask(Some(std::sync::Arc::new(store.masker()?)));
    }
    Ok(engine)
}

pub fn count(
    workspace: &Path,
    source: &RuleSource,
    as_of: Option<String>,
    tree: bool,
) -> Result<(), CliError> {
    let as_of = parse_as_of_or_now(as_of)?;
    let store = Store::open_read_only(workspace)?;
    let (_, node, _) = load_rule(&store, source)?;
    let engine = load_engine(&store)?;
    let ev = engine
        .evaluate(&node, as_of, &TermProgress::new())
        .map_err(EngineError::from)?;
    println!("count = {}", ev.count());
    println!("total = {}", ev.total);
    println!("reachable = {}", ev.reachable);
    println!("as_of = {}", crate::model::time::format_ts(as_of));
    if tree {
        println!();
        let mut i = 0;
        print_tree(&node, &ev.nodes, &mut i, 0);
    }
    Ok(())
}

fn print_tree(node: &RNode, counts: &[crate::engine::NodeCount], i: &mut usize, depth: usize) {
    let c = &counts[*i];
    *i += 1;
    println!(
        "{:>10}  {:>6.1}%  {}{}",
        c.count,
        c.share_of_parent * 100.0,
        "  ".repeat(depth),
        node_label(node)
    );
    if let crate::engine::resolve::RKind::Group { children, .. } = &node.kind {
        for ch in children {
            print_tree(ch, counts, i, depth + 1);
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn members(
    workspace: &Path,
    source: &RuleSource,
    as_of: Option<String>,
    out: &Path,
    sort: Option<String>,
    desc: bool,
    sample: Option<usize>,
    seed: u64,
    include_unreachable: Option<&str>,
) -> Result<(), CliError> {
    let audience = Audience::from_reason(include_unreachable).map_err(CliError::from)?;
    let as_of = parse_as_of_or_now(as_of)?;
    let store = Store::open_read_only(workspace)?;
    let (_, node, _) = load_rule(&store, source)?;
    let engine = load_engine(&store)?;
    let ev = engine
        .evaluate(&node, as_of, &TermProgress::new())
        .map_err(EngineError::from)?;
    let (chosen, unreachable) = privacy::members_for(&engine, &ev.members, as_of, &audience);
    let order: Vec<usize> = match sample {
        Some(n) => engine.sample_members(&chosen, n, seed),
        None => engine
            .sorted_members(
                &chosen,
                sort.map(|field| SortBy {
                    field,
                    descending: desc,
                })
                .as_ref(),
            )
            .into_iter()
            .map(|i| i as usize)
            .collect(),
    };
    let to = if out == Path::new("-") {
        // Standard output gets the CSV alone; the summary goes to stderr.
        let stdout = std::io::stdout();
        crate::app::segments::write_members_csv_to(&engine, &order, &mut stdout.lock())
            .map_err(|e| CliError::new(1, format!("standard output: {e}")))?;
        crate::app::segments::audit_members_export(&engine, order.len(), "standard output")
            .map_err(CliError::from)?;
        None
    } else {
        crate::app::segments::write_members_csv(&engine, &order, out).map_err(CliError::from)?;
        Some(out)
    };
    privacy::record_override(engine.workspace(), &audience, "members export", unreachable)
        .map_err(CliError::from)?;
    let summary = [
        format!("members = {}", order.len()),
        if audience.includes_unreachable() {
            format!("unreachable_included = {}", unreachable)
        } else {
            format!("unreachable_left_out = {}", unreachable)
        },
    ];
    match to {
        None => summary.iter().for_each(|l| eprintln!("{l}")),
        Some(out) => {
            summary.iter().for_each(|l| println!("{l}"));
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}

pub fn explain(
    workspace: &Path,
    source: &RuleSource,
    as_of: Option<String>,
    customer: &str,
) -> Result<(), CliError> {
    let as_of = parse_as_of_or_now(as_of)?;
    let store = Store::open_read_only(workspace)?;
    let (_, node, _) = load_rule(&store, source)?;
    let engine = load_engine(&store)?;
    let id = engine.find_customer(customer).ok_or_else(|| {
        CliError::new(
            2,
            format!("no customer {customer:?} (try an id, customer id or email)"),
        )
    })?;
    let ex = engine
        .explain(&node, id, as_of, &TermProgress::new())
        .map_err(EngineError::from)?
        .ok_or_else(|| CliError::new(2, format!("no customer {customer:?}")))?;
    let i = engine.data.index_of(id).unwrap_or(0);
    println!("{}", engine.customer_summary(i));
    print!("{}", ex.to_text());
    Ok(())
}

pub fn segment(cmd: SegmentCommand) -> Result<(), CliError> {
    match cmd {
        SegmentCommand::Save {
            workspace,
            name,
            rule,
            color,
            description,
        } => {
            let r = read_rule_file(&rule)?;
            let mut store = Store::open(&workspace)?;
            let schema = schema_of(&store)?;
            let node = crate::app::segments::resolve_as(&schema, &name, &r)
                .map_err(|e| CliError::new(2, format!("{}: rule error at {e}", rule.display())))?;
            let existing = store.segment_by_name(&name)?;
            if let Some(c) = color.as_deref().filter(|c| !ops::is_color(c)) {
                return Err(CliError::new(2, format!("--color {c:?}: use #rrggbb")));
            }
            let rec = SegmentRecord {
                id: existing.as_ref().map(|s| s.id).unwrap_or(0),
                name: name.clone(),
                description: description
                    .or_else(|| existing.as_ref().map(|s| s.description.clone()))
                    .unwrap_or_default(),
                color: color
                    .or_else(|| existing.as_ref().map(|s| s.color.clone()))
                    .unwrap_or_else(|| ops::DEFAULT_COLOR.into()),
                priority: existing.as_ref().map(|s| s.priority).unwrap_or(0),
                rule: r.to_json(),
                ..SegmentRecord::default()
            };
            let engine = load_engine(&store)?;
            let as_of = crate::model::time::now_utc();
            let ev = engine
                .evaluate(&node, as_of, &TermProgress::new())
                .map_err(EngineError::from)?;
            let (_, v) = ops::save(&mut store, &rec, Some(ev.count() as i64), Some(as_of), "")?;
            println!(
                "saved {name:?} version {} ({} members)",
                v.version,
                ev.count()
            );
            Ok(())
        }
        SegmentCommand::List { workspace, as_of } => {
            let as_of = parse_as_of_or_now(as_of)?;
            let store = Store::open_read_only(&workspace)?;
            let schema = schema_of(&store)?;
            let engine = load_engine(&store)?;
            let segments = store.segments()?;
            let counts = crate::app::segments::saved_counts(
                &engine,
                &schema,
                &segments,
                as_of,
                &TermProgress::new(),
            );
            println!(
                "{:<4} {:<28} {:>10} {:>10}  description",
                "prio", "segment", "count", "reachable"
            );
            for (s, (_, count)) in segments.iter().zip(counts) {
                let (count, reachable) = match count {
                    Ok(c) => (c.count.to_string(), c.reachable.to_string()),
                    Err(e) => (format!("invalid: {e}"), String::new()),
                };
                println!(
                    "{:<4} {:<28} {:>10} {:>10}  {}",
                    s.priority, s.name, count, reachable, s.description
                );
            }
            Ok(())
        }
        SegmentCommand::Delete {
            workspace,
            name,
            force,
        } => {
            let mut store = Store::open(&workspace)?;
            let seg = ops::by_name(&store, &name)?;
            ops::delete(&mut store, seg.id, force).map_err(|e| match e {
                AppError::InUse { name, users } => CliError::new(
                    2,
                    format!(
                        "{name:?} is used by {}; pass --force to delete it anyway",
                        users.join(", ")
                    ),
                ),
                other => other.into(),
            })?;
            println!("deleted {name:?}");
            Ok(())
        }
        SegmentCommand::Rename {
            workspace,
            name,
            to,
        } => {
            let mut store = Store::open(&workspace)?;
            let seg = ops::by_name(&store, &name)?;
            let rewritten = ops::rename(&mut store, seg.id, &to)?;
            println!("renamed {name:?} to {:?}", to.trim());
            for r in rewritten {
                println!("  {r:?} now refers to {:?}", to.trim());
            }
            Ok(())
        }
        SegmentCommand::Duplicate { workspace, name } => {
            let mut store = Store::open(&workspace)?;
            let seg = ops::by_name(&store, &name)?;
            let copy = ops::duplicate(&mut store, &seg)?;
            println!("saved {:?}", copy.name);
            Ok(())
        }
        SegmentCommand::Move {
            workspace,
            name,
            up,
            down: _,
        } => {
            let mut store = Store::open(&workspace)?;
            let seg = ops::by_name(&store, &name)?;
            let to = if up { ops::Move::Up } else { ops::Move::Down };
            if !ops::move_segment(&mut store, seg.id, to)? {
                println!(
                    "{name:?} is already at the {}",
                    if up { "top" } else { "bottom" }
                );
            }
            for s in store.segments()? {
                println!("{:<4} {}", s.priority, s.name);
            }
            Ok(())
        }
        SegmentCommand::Color {
            workspace,
            name,
            color,
        } => {
            let mut store = Store::open(&workspace)?;
            let seg = ops::by_name(&store, &name)?;
            ops::set_color(&mut store, seg.id, &color)?;
            println!("{name:?} is now {color}");
            Ok(())
        }
    }
}

pub fn score(cmd: ScoreCommand) -> Result<(), CliError> {
    match cmd {
        ScoreCommand::Save {
            workspace,
            name,
            file,
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::new(2, format!("{}: {e}", file.display())))?;
            let model = parse_score_model(&text)
                .map_err(|e| CliError::new(2, format!("{}: {e}", file.display())))?;
            let store = Store::open(&workspace)?;
            let mut schema = schema_of(&store)?;
            schema.scores.insert(name.clone(), model.clone());
            resolve_score(&name, &model, &schema)
                .map_err(|e| CliError::new(2, format!("{}: rule error at {e}", file.display())))?;
            store.save_score(&name, &serde_json::to_string(&model).unwrap_or_default())?;
            println!("saved score {name:?} ({} rules)", model.rules.len());
            Ok(())
        }
        ScoreCommand::List { workspace } => {
            let store = Store::open_read_only(&workspace)?;
            for s in store.scores()? {
                println!("{}\t{}", s.name, s.definition);
            }
            Ok(())
        }
        ScoreCommand::Delete { workspace, name } => {
            let store = Store::open(&workspace)?;
            if !store.delete_score(&name)? {
                return Err(StoreError::Invalid(format!("no score named {name:?}")).into());
            }
            println!("deleted score {name:?}");
            Ok(())
        }
    }
}
