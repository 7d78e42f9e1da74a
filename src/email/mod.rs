//! Email: templates, the per-customer context, rendering, the content map
//! (segment → template variants), QA lint and export. Headless: the CLI and
//! the Preview screen both call it.
//!
//! - [`starter`] — the starter templates and shared partials in
//!   `assets/templates/`.
//! - [`context`] — one JSON object per customer, as of one time
//!   ([`shape`] documents it).
//! - [`ast`] — what a template refers to, resolved to context paths.
//! - [`helpers`], [`render`] — Handlebars with escaping on; [`text`] —
//!   the plain-text part derived from the HTML.
//! - [`mapping`] — which customer gets which template and variant.
//! - [`lint`] — checks of a template over one customer or whole segments.
//! - [`export`] — rendered emails to a folder, atomically.

pub mod ast;
pub mod context;
pub mod export;
pub mod helpers;
pub mod lint;
pub mod mapping;
pub mod render;
pub mod shape;
pub mod starter;
pub mod text;
pub mod workspace;

use std::fmt;

pub use context::{ContextBuilder, Needs};
pub use render::{Rendered, Renderer};
pub use workspace::Mail;

use crate::engine::{EvalError, RuleError};
use crate::store::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One finding about a template, at a line and column of one of its parts
/// (`body`, `subject`, …, or `partials/NAME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub part: String,
    pub line: usize,
    pub col: usize,
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    pub fn error(part: &str, line: usize, col: usize, message: String) -> Finding {
        Finding {
            part: part.to_string(),
            line,
            col,
            severity: Severity::Error,
            message,
        }
    }

    pub fn at(pos: &ast::Pos, severity: Severity, message: String) -> Finding {
        Finding {
            part: pos.part.clone(),
            line: pos.line.max(1),
            col: pos.col.max(1),
            severity,
            message,
        }
    }

    /// `Newsletter.html:12:5: error: …` — the form editors and CI read,
    /// at lines of the template's file form (what `prism template export`
    /// writes: front matter, then the body).
    pub fn display(&self, template: &str) -> String {
        self.display_in(template, &Layout::standard())
    }

    /// As [`Finding::display`], at lines of a file laid out as `layout`
    /// (the file a template was just read from).
    pub fn display_in(&self, template: &str, layout: &Layout) -> String {
        let (file, line, col) = layout.place(template, &self.part, self.line, self.col);
        format!("{file}:{line}:{col}: {}: {}", self.severity, self.message)
    }
}

/// Where each part of a template sits in its file: the front matter keys
/// (one line each) and the first line of the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// (part, line of its `key: value`, column where the value starts).
    pub header: Vec<(String, usize, usize)>,
    /// Lines before the body.
    pub body_offset: usize,
}

impl Layout {
    /// The layout `starter::to_template_file` writes.
    pub fn standard() -> Layout {
        let keys = ["name", "subject", "preheader", "from_name", "from_address"];
        Layout {
            header: keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.to_string(), i + 2, k.len() + 3))
                .collect(),
            body_offset: keys.len() + 2,
        }
    }

    /// File, line and column of a part's line and column.
    pub fn place(
        &self,
        template: &str,
        part: &str,
        line: usize,
        col: usize,
    ) -> (String, usize, usize) {
        if let Some(p) = part.strip_prefix("partials/") {
            return (format!("partials/{p}.hbs"), line, col);
        }
        let html = format!("{template}.html");
        if part == "body" {
            return (html, line + self.body_offset, col);
        }
        if let Some((_, l, c)) = self.header.iter().find(|(k, _, _)| k == part) {
            return (html, *l, col + c - 1);
        }
        (file_name(template, part), line, col)
    }
}

/// The file a template part is reported as when it is not in the file
/// form: a partial is `partials/NAME.hbs`, the plain-text body `NAME.txt`.
pub fn file_name(template: &str, part: &str) -> String {
    if let Some(p) = part.strip_prefix("partials/") {
        return format!("partials/{p}.hbs");
    }
    match part {
        "body" => format!("{template}.html"),
        "text" => format!("{template}.txt"),
        other => format!("{template}.{other}"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rule error at {0}")]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("{}", .findings.iter().map(|f| f.display(.template)).collect::<Vec<_>>().join("\n"))]
    Template {
        template: String,
        findings: Vec<Finding>,
    },
    #[error("{template}: rendering the {part} failed: {message}")]
    Render {
        template: String,
        part: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("cancelled")]
    Cancelled,
}

impl EmailError {
    pub fn io(path: &std::path::Path, e: impl fmt::Display) -> EmailError {
        EmailError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}
