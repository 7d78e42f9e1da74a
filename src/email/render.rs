//! Rendering one template for one context: subject, preheader, HTML body
//! (escaped), plain text.

use std::collections::{BTreeSet, HashMap};

use handlebars::{Context, Handlebars, Template as Hbs};
use serde_json::Value as Json;

use super::ast::{self, Item, Seg};
use super::context::Needs;
use super::helpers::{self, is_helper};
use super::starter::PARTIALS;
pub use super::text::html_to_text;
use super::{EmailError, Finding, Severity};
use crate::model::Template;

/// One customer's email.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub from_name: String,
    pub from_address: String,
    pub subject: String,
    pub preheader: String,
    pub html: String,
    /// Set by [`Renderer::render_with_text`].
    pub text: Option<String>,
}

/// The parts of a template, as lint and messages name them.
pub const PARTS: [&str; 6] = [
    "subject",
    "preheader",
    "from_name",
    "from_address",
    "body",
    "text",
];

/// A template compiled with the partials it uses, ready to render any
/// number of contexts (from any number of threads).
pub struct Renderer {
    html: Handlebars<'static>,
    plain: Handlebars<'static>,
    pub template: Template,
    /// What the template refers to, part by part.
    pub items: Vec<(String, Vec<Item>)>,
    pub needs: Needs,
    /// The partial sources, by name (for lint's HTML checks).
    pub partial_sources: HashMap<String, String>,
}

fn registry(escape: bool) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(false);
    h.set_prevent_indent(true);
    if !escape {
        h.register_escape_fn(handlebars::no_escape);
    }
    helpers::register(&mut h);
    h
}

/// The source of each template part.
pub fn part_source<'t>(t: &'t Template, part: &str) -> Option<&'t str> {
    match part {
        "subject" => Some(&t.subject),
        "preheader" => Some(&t.preheader),
        "from_name" => Some(&t.from_name),
        "from_address" => Some(&t.from_address),
        "body" => Some(&t.body),
        "text" => t.text_body.as_deref(),
        _ => None,
    }
}

