//! `prism sql`, `prism export-schema`, `prism source`: segments where the
//! data lives.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::segments::{RuleSource, load_rule};
use super::{CliError, TermProgress, parse_as_of_or_now};
use crate::engine::sql::{Dialect, Mapping, compile_mapped};
use crate::store::Store;
use crate::warehouse::postgres::Source;
use crate::warehouse::{WarehouseError, export_schema};

impl From<WarehouseError> for CliError {
    fn from(e: WarehouseError) -> CliError {
        let code = match e {
            WarehouseError::Database(_) => 3,
            _ => 2,
        };
        CliError::new(code, e.to_string())
    }
}

#[derive(Subcommand, Debug)]
pub enum SourceCommand {
    /// Run this workspace's segments on a PostgreSQL database: a
    /// connection string without a password (the password comes from
    /// PRISM_PG_PASSWORD or PGPASSWORD), checked before it is kept.
    Set {
        workspace: PathBuf,
        /// `postgresql://user@host:5432/db` or `host=… user=… dbname=…`.
        url: String,
        /// Table and column names (JSON), when they are not Prism's.
        #[arg(long)]
        mapping: Option<PathBuf>,
    },
    /// Print the workspace's source.
    Show { workspace: PathBuf },
    /// Connect and check the tables and columns are there.
    Check { workspace: PathBuf },
    /// Forget the source: segments run on the local engine only.
    Clear { workspace: PathBuf },
}

pub fn dialect_arg(dialect: &str) -> Result<Dialect, CliError> {
    Dialect::parse(dialect).ok_or_else(|| {
        let names: Vec<&str> = Dialect::ALL.iter().map(|d| d.key()).collect();
        CliError::new(
            2,
            format!("--dialect {dialect:?}: use one of {}", names.join(", ")),
        )
    })
}

pub fn read_mapping(path: &Path) -> Result<Mapping, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(2, format!("{}: {e}", path.display())))?;
    Mapping::parse(&text).map_err(|e| CliError::new(2, format!("{}: {e}", path.display())))
}

/// Customer fields a mapping renames that the workspace does not have.
fn check_mapping(store: &Store, mapping: &Mapping) -> Result<(), CliError> {
    let schema = crate::engine::schema_of(store)?;
    let known: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
    mapping
        .check_fields(&known)
        .map_err(|e| CliError::new(2, e))
}

pub fn sql(
    workspace: &Path,
    source: &RuleSource,
    as_of: Option<String>,
    dialect: &str,
    mapping: Option<&Path>,
) -> Result<(), CliError> {
    let as_of = parse_as_of_or_now(as_of)?;
    let dialect = dialect_arg(dialect)?;
    let store = Store::open_read_only(workspace)?;
    let mapping = match mapping {
        Some(p) => read_mapping(p)?,
        None => Mapping::default(),
    };
    check_mapping(&store, &mapping)?;
    let (_, node, _) = load_rule(&store, source)?;
    println!(
        "{};",
        compile_mapped(&node, as_of, dialect, &mapping).inline()
    );
    Ok(())
}

pub fn export(workspace: &Path, dialect: &str, out: &Path) -> Result<(), CliError> {
    let dialect = dialect_arg(dialect)?;
    let store = Store::open_read_only(workspace)?;
    let e = export_schema(&store, dialect, out, &TermProgress::new())?;
    println!("dialect = {}", e.dialect.key());
    println!("customers = {}", e.customers);
    println!("events = {}", e.events);
    println!("schema = {}", e.schema_sql.display());
    println!("load = {}", e.load_sql.display());
    Ok(())
}

pub fn source(cmd: SourceCommand) -> Result<(), CliError> {
    match cmd {
        SourceCommand::Set {
            workspace,
            url,
            mapping,
        } => {
            let mapping = mapping.map(|p| read_mapping(&p)).transpose()?;
            let described = crate::app::segments::set_source(&workspace, Some(&url), mapping)?;
            println!("source = {}", described.unwrap_or_default());
            Ok(())
        }
        SourceCommand::Show { workspace } => {
            let store = Store::open_read_only(&workspace)?;
            match Source::of_workspace(&store)? {
                Some(s) => {
                    println!("source = {}", s.describe());
                    println!("url = {}", s.url);
                    println!(
                        "mapping = {}",
                        serde_json::to_string(&s.mapping).unwrap_or_default()
                    );
                }
                None => println!("source = local"),
            }
            Ok(())
        }
        SourceCommand::Check { workspace } => {
            let store = Store::open_read_only(&workspace)?;
            let s = need_source(&store)?;
            let mut client = s.connect()?;
            let schema = crate::engine::schema_of(&store)?;
            let fields: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
            s.check_tables(&mut client, &fields)?;
            println!("source = {}", s.describe());
            println!("tables = ok");
            Ok(())
        }
        SourceCommand::Clear { workspace } => {
            let store = Store::open(&workspace)?;
            Source::clear(&store)?;
            println!("source = local");
            Ok(())
        }
    }
}

