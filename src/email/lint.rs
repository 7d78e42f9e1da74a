//! QA lint: a template checked statically (syntax, unknown variables and
//! helpers, partials, images, links, unescaped output) and over the members
//! of a segment (empty variables and whether a fallback covers them,
//! branches no one or everyone reaches, subject length, placeholder links
//! in the rendered HTML).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use handlebars::{Context, Handlebars};
use serde_json::Value as Json;

use super::ast::{AbsPath, Cond, Item, Pos, Seg, path_text};
use super::context::ContextBuilder;
use super::helpers::{self, is_empty, truthy};
use super::render::{Renderer, part_source};
use super::shape::Shape;
use super::{Finding, Severity};
use crate::progress::Progress;

/// What inboxes show of a subject line on a phone, roughly.
pub const SUBJECT_MAX: usize = 60;
/// How many members' full HTML is rendered to check its links.
pub const LINK_SAMPLE: usize = 200;

/// One variable's emptiness over the members linted.
#[derive(Clone, Debug, PartialEq)]
pub struct VarStat {
    pub path: String,
    pub pos: Pos,
    /// Members for whom it prints empty.
    pub empty: usize,
    pub of: usize,
    /// Every use is inside an `{{#if}}` on it, or a `default`.
    pub covered: bool,
}

/// One `{{#if}}` / `{{#unless}}` / `{{#each}}` / `{{#with}}`: how many
/// members reach each branch (`None`: not measurable, e.g. a helper
/// condition inside a loop).
#[derive(Clone, Debug, PartialEq)]
pub struct BranchStat {
    pub helper: String,
    pub condition: String,
    pub pos: Pos,
    pub then_reached: Option<usize>,
    pub else_reached: Option<usize>,
    pub has_inverse: bool,
    pub of: usize,
    /// The first member (engine row, in the order linted) reaching each
    /// branch: what the Preview's "jump to" shows.
    pub then_example: Option<usize>,
    pub else_example: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LintReport {
    pub template: String,
    pub members: usize,
    pub findings: Vec<Finding>,
    pub vars: Vec<VarStat>,
    pub branches: Vec<BranchStat>,
}

impl LintReport {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    /// The findings as `file:line:col: severity: message` lines.
    pub fn lines(&self) -> Vec<String> {
        self.findings
            .iter()
            .map(|f| f.display(&self.template))
            .collect()
    }
}

/// Lints a template that does not compile: its findings as a report.
pub fn failed(template: &str, findings: Vec<Finding>) -> LintReport {
    LintReport {
        template: template.to_string(),
        findings,
        ..LintReport::default()
    }
}

fn shape_at<'s>(shape: &'s Shape, path: &[Seg]) -> Option<&'s Shape> {
    let mut s = shape;
    for seg in path {
        s = match seg {
            Seg::Key(k) => s.field(k)?,
            Seg::Items => s.item()?,
        };
    }
    Some(s)
}

/// Calls `f` with every value `path` reaches in `v` (`Null` where it
/// reaches nothing).
fn visit<'v>(v: &'v Json, path: &[Seg], f: &mut dyn FnMut(&'v Json)) {
    static NULL: Json = Json::Null;
    match path.split_first() {
        None => f(v),
        Some((Seg::Key(k), rest)) => match v.get(k.as_str()) {
            Some(x) => visit(x, rest, f),
            None => f(&NULL),
        },
        Some((Seg::Items, rest)) => {
            if let Json::Array(a) = v {
                for x in a {
                    visit(x, rest, f);
                }
            }
        }
    }
}

struct Probe {
    stat: usize,
    kind: ProbeKind,
}

enum ProbeKind {
    Path(AbsPath),
    Expr(String),
}