impl Renderer {
    /// Compiles `t` with the built-in partials, overridden by `partials`
    /// (workspace partials by name). Every problem that would make
    /// rendering fail or be unsafe is returned, with line and column.
    pub fn new(t: &Template, partials: &HashMap<String, String>) -> Result<Renderer, Vec<Finding>> {
        let mut findings = Vec::new();
        let mut sources: HashMap<String, String> = PARTIALS
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        sources.extend(partials.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut compiled: HashMap<String, Hbs> = HashMap::new();
        for (name, src) in &sources {
            match ast::compile(src) {
                Ok(tpl) => {
                    compiled.insert(name.clone(), tpl);
                }
                Err((line, col, message)) => findings.push(Finding::error(
                    &format!("partials/{name}"),
                    line,
                    col,
                    message,
                )),
            }
        }
        let mut parts: Vec<(String, Hbs)> = Vec::new();
        for part in PARTS {
            let Some(src) = part_source(t, part) else {
                continue;
            };
            match ast::compile(src) {
                Ok(tpl) => parts.push((part.to_string(), tpl)),
                Err((line, col, message)) => {
                    findings.push(Finding::error(part, line, col, message))
                }
            }
        }
        let lookup = |n: &str| compiled.get(n);
        let mut items = Vec::new();
        let mut keys = BTreeSet::new();
        let mut dynamic = false;
        for (part, tpl) in &parts {
            let found = ast::walk(tpl, part, &lookup);
            for it in &found {
                match it {
                    Item::Helper { name, pos, triple } => {
                        if !is_helper(name) {
                            findings.push(Finding::at(
                                pos,
                                Severity::Error,
                                format!("unknown helper {name:?}"),
                            ));
                        }
                        if *triple {
                            findings.push(Finding::at(
                                pos,
                                Severity::Error,
                                "`{{{…}}}` writes its value unescaped; use `{{…}}`".into(),
                            ));
                        }
                        if name == "lookup" {
                            dynamic = true;
                        }
                        if name == "in_segment" {
                            keys.insert("segments".to_string());
                        }
                    }
                    Item::Partial { name, pos } => {
                        if !sources.contains_key(name) {
                            let known: Vec<&str> = {
                                let mut k: Vec<&str> = sources.keys().map(String::as_str).collect();
                                k.sort();
                                k
                            };
                            findings.push(Finding::at(
                                pos,
                                Severity::Error,
                                format!(
                                    "no partial named {name:?} (partials: {})",
                                    known.join(", ")
                                ),
                            ));
                        }
                    }
                    Item::Problem { pos, message } => {
                        findings.push(Finding::at(pos, Severity::Error, message.clone()))
                    }
                    Item::Var {
                        path,
                        pos,
                        triple,
                        raw,
                        ..
                    } => {
                        if *triple {
                            findings.push(Finding::at(
                                pos,
                                Severity::Error,
                                format!("`{{{{{{{raw}}}}}}}` writes customer data unescaped into the HTML; use `{{{{{raw}}}}}`"),
                            ));
                        }
                        match path.first() {
                            Some(Seg::Key(k)) => {
                                keys.insert(k.clone());
                            }
                            _ => dynamic = true,
                        }
                    }
                    Item::Block {
                        cond: ast::Cond::Path(p),
                        ..
                    } => match p.first() {
                        Some(Seg::Key(k)) => {
                            keys.insert(k.clone());
                        }
                        _ => dynamic = true,
                    },
                    Item::Block { .. } => {}
                }
            }
            items.push((part.clone(), found));
        }
        if findings.iter().any(|f| f.severity == Severity::Error) {
            findings.dedup();
            return Err(findings);
        }
        let mut html = registry(true);
        let mut plain = registry(false);
        for (name, tpl) in &compiled {
            html.register_template(name, tpl.clone());
            plain.register_template(name, tpl.clone());
        }
        for (part, tpl) in parts {
            if part == "body" {
                html.register_template(&part, tpl);
            } else {
                plain.register_template(&part, tpl);
            }
        }
        Ok(Renderer {
            html,
            plain,
            template: t.clone(),
            items,
            needs: Needs::from_keys(keys.iter().map(String::as_str), dynamic),
            partial_sources: sources,
        })
    }

    fn part(&self, part: &str, ctx: &Context) -> Result<String, EmailError> {
        let reg = if part == "body" {
            &self.html
        } else {
            &self.plain
        };
        if !reg.has_template(part) {
            return Ok(String::new());
        }
        reg.render_with_context(part, ctx)
            .map_err(|e| EmailError::Render {
                template: self.template.name.clone(),
                part: part.to_string(),
                message: e.to_string(),
            })
    }

    /// Renders the subject line only.
    pub fn subject(&self, ctx: &Context) -> Result<String, EmailError> {
        Ok(one_line(&self.part("subject", ctx)?))
    }

    /// Renders one customer's email (without the plain-text part).
    pub fn render(&self, data: Json) -> Result<Rendered, EmailError> {
        let ctx = Context::from(data);
        self.render_ctx(&ctx)
    }

    pub fn render_ctx(&self, ctx: &Context) -> Result<Rendered, EmailError> {
        let subject = one_line(&self.part("subject", ctx)?);
        let preheader = one_line(&self.part("preheader", ctx)?);
        let body = self.part("body", ctx)?;
        Ok(Rendered {
            from_name: one_line(&self.part("from_name", ctx)?),
            from_address: one_line(&self.part("from_address", ctx)?),
            html: with_preheader(&body, &preheader),
            subject,
            preheader,
            text: None,
        })
    }

    /// Renders the email with its plain-text part: the template's text
    /// body, or text derived from the HTML.
    pub fn render_with_text(&self, data: Json) -> Result<Rendered, EmailError> {
        let ctx = Context::from(data);
        let mut r = self.render_ctx(&ctx)?;
        r.text = Some(if self.template.text_body.is_some() {
            self.part("text", &ctx)?
        } else {
            html_to_text(&r.html)
        });
        Ok(r)
    }
}

/// Collapses whitespace (and removes line breaks, which would end a mail
/// header) into single spaces.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Inserts the preheader as the hidden first text of the body (what
/// inboxes show after the subject), escaped.
pub fn with_preheader(html: &str, preheader: &str) -> String {
    if preheader.is_empty() {
        return html.to_string();
    }
    let hidden = format!(
        "<div style=\"display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all;\">{}{}</div>",
        handlebars::html_escape(preheader),
        // Padding so that inboxes do not pull body text into the preview.
        "&#847;&zwnj;&nbsp;".repeat(30)
    );
    let lower = html
        .get(..html.len().min(4096))
        .unwrap_or(html)
        .to_ascii_lowercase();
    match lower.find("<body") {
        Some(at) => match html[at..].find('>') {
            Some(end) => {
                let cut = at + end + 1;
                format!("{}\n{hidden}{}", &html[..cut], &html[cut..])
            }
            None => format!("{hidden}{html}"),
        },
        None => format!("{hidden}{html}"),
    }
}
