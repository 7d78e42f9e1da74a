//! `prism template`, `map`, `context`, `render` and `lint`: the email
//! half of the product, headless.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::segments::load_engine;
use super::{CliError, TermProgress, parse_as_of_or_now};
use crate::app::privacy::{self, Audience};
use crate::email::export::{self, Format, Unit};
use crate::email::lint::{self, LintReport};
use crate::email::starter::{parse_template_file_layout, to_template_file};
use crate::email::workspace::PARTIAL_PREFIX;
use crate::email::{EmailError, Mail, Renderer};
use crate::model::{MapEntry, Template};
use crate::store::Store;

impl From<EmailError> for CliError {
    fn from(e: EmailError) -> CliError {
        let code = match e {
            EmailError::Template { .. } | EmailError::Invalid(_) => 2,
            EmailError::Store(ref s) if s.is_bad_file() => 2,
            _ => 1,
        };
        CliError::new(code, e.to_string())
    }
}

#[derive(Subcommand, Debug)]
pub enum TemplateCommand {
    /// Add a template from an HTML file with front matter (or replace the
    /// template of that name, as a new version).
    Add {
        workspace: PathBuf,
        file: PathBuf,
        /// The template's name (default: the front matter's, or the file's).
        #[arg(long)]
        name: Option<String>,
        /// A plain-text body (Handlebars); derived from the HTML if absent.
        #[arg(long)]
        text: Option<PathBuf>,
        /// Save it as a partial: `{{> NAME}}` in templates (overrides a
        /// built-in partial of that name).
        #[arg(long)]
        partial: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List the templates, their versions and the segments they are mapped to.
    List { workspace: PathBuf },
    /// Print a template as a file (front matter and HTML).
    Show {
        workspace: PathBuf,
        template: String,
        /// An earlier version.
        #[arg(long)]
        version: Option<i64>,
    },
    /// Write a template to a file (what `template add` reads).
    Export {
        workspace: PathBuf,
        template: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Delete a template (and its place in the content map, with --force).
    Delete {
        workspace: PathBuf,
        template: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args, Debug)]
pub struct MapArgs {
    pub workspace: PathBuf,
    /// The segment to map; without it, the map is printed.
    #[arg(long)]
    pub segment: Option<String>,
    /// The template for the segment (or for its --variant).
    #[arg(long)]
    pub template: Option<String>,
    /// The A/B variant to set (A by default); other variants are kept.
    #[arg(long)]
    pub variant: Option<String>,
    /// The variant's share, relative to the others' weights.
    #[arg(long, default_value_t = 1)]
    pub weight: u32,
    /// Remove the segment's mapping (or only --variant).
    #[arg(long)]
    pub clear: bool,
    #[arg(long)]
    pub as_of: Option<String>,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    pub workspace: PathBuf,
    /// Render this template for everyone chosen.
    #[arg(long, conflicts_with = "mapped")]
    pub template: Option<String>,
    /// Render each member's mapped template (segment priority, variants).
    #[arg(long)]
    pub mapped: bool,
    /// The members of this saved segment.
    #[arg(long, conflicts_with = "customer")]
    pub segment: Option<String>,
    /// One customer: workspace id, customer id or email.
    #[arg(long)]
    pub customer: Option<String>,
    /// A folder (html, eml, text) or a file (csv).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "html")]
    pub format: String,
    /// At most this many emails (per segment with --mapped).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Replace an existing export.
    #[arg(long)]
    pub force: bool,
    /// The campaign the email belongs to (its fields in the context).
    #[arg(long)]
    pub campaign: Option<String>,
    #[arg(long)]
    pub as_of: Option<String>,
    /// Render for customers who cannot be emailed too (no consent, no
    /// address, unsubscribed, hard-bounced), for this reason; the audit
    /// log records it.
    #[arg(long, value_name = "REASON")]
    pub include_unreachable: Option<String>,
}

#[derive(Args, Debug)]
pub struct LintArgs {
    pub workspace: PathBuf,
    /// Lint this template (default: every mapped template over its segment).
    #[arg(long)]
    pub template: Option<String>,
    /// Over the members of this segment.
    #[arg(long, conflicts_with = "customer")]
    pub segment: Option<String>,
    /// For one customer.
    #[arg(long)]
    pub customer: Option<String>,
    /// Also print per-variable and per-branch figures.
    #[arg(long)]
    pub stats: bool,
    #[arg(long)]
    pub as_of: Option<String>,
}

fn load_mail(store: &Store, as_of: Option<String>) -> Result<Mail, CliError> {
    let as_of = parse_as_of_or_now(as_of)?;
    let engine = Arc::new(load_engine(store)?);
    Ok(Mail::load(store, engine, as_of)?)
}

/// Reads a template file: UTF-8, within the size limit, or a clear error
/// naming the file and where.
pub fn read_template_file(path: &Path) -> Result<String, CliError> {
    let bytes =
        std::fs::read(path).map_err(|e| CliError::new(2, format!("{}: {e}", path.display())))?;
    if bytes.len() > crate::email::ast::MAX_SOURCE {
        return Err(CliError::new(
            2,
            format!(
                "{}: the file is {:.1} MB; templates are limited to {} MB",
                path.display(),
                bytes.len() as f64 / 1e6,
                crate::email::ast::MAX_SOURCE >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..at]).to_string();
        let line = text.matches('\n').count() + 1;
        let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        CliError::new(
            2,
            format!(
                "{}:{line}:{col}: the file is not UTF-8 (byte {at}); save it as UTF-8 and add it again",
                path.display()
            ),
        )
    })
}

pub fn template(command: TemplateCommand) -> Result<(), CliError> {
    match command {
        TemplateCommand::Add {
            workspace,
            file,
            name,
            text,
            partial,
            note,
        } => {
            let source = read_template_file(&file)?;
            let file_name = file.display().to_string();
            let (mut t, layout) = if partial {
                let t = Template {
                    name: file
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or("partial")
                        .to_string(),
                    body: source,
                    ..Template::default()
                };
                (t, crate::email::Layout::standard())
            } else {
                parse_template_file_layout(&file_name, &source).map_err(|e| CliError::new(2, e))?
            };
            if let Some(n) = name {
                t.name = n;
            }
            if partial && !t.name.starts_with(PARTIAL_PREFIX) {
                t.name = format!("{PARTIAL_PREFIX}{}", t.name);
            }
            if let Some(p) = text {
                t.text_body = Some(read_template_file(&p)?);
            }
            let mut store = Store::open(&workspace)?;
            let name = t.name.clone();
            let (id, version) = match crate::app::templates::save(&mut store, t, &note) {
                Ok(saved) => saved,
                // A template that cannot render is not saved.
                Err(EmailError::Template { findings, .. }) => {
                    let lines: Vec<String> = findings
                        .iter()
                        .map(|f| f.display_in(&name, &layout))
                        .collect();
                    return Err(CliError::new(
                        2,
                        format!("{file_name}: not saved:\n{}", lines.join("\n")),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            println!("saved template {name:?} (id {id}), version {version}");
            Ok(())
        }
        TemplateCommand::List { workspace } => {
            let store = Store::open(&workspace)?;
            let map = store.content_map()?;
            let segments = store.segments()?;
            println!("id\tname\tversions\tsubject\tmapped to");
            for t in store.templates()? {
                let versions = store.template_versions(t.id)?.len();
                let mapped: Vec<String> = map
                    .iter()
                    .filter(|m| m.template_id == t.id)
                    .filter_map(|m| {
                        segments
                            .iter()
                            .find(|s| s.id == m.segment_id)
                            .map(|s| format!("{} ({})", s.name, m.variant))
                    })
                    .collect();
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    versions.max(1),
                    t.subject,
                    mapped.join(", ")
                );
            }
            Ok(())
        }
        TemplateCommand::Show {
            workspace,
            template,
            version,
        } => {
            let store = Store::open(&workspace)?;
            let t = find_template(&store, &template, version)?;
            print!("{}", to_template_file(&t));
            Ok(())
        }
        TemplateCommand::Export {
            workspace,
            template,
            out,
        } => {
            let store = Store::open(&workspace)?;
            let t = find_template(&store, &template, None)?;
            write_atomically(&out, to_template_file(&t).as_bytes())
                .map_err(|e| CliError::new(1, format!("{}: {e}", out.display())))?;
            if let Some(text) = &t.text_body {
                let p = out.with_extension("txt");
                write_atomically(&p, text.as_bytes())
                    .map_err(|e| CliError::new(1, format!("{}: {e}", p.display())))?;
            }
            println!("wrote {}", out.display());
            Ok(())
        }
        TemplateCommand::Delete {
            workspace,
            template,
            force,
        } => {
            let mut store = Store::open(&workspace)?;
            let t = find_template(&store, &template, None)?;
            let used: Vec<MapEntry> = store
                .content_map()?
                .into_iter()
                .filter(|m| m.template_id == t.id)
                .collect();
            if !used.is_empty() && !force {
                let segments = store.segments()?;
                let names: Vec<String> = used
                    .iter()
                    .filter_map(|m| {
                        segments
                            .iter()
                            .find(|s| s.id == m.segment_id)
                            .map(|s| s.name.clone())
                    })
                    .collect();
                return Err(CliError::new(
                    2,
                    format!(
                        "{:?} is mapped to {}; map those segments to another template first, or pass --force",
                        t.name,
                        names.join(", ")
                    ),
                ));
            }
            store.transaction(|s| s.delete_template(t.id))?;
            println!("deleted template {:?}", t.name);
            Ok(())
        }
    }
}

fn find_template(store: &Store, which: &str, version: Option<i64>) -> Result<Template, CliError> {
    let all = store.templates()?;
    let t = all
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(which.trim()))
        .or_else(|| {
            which
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|id| all.iter().find(|t| t.id == id))
        })
        .cloned()
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
            CliError::new(
                2,
                format!(
                    "no template named {which:?} (templates: {})",
                    names.join(", ")
                ),
            )
        })?;
    match version {
        None => Ok(t),
        Some(v) => store
            .template_versions(t.id)?
            .into_iter()
            .find(|x| x.version == v)
            .map(|x| x.template)
            .ok_or_else(|| CliError::new(2, format!("{:?} has no version {v}", t.name))),
    }
}

pub fn map(args: MapArgs) -> Result<(), CliError> {
    let mut store = Store::open(&args.workspace)?;
    let segments = store.segments()?;
    let templates = store.templates()?;
    if let Some(seg) = &args.segment {
        let s = segments
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(seg.trim()))
            .ok_or_else(|| CliError::new(2, format!("no segment named {seg:?}")))?;
        let mut entries: Vec<MapEntry> = store
            .content_map()?
            .into_iter()
            .filter(|m| m.segment_id == s.id)
            .collect();
        let variant = args.variant.clone().unwrap_or_else(|| "A".into());
        if args.clear {
            if args.variant.is_some() {
                entries.retain(|e| e.variant != variant);
            } else {
                entries.clear();
            }
        } else {
            let Some(tname) = &args.template else {
                return Err(CliError::new(2, "give --template NAME (or --clear)"));
            };
            let t = templates
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(tname.trim()))
                .ok_or_else(|| CliError::new(2, format!("no template named {tname:?}")))?;
            entries.retain(|e| e.variant != variant);
            entries.push(MapEntry {
                segment_id: s.id,
                variant: variant.clone(),
                template_id: t.id,
                weight: args.weight,
            });
        }
        crate::email::mapping::validate(&entries, &templates)?;
        store.transaction(|st| st.set_segment_content(s.id, &entries))?;
    }
    // Print the map with each segment's exclusive recipients.
    let mail = load_mail(&store, args.as_of)?;
    let routes = mail.routes();
    let assigned = mail.assignments(&routes);
    println!("priority\tsegment\tvariant\ttemplate\tweight\trecipients");
    for (k, r) in routes.iter().enumerate() {
        for (v, (name, tid, w)) in r.variants.iter().enumerate() {
            let n = assigned
                .iter()
                .filter(|a| a.route == k && a.variant == v)
                .count();
            let t = mail.template_by_id(*tid).map_or("?", |t| t.name.as_str());
            println!("{}\t{}\t{name}\t{t}\t{w}\t{n}", k + 1, r.segment);
        }
    }
    let unmapped: Vec<&str> = mail
        .segments
        .iter()
        .filter(|s| !routes.iter().any(|r| r.segment_id == s.id))
        .map(|s| s.name.as_str())
        .collect();
    if !unmapped.is_empty() {
        println!("not mapped: {}", unmapped.join(", "));
    }
    Ok(())
}