/// Lints `r` over the members `rows` (engine rows; empty = static checks
/// only). Runs on two threads; reports progress and stops when cancelled.
pub fn lint(
    r: &Renderer,
    builder: &ContextBuilder,
    rows: &[usize],
    shape: &Shape,
    progress: &dyn Progress,
) -> LintReport {
    let name = r.template.name.clone();
    let mut findings = Vec::new();
    // Static: unknown variables.
    let mut vars: BTreeMap<AbsPath, VarStat> = BTreeMap::new();
    let mut branches: Vec<BranchStat> = Vec::new();
    let mut probes: Vec<Probe> = Vec::new();
    let mut partials_used: Vec<String> = Vec::new();
    for (_, items) in &r.items {
        for it in items {
            match it {
                Item::Var {
                    path,
                    raw,
                    pos,
                    guarded,
                    ..
                } => {
                    if shape_at(shape, path).is_none() {
                        findings.push(Finding::at(
                            pos,
                            Severity::Error,
                            format!(
                                "unknown variable {raw:?}{}{}",
                                resolved(raw, path),
                                suggest(shape, path)
                            ),
                        ));
                        continue;
                    }
                    let e = vars.entry(path.clone()).or_insert_with(|| VarStat {
                        path: path_text(path),
                        pos: pos.clone(),
                        empty: 0,
                        of: 0,
                        covered: true,
                    });
                    // Point at the first use no fallback covers.
                    if e.covered && !*guarded {
                        e.pos = pos.clone();
                    }
                    e.covered &= *guarded;
                }
                Item::Block {
                    helper,
                    cond,
                    pos,
                    has_inverse,
                } => {
                    let (condition, kind) = match cond {
                        Cond::Path(p) => {
                            if shape_at(shape, p).is_none() {
                                findings.push(Finding::at(
                                    pos,
                                    Severity::Error,
                                    format!(
                                        "unknown variable {:?} in {{{{#{helper}}}}}{}",
                                        path_text(p),
                                        suggest(shape, p)
                                    ),
                                ));
                                continue;
                            }
                            (path_text(p), Some(ProbeKind::Path(p.clone())))
                        }
                        Cond::Expr { source, root } => (
                            source.clone(),
                            root.then(|| ProbeKind::Expr(source.clone())),
                        ),
                        Cond::Literal(v) => (v.to_string(), None),
                        Cond::Other => ("…".into(), None),
                    };
                    if let Some(kind) = kind {
                        probes.push(Probe {
                            stat: branches.len(),
                            kind,
                        });
                    }
                    branches.push(BranchStat {
                        helper: helper.clone(),
                        condition,
                        pos: pos.clone(),
                        then_reached: None,
                        else_reached: None,
                        has_inverse: *has_inverse,
                        of: 0,
                        then_example: None,
                        else_example: None,
                    });
                }
                Item::Partial { name, .. } if !partials_used.contains(name) => {
                    partials_used.push(name.clone());
                }
                _ => {}
            }
        }
    }
    // Static: images and links in the sources.
    if let Some(src) = part_source(&r.template, "body") {
        findings.extend(html_checks(src, "body", false));
    }
    for p in &partials_used {
        if let Some(src) = r.partial_sources.get(p) {
            findings.extend(html_checks(src, &format!("partials/{p}"), false));
        }
    }

    // Dynamic: over the members.
    let mut probe_reg = Handlebars::new();
    helpers::register(&mut probe_reg);
    probe_reg.register_escape_fn(handlebars::no_escape);
    for (k, p) in probes.iter().enumerate() {
        if let ProbeKind::Expr(src) = &p.kind {
            let _ = probe_reg.register_template_string(
                &format!("p{k}"),
                format!("{{{{#if {src}}}}}1{{{{/if}}}}"),
            );
        }
    }
    let var_list: Vec<(AbsPath, bool)> = vars
        .keys()
        .map(|p| (p.clone(), p.contains(&Seg::Items)))
        .collect();
    let n = rows.len();
    let done = AtomicUsize::new(0);
    let threads = if n >= 2_000 { 2 } else { 1 };
    let chunk = n.div_ceil(threads).max(1);
    let results: Vec<Partial> = std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .enumerate()
            .map(|(t, part)| {
                let (var_list, probes, probe_reg, done) = (&var_list, &probes, &probe_reg, &done);
                s.spawn(move || {
                    let mut acc = Partial::new(var_list.len(), probes.len());
                    for (k, &row) in part.iter().enumerate() {
                        if k % 512 == 0 {
                            if progress.is_cancelled() {
                                acc.cancelled = true;
                                break;
                            }
                            let d = done.fetch_add(512.min(part.len() - k), Ordering::Relaxed);
                            if t == 0 {
                                progress.report(
                                    d as f32 / n as f32,
                                    &format!("linting {d} of {n} members"),
                                );
                            }
                        }
                        acc.member(
                            r,
                            builder,
                            row,
                            var_list,
                            probes,
                            probe_reg,
                            k < LINK_SAMPLE / threads,
                        );
                    }
                    acc
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Partial::new(0, 0)))
            .collect()
    });
    let mut total = Partial::new(var_list.len(), probes.len());
    for p in results {
        total.add(p);
    }
    let members = total.members;
    for (k, (path, _)) in var_list.iter().enumerate() {
        if let Some(v) = vars.get_mut(path) {
            v.empty = total.empty.get(k).copied().unwrap_or(0);
            v.of = members;
        }
    }
    for (k, p) in probes.iter().enumerate() {
        let b = &mut branches[p.stat];
        b.then_reached = Some(total.then_hits.get(k).copied().unwrap_or(0));
        b.else_reached = Some(total.else_hits.get(k).copied().unwrap_or(0));
        b.then_example = total.then_first.get(k).copied().flatten();
        b.else_example = total.else_first.get(k).copied().flatten();
        b.of = members;
    }
    if members > 0 {
        for v in vars.values() {
            if v.empty > 0 && !v.covered {
                findings.push(Finding::at(
                    &v.pos,
                    Severity::Warning,
                    format!(
                        "{} is empty for {} of {} members ({}) and no fallback covers it; use {{{{default {} \"…\"}}}} or {{{{#if}}}}",
                        v.path,
                        v.empty,
                        members,
                        percent(v.empty, members),
                        v.path.replace("[]", "")
                    ),
                ));
            }
        }
        // Which branches members reach says something only of a group:
        // one member reaches one side of every branch.
        for b in branches.iter().filter(|_| members > 1) {
            let (Some(then), Some(other)) = (b.then_reached, b.else_reached) else {
                continue;
            };
            let (yes, no) = if b.helper == "unless" {
                (other, then)
            } else {
                (then, other)
            };
            let label = format!("{{{{#{} {}}}}}", b.helper, b.condition);
            if yes == 0 {
                findings.push(Finding::at(
                    &b.pos,
                    Severity::Warning,
                    format!("{label}: no member reaches this branch"),
                ));
            } else if no == 0 && b.has_inverse {
                findings.push(Finding::at(
                    &b.pos,
                    Severity::Info,
                    format!(
                        "{label}: every member reaches this branch; its {{{{else}}}} is never shown"
                    ),
                ));
            } else if no == 0 {
                findings.push(Finding::at(
                    &b.pos,
                    Severity::Info,
                    format!("{label}: every member reaches this branch"),
                ));
            }
        }
        if total.long_subjects > 0 {
            findings.push(Finding {
                part: "subject".into(),
                line: 1,
                col: 1,
                severity: Severity::Warning,
                message: format!(
                    "the subject is longer than {SUBJECT_MAX} characters (what inboxes show) for {} of {members} members ({}); the longest is {}",
                    total.long_subjects,
                    percent(total.long_subjects, members),
                    total.longest_subject
                ),
            });
        }
        // What the sources already show is not repeated; what remains came
        // from customer data or a helper.
        let seen_static: Vec<String> = findings.iter().map(|f| f.message.clone()).collect();
        let static_alt = seen_static.iter().any(|m| m.contains("has no alt text"));
        for (msg, count) in &total.links {
            if seen_static.contains(msg) || (static_alt && msg.contains("no alt text")) {
                continue;
            }
            findings.push(Finding {
                part: "body".into(),
                line: 1,
                col: 1,
                severity: Severity::Warning,
                message: format!(
                    "in the rendered email: {msg} ({count} of {} members checked)",
                    total.link_checked
                ),
            });
        }
        for e in total.render_errors.iter().take(5) {
            findings.push(Finding {
                part: "body".into(),
                line: 1,
                col: 1,
                severity: Severity::Error,
                message: e.clone(),
            });
        }
    }
    findings.sort_by(|a, b| {
        (a.part != "body", &a.part, a.line, a.col, a.severity).cmp(&(
            b.part != "body",
            &b.part,
            b.line,
            b.col,
            b.severity,
        ))
    });
    findings.dedup();
    progress.report(1.0, "done");
    LintReport {
        template: name,
        members,
        findings,
        vars: vars.into_values().collect(),
        branches,
    }
}