fn need_source(store: &Store) -> Result<Source, CliError> {
    Source::of_workspace(store)?.ok_or_else(|| {
        CliError::new(
            2,
            format!(
                "{} has no source: set one with `prism source set`",
                store.path().display()
            ),
        )
    })
}

/// `prism count --on-source`: the count (and with `--tree` every node's)
/// computed by the workspace's database.
pub fn count_on_source(
    workspace: &Path,
    rule: &RuleSource,
    as_of: Option<String>,
    tree: bool,
) -> Result<(), CliError> {
    let as_of = parse_as_of_or_now(as_of)?;
    let store = Store::open_read_only(workspace)?;
    let (_, node, _) = load_rule(&store, rule)?;
    drop(store);
    let c =
        crate::app::segments::count_on_source(workspace, &node, as_of, tree, &TermProgress::new())?;
    println!("count = {}", c.nodes.first().map_or(0, |n| n.2));
    println!("source = {}", c.source);
    println!("as_of = {}", crate::model::time::format_ts(as_of));
    println!("count_time = {:.1} ms", c.millis);
    if tree {
        println!();
        for (depth, label, n) in &c.nodes {
            println!("{n:>10}  {}{label}", "  ".repeat(*depth));
        }
    }
    Ok(())
}

/// `prism members --on-source`: the ids of the members on the workspace's
/// database, one per line under `id` (who cannot be emailed left out
/// unless a reason is given).
pub fn members_on_source(
    workspace: &Path,
    rule: &RuleSource,
    as_of: Option<String>,
    out: &Path,
    include_unreachable: Option<&str>,
) -> Result<(), CliError> {
    use crate::app::privacy::Audience;
    let audience = Audience::from_reason(include_unreachable)?;
    let as_of = parse_as_of_or_now(as_of)?;
    let store = Store::open_read_only(workspace)?;
    let (_, node, _) = load_rule(&store, rule)?;
    drop(store);
    let to = if out == Path::new("-") {
        "standard output".to_string()
    } else {
        out.display().to_string()
    };
    let found = crate::app::segments::members_on_source(workspace, &node, as_of, &audience, &to)?;
    let csv = found.csv();
    let summary = [
        format!("members = {}", found.ids.len()),
        if audience.includes_unreachable() {
            format!("unreachable_included = {}", found.unreachable)
        } else {
            format!("unreachable_left_out = {}", found.unreachable)
        },
    ];
    if out == Path::new("-") {
        use std::io::Write;
        std::io::stdout()
            .lock()
            .write_all(csv.as_bytes())
            .map_err(|e| CliError::new(1, format!("standard output: {e}")))?;
        summary.iter().for_each(|l| eprintln!("{l}"));
    } else {
        crate::app::segments::write_text(out, &csv)?;
        summary.iter().for_each(|l| println!("{l}"));
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// `prism explain --on-source`: each node's verdict from the database.
pub fn explain_on_source(
    workspace: &Path,
    rule: &RuleSource,
    as_of: Option<String>,
    customer: &str,
) -> Result<(), CliError> {
    let as_of = parse_as_of_or_now(as_of)?;
    let store = Store::open_read_only(workspace)?;
    let (_, node, _) = load_rule(&store, rule)?;
    drop(store);
    let (id, nodes) = crate::app::segments::explain_on_source(
        workspace,
        &node,
        as_of,
        customer,
        &TermProgress::new(),
    )?;
    println!("customer = {id}");
    println!(
        "member = {}",
        if nodes.first().is_some_and(|n| n.2) {
            "yes"
        } else {
            "no"
        }
    );
    for (depth, label, pass) in nodes {
        println!(
            "{}  {}{label}",
            if pass { "PASS" } else { "FAIL" },
            "  ".repeat(depth)
        );
    }
    Ok(())
}