pub fn context(workspace: &Path, customer: &str, as_of: Option<String>) -> Result<(), CliError> {
    let store = Store::open(workspace)?;
    let mail = load_mail(&store, as_of)?;
    let row = mail.builder.find(customer).ok_or_else(|| {
        CliError::new(
            2,
            format!("no customer {customer:?} (give a workspace id, customer id or email)"),
        )
    })?;
    let ctx = mail.builder.build(row);
    println!("{}", serde_json::to_string_pretty(&ctx).unwrap_or_default());
    Ok(())
}

fn campaign_of(
    store: &Store,
    which: Option<&str>,
) -> Result<Option<crate::model::Campaign>, CliError> {
    let Some(w) = which else { return Ok(None) };
    store
        .campaigns()?
        .into_iter()
        .find(|c| c.id == w || c.name.eq_ignore_ascii_case(w))
        .map(Some)
        .ok_or_else(|| CliError::new(2, format!("no campaign {w:?}")))
}

pub fn render(args: RenderArgs) -> Result<(), CliError> {
    let format = Format::parse(&args.format).ok_or_else(|| {
        CliError::new(
            2,
            format!("--format {:?}: use html, eml, text or csv", args.format),
        )
    })?;
    if args.template.is_none() && !args.mapped {
        return Err(CliError::new(2, "give --template NAME or --mapped"));
    }
    let audience = Audience::from_reason(args.include_unreachable.as_deref())?;
    let store = Store::open(&args.workspace)?;
    let campaign = campaign_of(&store, args.campaign.as_deref())?;
    let mut mail = load_mail(&store, args.as_of)?;
    mail.builder.set_campaign(campaign.as_ref());
    let limit = args.limit.unwrap_or(usize::MAX);
    let mut renderers: Vec<Renderer> = Vec::new();
    let mut units: Vec<Unit> = Vec::new();
    let customer_row = match &args.customer {
        None => None,
        Some(c) => Some(
            mail.builder
                .find(c)
                .ok_or_else(|| CliError::new(2, format!("no customer {c:?}")))?,
        ),
    };
    let as_of = mail.builder.as_of;
    if let (Some(row), false) = (customer_row, audience.includes_unreachable())
        && let Some(why) = mail.engine.why_unreachable(row, as_of)
    {
        return Err(CliError::new(
            2,
            format!(
                "customer {:?} cannot be emailed ({why}); give --include-unreachable REASON to render anyway",
                args.customer.as_deref().unwrap_or_default()
            ),
        ));
    }
    if let Some(name) = &args.template {
        let t = mail.template(name)?.clone();
        renderers.push(mail.renderer(&t)?);
        let (folder, rows): (String, Vec<usize>) = match (&args.segment, customer_row) {
            (Some(s), _) => {
                let seg = mail.segment(s)?;
                let rows = mail
                    .members_of(seg.id)
                    .map(|set| set.iter().take(limit).collect());
                (seg.name.clone(), rows.unwrap_or_default())
            }
            (None, Some(r)) => ("customer".into(), vec![r]),
            (None, None) => return Err(CliError::new(2, "give --segment NAME or --customer ID")),
        };
        units.extend(rows.into_iter().map(|row| Unit {
            renderer: 0,
            row,
            segment: folder.clone(),
            variant: String::new(),
        }));
    } else {
        let routes = mail.routes();
        if routes.is_empty() {
            return Err(CliError::new(
                2,
                "no segment is mapped to a template; see `prism map`",
            ));
        }
        let mut index: Vec<Vec<usize>> = Vec::new();
        for r in &routes {
            let mut per = Vec::new();
            for (_, tid, _) in &r.variants {
                let t = mail
                    .template_by_id(*tid)
                    .ok_or_else(|| {
                        CliError::new(
                            2,
                            format!("{}: mapped template {tid} is missing", r.segment),
                        )
                    })?
                    .clone();
                per.push(renderers.len());
                renderers.push(mail.renderer(&t)?);
            }
            index.push(per);
        }
        let want = args
            .segment
            .as_ref()
            .map(|s| mail.segment(s).map(|x| x.id))
            .transpose()?;
        let mut per_route = vec![0usize; routes.len()];
        for a in mail.assignments(&routes) {
            let route = &routes[a.route];
            if want.is_some_and(|w| w != route.segment_id)
                || customer_row.is_some_and(|c| c != a.row)
            {
                continue;
            }
            if per_route[a.route] >= limit {
                continue;
            }
            per_route[a.route] += 1;
            let multi = route.variants.len() > 1;
            units.push(Unit {
                renderer: index[a.route][a.variant],
                row: a.row,
                segment: route.segment.clone(),
                variant: if multi {
                    route.variants[a.variant].0.clone()
                } else {
                    String::new()
                },
            });
        }
        if units.is_empty() && customer_row.is_some() {
            return Err(CliError::new(2, "that customer is in no mapped segment"));
        }
    }
    // Who cannot be emailed is left out, unless overridden.
    let reach = mail.engine.reachable(as_of);
    let unreachable = units.iter().filter(|u| !reach.get(u.row)).count();
    if !audience.includes_unreachable() {
        units.retain(|u| reach.get(u.row));
    }
    let progress = TermProgress::new();
    let stats = export::export(
        &mail.builder,
        &renderers,
        &units,
        &args.out,
        format,
        args.force,
        &progress,
    )?;
    export::record_export(&args.workspace, format, stats.files, &args.out)?;
    privacy::record_override(&args.workspace, &audience, "email export", unreachable)?;
    println!("emails = {}", stats.files);
    if audience.includes_unreachable() {
        println!("unreachable_included = {unreachable}");
    } else {
        println!("unreachable_left_out = {unreachable}");
    }
    println!("bytes = {}", stats.bytes);
    println!("out = {}", args.out.display());
    Ok(())
}