fn percent(a: usize, b: usize) -> String {
    if b == 0 {
        return "0%".into();
    }
    let p = 100.0 * a as f64 / b as f64;
    if p > 0.0 && p < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.0}%")
    }
}

/// " (recommended_products[].colour)" when the path a variable resolves to
/// says more than how it was written.
fn resolved(raw: &str, path: &AbsPath) -> String {
    let text = path_text(path);
    if text == raw {
        String::new()
    } else {
        format!(" ({text})")
    }
}

/// ", did you mean first_name?" for a near miss.
fn suggest(shape: &Shape, path: &[Seg]) -> String {
    let Some((Seg::Key(last), parent)) = path.split_last() else {
        return String::new();
    };
    let Some(Shape::Object(fields)) = shape_at(shape, parent).map(|s| match s {
        Shape::Nullable(x) => x.as_ref(),
        x => x,
    }) else {
        return String::new();
    };
    let best = fields
        .iter()
        .map(|(n, _)| (strsim::levenshtein(n, last), n))
        .min();
    match best {
        Some((d, n)) if d <= 2 => format!("; did you mean {n:?}?"),
        _ => String::new(),
    }
}

struct Partial {
    members: usize,
    empty: Vec<usize>,
    then_hits: Vec<usize>,
    else_hits: Vec<usize>,
    then_first: Vec<Option<usize>>,
    else_first: Vec<Option<usize>>,
    long_subjects: usize,
    longest_subject: usize,
    links: BTreeMap<String, usize>,
    link_checked: usize,
    render_errors: Vec<String>,
    cancelled: bool,
}

