//! `prism perf`: how each segment responds to email, as a table, CSV or
//! JSON — the Performance screen's figures.

use std::path::PathBuf;

use clap::Args;

use super::segments::load_engine;
use super::{CliError, TermProgress, parse_as_of_or_now};
use crate::analytics::{self, Attribution, Membership, Selection, Trigger};
use crate::app::performance::{load_sends, report, saved_rules};
use crate::engine::schema_of;
use crate::model::time::parse_instant;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct PerfArgs {
    pub workspace: PathBuf,
    /// Only these saved segments (repeatable); all by default.
    #[arg(long = "segment")]
    pub segments: Vec<String>,
    /// Only these campaigns, by id or name (repeatable); all by default.
    #[arg(long = "campaign")]
    pub campaigns: Vec<String>,
    /// Campaigns sent from this date on.
    #[arg(long)]
    pub from: Option<String>,
    /// Campaigns sent before this date.
    #[arg(long)]
    pub to: Option<String>,
    /// table, csv or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Count today's members for every campaign (default: the members as
    /// of each campaign's send).
    #[arg(long)]
    pub current: bool,
    /// Days after a click (or open) in which an order counts.
    #[arg(long, default_value_t = 5)]
    pub window_days: i64,
    /// What starts the attribution window: click or open.
    #[arg(long, default_value = "click")]
    pub trigger: String,
    #[arg(long)]
    pub as_of: Option<String>,
}

fn date(flag: &str, s: &Option<String>) -> Result<Option<i64>, CliError> {
    s.as_ref()
        .map(|s| {
            parse_instant(s).ok_or_else(|| {
                CliError::new(
                    2,
                    format!("--{flag} {s:?}: expected a date like 2026-11-01"),
                )
            })
        })
        .transpose()
}

pub fn perf(args: PerfArgs) -> Result<(), CliError> {
    let format = args.format.to_ascii_lowercase();
    if !["table", "csv", "json"].contains(&format.as_str()) {
        return Err(CliError::new(
            2,
            format!("--format {:?}: use table, csv or json", args.format),
        ));
    }
    let trigger = match args.trigger.to_ascii_lowercase().as_str() {
        "click" => Trigger::Click,
        "open" => Trigger::Open,
        other => {
            return Err(CliError::new(
                2,
                format!("--trigger {other:?}: use click or open"),
            ));
        }
    };
    if !(0..=90).contains(&args.window_days) {
        return Err(CliError::new(
            2,
            format!("--window-days {}: use 0 to 90", args.window_days),
        ));
    }
    let as_of = parse_as_of_or_now(args.as_of.clone())?;
    let from = date("from", &args.from)?;
    let to = date("to", &args.to)?;
    let store = Store::open_read_only(&args.workspace)?;
    let engine = load_engine(&store)?;
    let schema = schema_of(&store).map_err(|e| CliError::new(1, e.to_string()))?;
    let saved = store.segments()?;
    let mut rules = saved_rules(&schema, &saved);
    if !args.segments.is_empty() {
        let mut chosen = Vec::new();
        for name in &args.segments {
            let r = rules
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| {
                    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
                    CliError::new(
                        2,
                        format!("no segment named {name:?} (segments: {})", names.join(", ")),
                    )
                })?;
            chosen.push(r.clone());
        }
        rules = chosen;
    }
    let campaigns = store.campaigns()?;
    let mut ids = Vec::new();
    for c in &args.campaigns {
        let found = campaigns
            .iter()
            .find(|x| x.id == *c || x.name.eq_ignore_ascii_case(c.trim()))
            .ok_or_else(|| CliError::new(2, format!("no campaign {c:?} (by id or name)")))?;
        ids.push(found.id.clone());
    }
    let progress = TermProgress::new();
    let sends = load_sends(
        &store,
        &engine,
        Attribution {
            trigger,
            window_days: args.window_days,
        },
        as_of,
        &progress,
    )?;
    let selection = Selection {
        campaigns: ids,
        from,
        to,
    };
    let membership = if args.current {
        Membership::Current
    } else {
        Membership::AsOfSend
    };
    let r = report(&engine, &sends, &rules, &selection, membership, &progress)?;
    let text = match format.as_str() {
        "csv" => analytics::to_csv(&r),
        "json" => {
            serde_json::to_string_pretty(&r).map_err(|e| CliError::new(1, e.to_string()))? + "\n"
        }
        _ => analytics::to_table(&r),
    };
    print!("{text}");
    Ok(())
}