pub fn lint_command(args: LintArgs) -> Result<(), CliError> {
    let store = Store::open(&args.workspace)?;
    let mail = load_mail(&store, args.as_of)?;
    let progress = TermProgress::new();
    let mut reports: Vec<(String, LintReport)> = Vec::new();
    let customer_row = match &args.customer {
        None => None,
        Some(c) => Some(
            mail.builder
                .find(c)
                .ok_or_else(|| CliError::new(2, format!("no customer {c:?}")))?,
        ),
    };
    let rows_of = |segment: Option<&str>| -> Result<Vec<usize>, CliError> {
        if let Some(r) = customer_row {
            return Ok(vec![r]);
        }
        match segment {
            Some(s) => {
                let seg = mail.segment(s)?;
                Ok(mail
                    .members_of(seg.id)
                    .map(|b| b.iter().collect())
                    .unwrap_or_default())
            }
            None => Ok(Vec::new()),
        }
    };
    let run = |t: &Template, rows: &[usize]| -> LintReport {
        match mail.renderer(t) {
            Ok(r) => lint::lint(&r, &mail.builder, rows, &mail.shape, &progress),
            Err(EmailError::Template { findings, .. }) => lint::failed(&t.name, findings),
            Err(e) => lint::failed(
                &t.name,
                vec![crate::email::Finding::error("body", 1, 1, e.to_string())],
            ),
        }
    };
    match &args.template {
        Some(name) => {
            let t = mail.template(name)?.clone();
            let rows = rows_of(args.segment.as_deref())?;
            let label = args.segment.clone().unwrap_or_default();
            reports.push((label, run(&t, &rows)));
        }
        None => {
            // The whole map: each mapped template over everyone who gets
            // it; with --segment, over that segment's recipients only.
            let routes = mail.routes();
            let assigned = mail.assignments(&routes);
            let mut order: Vec<(i64, Vec<usize>, Vec<String>)> = Vec::new();
            for (k, r) in routes.iter().enumerate() {
                if args
                    .segment
                    .as_ref()
                    .is_some_and(|s| !s.eq_ignore_ascii_case(&r.segment))
                {
                    continue;
                }
                for (v, (_, tid, _)) in r.variants.iter().enumerate() {
                    let rows = assigned
                        .iter()
                        .filter(|a| {
                            a.route == k
                                && a.variant == v
                                && customer_row.is_none_or(|c| c == a.row)
                        })
                        .map(|a| a.row);
                    match order.iter_mut().find(|(t, _, _)| t == tid) {
                        Some((_, all, segs)) => {
                            all.extend(rows);
                            segs.push(r.segment.clone());
                        }
                        None => order.push((*tid, rows.collect(), vec![r.segment.clone()])),
                    }
                }
            }
            for (tid, rows, segs) in &order {
                if let Some(t) = mail.template_by_id(*tid) {
                    reports.push((segs.join(", "), run(t, rows)));
                }
            }
            if order.is_empty() {
                if args.segment.is_some() {
                    return Err(CliError::new(
                        2,
                        "that segment is not mapped to a template; give --template",
                    ));
                }
                for t in &mail.templates {
                    reports.push((String::new(), run(t, &[])));
                }
            }
        }
    }
    let mut errors = 0;
    for (segment, r) in &reports {
        errors += r.errors();
        for f in &r.findings {
            if f.severity != crate::email::Severity::Info || args.stats {
                println!("{}", f.display(&r.template));
            }
        }
        let warnings = r
            .findings
            .iter()
            .filter(|f| f.severity == crate::email::Severity::Warning)
            .count();
        let over = if segment.is_empty() {
            String::new()
        } else {
            format!(" ({segment})")
        };
        eprintln!(
            "{}: {} members{over}, {} errors, {warnings} warnings",
            r.template,
            r.members,
            r.errors()
        );
        if args.stats {
            for v in &r.vars {
                println!(
                    "var\t{}\t{}\tempty {} of {}\t{}",
                    r.template,
                    v.path,
                    v.empty,
                    v.of,
                    if v.covered { "covered" } else { "no fallback" }
                );
            }
            for b in &r.branches {
                println!(
                    "branch\t{}\t{{{{#{} {}}}}}\t{}:{}\tthen {}\telse {}",
                    r.template,
                    b.helper,
                    b.condition,
                    b.pos.line,
                    b.pos.col,
                    b.then_reached.map_or("?".into(), |n| n.to_string()),
                    b.else_reached.map_or("?".into(), |n| n.to_string())
                );
            }
        }
    }
    if errors > 0 {
        return Err(CliError::new(1, format!("{errors} errors")));
    }
    Ok(())
}

/// Writes a file through a temporary sibling, so it is whole or absent.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("prism-partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