impl Partial {
    fn new(vars: usize, probes: usize) -> Partial {
        Partial {
            members: 0,
            empty: vec![0; vars],
            then_hits: vec![0; probes],
            else_hits: vec![0; probes],
            then_first: vec![None; probes],
            else_first: vec![None; probes],
            long_subjects: 0,
            longest_subject: 0,
            links: BTreeMap::new(),
            link_checked: 0,
            render_errors: Vec::new(),
            cancelled: false,
        }
    }

    fn add(&mut self, o: Partial) {
        self.members += o.members;
        for (a, b) in self.empty.iter_mut().zip(o.empty) {
            *a += b;
        }
        for (a, b) in self.then_hits.iter_mut().zip(o.then_hits) {
            *a += b;
        }
        for (a, b) in self.else_hits.iter_mut().zip(o.else_hits) {
            *a += b;
        }
        // Partials are added in the order of their rows: the first wins.
        for (a, b) in self.then_first.iter_mut().zip(o.then_first) {
            *a = a.or(b);
        }
        for (a, b) in self.else_first.iter_mut().zip(o.else_first) {
            *a = a.or(b);
        }
        self.long_subjects += o.long_subjects;
        self.longest_subject = self.longest_subject.max(o.longest_subject);
        for (k, v) in o.links {
            *self.links.entry(k).or_default() += v;
        }
        self.link_checked += o.link_checked;
        self.render_errors.extend(o.render_errors);
        self.cancelled |= o.cancelled;
    }

    fn hit(&mut self, probe: usize, row: usize, yes: bool, no: bool) {
        self.then_hits[probe] += usize::from(yes);
        self.else_hits[probe] += usize::from(no);
        if yes && self.then_first[probe].is_none() {
            self.then_first[probe] = Some(row);
        }
        if no && self.else_first[probe].is_none() {
            self.else_first[probe] = Some(row);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn member(
        &mut self,
        r: &Renderer,
        builder: &ContextBuilder,
        row: usize,
        vars: &[(AbsPath, bool)],
        probes: &[Probe],
        probe_reg: &Handlebars<'static>,
        check_links: bool,
    ) {
        let data = builder.build(row);
        self.members += 1;
        for (k, (path, in_list)) in vars.iter().enumerate() {
            let mut empty = false;
            let mut seen = false;
            visit(&data, path, &mut |v| {
                seen = true;
                empty |= is_empty(v);
            });
            if empty || (!*in_list && !seen) {
                self.empty[k] += 1;
            }
        }
        for (k, p) in probes.iter().enumerate() {
            match &p.kind {
                ProbeKind::Path(path) => {
                    let (mut yes, mut no) = (false, false);
                    if path.contains(&Seg::Items) {
                        visit(&data, path, &mut |v| {
                            if truthy(v) {
                                yes = true;
                            } else {
                                no = true;
                            }
                        });
                    } else {
                        let mut val = false;
                        visit(&data, path, &mut |v| val = truthy(v));
                        yes = val;
                        no = !val;
                    }
                    self.hit(k, row, yes, no);
                }
                ProbeKind::Expr(_) => {}
            }
        }
        let ctx = Context::from(data);
        for (k, p) in probes.iter().enumerate() {
            if let ProbeKind::Expr(_) = p.kind {
                let yes = probe_reg
                    .render_with_context(&format!("p{k}"), &ctx)
                    .is_ok_and(|s| s == "1");
                self.hit(k, row, yes, !yes);
            }
        }
        match r.subject(&ctx) {
            Ok(s) => {
                let len = s.chars().count();
                if len > SUBJECT_MAX {
                    self.long_subjects += 1;
                }
                self.longest_subject = self.longest_subject.max(len);
            }
            Err(e) => self.render_errors.push(e.to_string()),
        }
        if check_links {
            match r.render_ctx(&ctx) {
                Ok(out) => {
                    self.link_checked += 1;
                    let mut seen = Vec::new();
                    for f in html_checks(&out.html, "body", true) {
                        if !seen.contains(&f.message) {
                            *self.links.entry(f.message.clone()).or_default() += 1;
                            seen.push(f.message);
                        }
                    }
                }
                Err(e) => self.render_errors.push(e.to_string()),
            }
        }
    }
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A link target nobody should receive.
pub fn placeholder_href(href: &str) -> Option<&'static str> {
    let h = href.trim().to_ascii_lowercase();
    if h.is_empty() {
        return Some("an empty href");
    }
    if h == "#" {
        return Some("href=\"#\"");
    }
    if h.starts_with("javascript:") {
        return Some("a javascript: link");
    }
    let host = h
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    let host = host.trim_start_matches("www.");
    if [
        "example.com",
        "example.org",
        "example.net",
        "localhost",
        "127.0.0.1",
    ]
    .iter()
    .any(|p| host == *p || host.ends_with(&format!(".{p}")))
    {
        return Some("a placeholder domain");
    }
    if [
        "yourdomain",
        "your-domain",
        "yoursite",
        "todo",
        "lorem",
        "{{",
        "}}",
    ]
    .iter()
    .any(|p| h.contains(p))
    {
        return Some("a placeholder URL");
    }
    None
}

/// Images without alt text and links without a real href, in HTML source
/// (`rendered`: the output, where Handlebars expressions are gone).
pub fn html_checks(src: &str, part: &str, rendered: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let lower = src.to_ascii_lowercase();
    let mut at = 0;
    while let Some(k) = lower[at..].find('<') {
        let start = at + k;
        at = start + 1;
        let rest = &lower[start + 1..];
        let tag = if rest.starts_with("img")
            && rest[3..].starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/')
        {
            "img"
        } else if rest.starts_with('a')
            && rest[1..].starts_with(|c: char| c.is_whitespace() || c == '>')
        {
            "a"
        } else {
            continue;
        };
        let Some(end) = tag_end(&src[start..]) else {
            break;
        };
        let text = &src[start..start + end];
        let attrs = attributes(text);
        let (line, col) = line_col(src, start);
        let mut push = |sev: Severity, message: String| {
            out.push(Finding {
                part: part.to_string(),
                line,
                col,
                severity: sev,
                message,
            })
        };
        let get = |n: &str| attrs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        match tag {
            "img" => {
                if get("alt").is_none() {
                    let what = get("src").unwrap_or("");
                    push(
                        Severity::Warning,
                        if rendered {
                            "an image has no alt text".into()
                        } else {
                            format!(
                                "image {what:?} has no alt text (use alt=\"\" for a decorative image)"
                            )
                        },
                    );
                }
            }
            _ => match get("href") {
                None => {
                    if get("name").is_none() && get("id").is_none() {
                        push(Severity::Warning, "a link has no href".into())
                    }
                }
                Some(h) => {
                    let dynamic = !rendered && h.contains("{{");
                    if !dynamic && let Some(why) = placeholder_href(h) {
                        push(Severity::Warning, format!("a link goes to {why}: {h:?}"));
                    }
                }
            },
        }
        at = start + end;
    }
    out
}

/// The length of the tag at the start of `s`, up to and including `>`,
/// skipping quoted values and `{{…}}`.
fn tag_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut k = 1;
    let mut quote = 0u8;
    while k < b.len() {
        let c = b[k];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if c == b'{' && b.get(k + 1) == Some(&b'{') {
            k = k + s[k..].find("}}")? + 1;
        } else if c == b'>' {
            return Some(k + 1);
        }
        k += 1;
    }
    None
}

fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let inner = tag
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_end_matches('/');
    let b = inner.as_bytes();
    // Skip the tag name.
    let mut k = inner.find(|c: char| c.is_whitespace()).unwrap_or(b.len());
    while k < b.len() {
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if inner[k..].starts_with("{{") {
            k += inner[k..].find("}}").map_or(b.len() - k, |e| e + 2);
            continue;
        }
        let name_start = k;
        while k < b.len() && !b[k].is_ascii_whitespace() && b[k] != b'=' {
            k += 1;
        }
        let name = inner[name_start..k].to_ascii_lowercase();
        let mut value = String::new();
        if k < b.len() && b[k] == b'=' {
            k += 1;
            if k < b.len() && (b[k] == b'"' || b[k] == b'\'') {
                let q = b[k];
                let end = inner[k + 1..]
                    .find(q as char)
                    .map_or(b.len(), |e| k + 1 + e);
                value = inner[k + 1..end.min(b.len())].to_string();
                k = end + 1;
            } else {
                let end = inner[k..]
                    .find(|c: char| c.is_whitespace())
                    .map_or(b.len(), |e| k + e);
                value = inner[k..end].to_string();
                k = end;
            }
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

/// Members looked at, at most, for the edge cases.
pub const EDGE_SCAN: usize = 50_000;

/// The member rows of each fallback edge case, for the Preview picker: a
/// member whose first name falls back, one with an empty cart, one without
/// recommendations, one without orders. Looks at the first
/// [`EDGE_SCAN`] members at most, and stops when cancelled.
pub fn edge_cases(
    builder: &ContextBuilder,
    rows: &[usize],
    progress: &dyn Progress,
) -> Vec<(&'static str, Option<usize>)> {
    let mut cases: Vec<(&'static str, Option<usize>)> = vec![
        ("first name falls back", None),
        ("empty cart", None),
        ("no recommendations", None),
        ("no orders", None),
    ];
    for (k, &row) in rows.iter().take(EDGE_SCAN).enumerate() {
        if cases.iter().all(|c| c.1.is_some()) || (k % 256 == 0 && progress.is_cancelled()) {
            break;
        }
        let c = builder.build(row);
        let tests = [
            is_empty(&c["first_name"]),
            is_empty(&c["cart"]),
            is_empty(&c["recommended_products"]),
            c["orders"]["count"].as_u64() == Some(0),
        ];
        for (case, hit) in cases.iter_mut().zip(tests) {
            if hit && case.1.is_none() {
                case.1 = Some(row);
            }
        }
    }
    cases
}

/// What one member's email shows of the template's problems, from the
/// context and the email already rendered for them (cheap: no second
/// render): variables empty for this member that no fallback covers, a
/// subject longer than inboxes show, images without alt text and
/// placeholder links in the rendered HTML. What the template's sources
/// show for everyone is the static lint's.
pub fn member_findings(r: &Renderer, data: &Json, rendered: &super::Rendered) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen_paths: Vec<&AbsPath> = Vec::new();
    for (_, items) in &r.items {
        for it in items {
            let Item::Var {
                path,
                raw,
                pos,
                guarded: false,
                ..
            } = it
            else {
                continue;
            };
            if seen_paths.contains(&path) {
                continue;
            }
            seen_paths.push(path);
            let (mut empty, mut seen) = (false, false);
            visit(data, path, &mut |v| {
                seen = true;
                empty |= is_empty(v);
            });
            if empty || (!path.contains(&Seg::Items) && !seen) {
                out.push(Finding::at(
                    pos,
                    Severity::Warning,
                    format!(
                        "{raw} is empty for this member and no fallback covers it; use {{{{default {} \"…\"}}}} or {{{{#if}}}}",
                        path_text(path).replace("[]", "")
                    ),
                ));
            }
        }
    }
    let len = rendered.subject.chars().count();
    if len > SUBJECT_MAX {
        out.push(Finding {
            part: "subject".into(),
            line: 1,
            col: 1,
            severity: Severity::Warning,
            message: format!("the subject is {len} characters; inboxes show about {SUBJECT_MAX}"),
        });
    }
    let mut messages = Vec::new();
    for f in html_checks(&rendered.html, "body", true) {
        if !messages.contains(&f.message) {
            messages.push(f.message.clone());
            out.push(Finding {
                message: format!("in this member's email: {}", f.message),
                ..f
            });
        }
    }
    out
}

/// Static lint of every part without members (syntax, variables, HTML).
pub fn lint_static(r: &Renderer, builder: &ContextBuilder, shape: &Shape) -> LintReport {
    lint(r, builder, &[], shape, &crate::progress::NoProgress)
}
