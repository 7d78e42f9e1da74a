//! The template editor beside the preview columns: the template's file
//! form (front matter, then the Handlebars HTML body), syntax-highlighted,
//! with QA marks at their lines. Typing re-renders every column showing
//! that template after a short pause; saving stores a new version.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use egui::text::{LayoutJob, TextFormat};

use super::{EDIT_DEBOUNCE, Mode, PreviewMsg, PreviewScreen};
use crate::app::jobs::JobKey;
use crate::app::preview::{Preview, template_key};
use crate::email::starter::{parse_template_file_layout, to_template_file};
use crate::email::{EmailError, Layout, Severity, lint};
use crate::model::Template;
use crate::store::Store;
use crate::ui::ctx::{Msg, ScreenCtx};

/// A QA finding at a line and column of the editor's text (`line` 0: not
/// in this file, e.g. in a partial).
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub line: usize,
    pub col: usize,
    pub severity: Severity,
    /// Where, as `file:line:col`.
    pub place: String,
    pub message: String,
}

#[derive(Default)]
pub struct Editor {
    pub open: bool,
    /// The template being edited.
    pub template_id: Option<i64>,
    /// The file form being edited.
    pub text: String,
    /// The file form as saved.
    pub saved_text: String,
    /// The last keystroke not yet applied.
    pub edited_at: Option<Instant>,
    /// The edited template, once parsed, and its content key: columns
    /// showing this template render it instead of the saved one.
    pub draft: Option<(Arc<Template>, u64)>,
    pub parse_error: Option<String>,
    pub marks: Vec<Mark>,
    /// The draft the marks are for.
    marks_for: Option<u64>,
    pub saving: bool,
    highlight: Option<(u64, LayoutJob)>,
}

impl Editor {
    /// Opens (or closes) the editor on a template.
    pub fn set_open(&mut self, open: bool, p: &Preview, template: Option<i64>) {
        self.open = open;
        if open {
            let id = template
                .or(self.template_id)
                .or(p.mail.templates.first().map(|t| t.id));
            if let Some(id) = id
                && self.template_id != Some(id)
            {
                self.load(p, id);
            }
        }
    }

    /// Starts editing template `id` (dropping unsaved edits of another).
    pub fn load(&mut self, p: &Preview, id: i64) {
        let Some(t) = p.mail.template_by_id(id) else {
            return;
        };
        self.template_id = Some(id);
        self.text = to_template_file(t);
        self.saved_text = self.text.clone();
        self.edited_at = None;
        self.draft = None;
        self.parse_error = None;
        self.marks.clear();
        self.marks_for = None;
    }

    pub fn dirty(&self) -> bool {
        self.text != self.saved_text
    }

    /// After the workspace's templates were loaded again (a save): the
    /// saved text is the stored one; a buffer equal to it is no draft.
    pub fn reloaded(&mut self, p: &Preview) {
        if let Some(t) = self.template_id.and_then(|id| p.mail.template_by_id(id)) {
            self.saved_text = to_template_file(t);
            if !self.dirty() {
                self.draft = None;
            }
        }
    }

    /// Applies the edit once typing pauses: parse the file form, hand the
    /// draft to the columns, check it in the background.
    pub fn tick(&mut self, egui_ctx: &egui::Context, p: &Arc<Preview>, ctx: &mut ScreenCtx<'_>) {
        let Some(at) = self.edited_at else {
            return;
        };
        let wait = EDIT_DEBOUNCE.saturating_sub(at.elapsed());
        if !wait.is_zero() {
            egui_ctx.request_repaint_after(wait);
            return;
        }
        self.edited_at = None;
        let Some(id) = self.template_id else {
            return;
        };
        let Some(saved) = p.mail.template_by_id(id) else {
            return;
        };
        let file = format!("{}.html", saved.name);
        match parse_template_file_layout(&file, &self.text) {
            Err(e) => {
                self.parse_error = Some(e);
            }
            Ok((mut t, layout)) => {
                self.parse_error = None;
                t.id = saved.id;
                t.text_body = saved.text_body.clone();
                let key = template_key(&t);
                let t = Arc::new(t);
                self.draft = Some((t.clone(), key));
                let p = p.clone();
                ctx.jobs
                    .spawn(JobKey::PreviewCheck, "Checking the template", move |_| {
                        Msg::Preview(PreviewMsg::Checked {
                            key,
                            findings: check(&p, &t, &layout),
                        })
                    });
            }
        }
    }

    pub fn checked(&mut self, key: u64, marks: Vec<Mark>) {
        if self.draft.as_ref().map(|d| d.1) == Some(key) {
            self.marks = marks;
            self.marks_for = Some(key);
        }
    }
}

/// The static QA of a draft (syntax, helpers, partials, variables, images,
/// links) at the lines of its file form.
fn check(p: &Preview, t: &Template, layout: &Layout) -> Vec<Mark> {
    let findings = match p.renderer(t) {
        Ok(r) => lint::lint_static(&r, &p.mail.builder, &p.mail.shape).findings,
        Err(EmailError::Template { findings, .. }) => findings,
        Err(e) => vec![crate::email::Finding::error("body", 1, 1, e.to_string())],
    };
    findings
        .into_iter()
        .map(|f| {
            let (file, line, col) = layout.place(&t.name, &f.part, f.line, f.col);
            let in_file = file == format!("{}.html", t.name);
            Mark {
                line: if in_file { line } else { 0 },
                col,
                severity: f.severity,
                place: format!("{file}:{line}:{col}"),
                message: f.message,
            }
        })
        .collect()
}

pub fn editor_ui(
    ui: &mut egui::Ui,
    s: &mut PreviewScreen,
    p: &Arc<Preview>,
    ctx: &mut ScreenCtx<'_>,
) {
    ui.horizontal(|ui| {
        let label = ui.strong("Template");
        let current = s
            .editor
            .template_id
            .and_then(|id| p.mail.template_by_id(id))
            .map_or_else(|| "choose…".to_string(), |t| t.name.clone());
        let mut pick = None;
        egui::ComboBox::from_id_salt("editor_template")
            .selected_text(current)
            .show_ui(ui, |ui| {
                for t in &p.mail.templates {
                    if ui
                        .selectable_label(s.editor.template_id == Some(t.id), &t.name)
                        .clicked()
                    {
                        pick = Some(t.id);
                    }
                }
            })
            .response
            .labelled_by(label.id);
        if let Some(id) = pick {
            s.editor.load(p, id);
            // One template for every column shows what is being edited.
            if let Some(Mode::Template(_)) = s.mode {
                s.mode = Some(Mode::Template(id));
            }
        }
        if s.editor.dirty() {
            ui.weak("edited");
        }
    });
    ui.horizontal(|ui| {
        let can_save = s.editor.dirty() && s.editor.parse_error.is_none() && !s.editor.saving;
        if ui
            .add_enabled(can_save, egui::Button::new("Save as new version"))
            .clicked()
        {
            save(s, ctx);
        }
        if ui
            .add_enabled(s.editor.dirty(), egui::Button::new("Revert"))
            .clicked()
            && let Some(id) = s.editor.template_id
        {
            s.editor.load(p, id);
        }
        if s.editor.edited_at.is_some()
            || (s.editor.draft.is_some()
                && s.editor.marks_for != s.editor.draft.as_ref().map(|d| d.1))
        {
            ui.spinner();
        }
    });
    if let Some(e) = &s.editor.parse_error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    marks_ui(ui, &s.editor.marks);
    ui.separator();
    let dark = ui.visuals().dark_mode;
    let Editor {
        text,
        marks,
        highlight,
        edited_at,
        ..
    } = &mut s.editor;
    let mut layouter = |ui: &egui::Ui, buf: &dyn egui::TextBuffer, wrap: f32| {
        let key = {
            let mut h = DefaultHasher::new();
            buf.as_str().hash(&mut h);
            for m in marks.iter() {
                (m.line, m.severity as u8).hash(&mut h);
            }
            dark.hash(&mut h);
            h.finish()
        };
        if highlight.as_ref().map(|h| h.0) != Some(key) {
            *highlight = Some((key, highlight_job(buf.as_str(), marks, dark)));
        }
        let mut job = highlight.as_ref().map(|h| h.1.clone()).unwrap_or_default();
        job.wrap.max_width = wrap;
        ui.fonts_mut(|f| f.layout_job(job))
    };
    let source_label = ui.weak("Template source").id;
    egui::ScrollArea::both()
        .id_salt("editor_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let response = ui
                .add(
                    egui::TextEdit::multiline(text)
                        .id_salt("template_source")
                        .code_editor()
                        .desired_width(f32::INFINITY)
                        .desired_rows(30)
                        .layouter(&mut layouter),
                )
                .labelled_by(source_label);
            if response.changed() {
                *edited_at = Some(Instant::now());
            }
        });
}

fn marks_ui(ui: &mut egui::Ui, marks: &[Mark]) {
    if marks.is_empty() {
        return;
    }
    egui::ScrollArea::vertical()
        .id_salt("editor_marks")
        .max_height(110.0)
        .show(ui, |ui| {
            for m in marks {
                let color = match m.severity {
                    Severity::Error => ui.visuals().error_fg_color,
                    Severity::Warning => ui.visuals().warn_fg_color,
                    Severity::Info => ui.visuals().weak_text_color(),
                };
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(color, m.severity.to_string());
                    ui.monospace(&m.place);
                    ui.label(&m.message);
                });
            }
        });
}

fn save(s: &mut PreviewScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(path) = ctx.workspace_path() else {
        return;
    };
    let text = s.editor.text.clone();
    let Some(name) = s
        .editor
        .draft
        .as_ref()
        .map(|d| format!("{}.html", d.0.name))
    else {
        return;
    };
    let text_body = s.editor.draft.as_ref().and_then(|d| d.0.text_body.clone());
    s.editor.saving = true;
    ctx.jobs
        .spawn(JobKey::PreviewSave, "Saving the template", move |_| {
            let result = (|| {
                let (mut t, layout) = parse_template_file_layout(&name, &text)?;
                t.text_body = text_body;
                let mut store = Store::open(&path).map_err(|e| e.to_string())?;
                let template = t.name.clone();
                match crate::app::templates::save(&mut store, t, "edited in the Preview") {
                    Ok((_, version)) => Ok(format!("Saved {template}, version {version}")),
                    Err(EmailError::Template { findings, .. }) => Err(format!(
                        "Not saved:\n{}",
                        findings
                            .iter()
                            .map(|f| f.display_in(&template, &layout))
                            .collect::<Vec<_>>()
                            .join("\n")
                    )),
                    Err(e) => Err(e.to_string()),
                }
            })();
            Msg::Preview(PreviewMsg::Saved(result))
        });
}

/// Colours for the editor: Handlebars expressions, HTML tags, quoted
/// values, comments, front matter keys; lines with findings tinted.
fn highlight_job(text: &str, marks: &[Mark], dark: bool) -> LayoutJob {
    let font = egui::FontId::monospace(13.0);
    let (plain, hbs, tag, string, comment, key) = if dark {
        (
            egui::Color32::from_gray(215),
            egui::Color32::from_rgb(240, 170, 90),
            egui::Color32::from_rgb(120, 170, 240),
            egui::Color32::from_rgb(150, 200, 130),
            egui::Color32::from_gray(120),
            egui::Color32::from_rgb(200, 140, 220),
        )
    } else {
        (
            egui::Color32::from_gray(30),
            egui::Color32::from_rgb(170, 80, 0),
            egui::Color32::from_rgb(20, 80, 170),
            egui::Color32::from_rgb(30, 120, 40),
            egui::Color32::from_gray(130),
            egui::Color32::from_rgb(130, 40, 150),
        )
    };
    let tint = |line: usize| -> egui::Color32 {
        let worst = marks
            .iter()
            .filter(|m| m.line == line)
            .map(|m| m.severity)
            .min();
        match worst {
            Some(Severity::Error) => egui::Color32::from_rgba_unmultiplied(220, 40, 40, 50),
            Some(Severity::Warning) => egui::Color32::from_rgba_unmultiplied(230, 170, 0, 45),
            _ => egui::Color32::TRANSPARENT,
        }
    };
    let mut job = LayoutJob::default();
    let mut front = text.starts_with("---");
    let mut in_comment = false;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let line_no = n + 1;
        let background = tint(line_no);
        let fmt = |color: egui::Color32| TextFormat {
            font_id: font.clone(),
            color,
            background,
            ..TextFormat::default()
        };
        if front {
            if n > 0 && line.trim_end() == "---" {
                front = false;
                job.append(line, 0.0, fmt(comment));
                continue;
            }
            match line.split_once(':') {
                Some((k, v)) if n > 0 => {
                    job.append(k, 0.0, fmt(key));
                    job.append(":", 0.0, fmt(plain));
                    append_hbs(&mut job, v, &fmt, plain, hbs);
                }
                _ => job.append(line, 0.0, fmt(comment)),
            }
            continue;
        }
        // The body: HTML with Handlebars.
        let b = line.as_bytes();
        let mut i = 0;
        let mut start = 0;
        let flush = |job: &mut LayoutJob, from: usize, to: usize, color| {
            if to > from {
                job.append(&line[from..to], 0.0, fmt(color));
            }
        };
        while i < b.len() {
            if in_comment {
                if line[i..].starts_with("-->") {
                    flush(&mut job, start, i + 3, comment);
                    i += 3;
                    start = i;
                    in_comment = false;
                } else {
                    i += line[i..].chars().next().map_or(1, char::len_utf8);
                }
                continue;
            }
            if line[i..].starts_with("<!--") {
                flush(&mut job, start, i, plain);
                start = i;
                in_comment = true;
                i += 4;
                continue;
            }
            if line[i..].starts_with("{{") {
                flush(&mut job, start, i, plain);
                let end = line[i..].find("}}").map_or(b.len(), |e| i + e + 2);
                let end = if line[end..].starts_with('}') {
                    end + 1
                } else {
                    end
                };
                let color = if line[i..].starts_with("{{!") {
                    comment
                } else {
                    hbs
                };
                flush(&mut job, i, end, color);
                i = end;
                start = i;
                continue;
            }
            if b[i] == b'<'
                && b.get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'/')
            {
                flush(&mut job, start, i, plain);
                // A tag: its name and attributes, quoted values apart.
                let mut k = i;
                let mut seg = i;
                let mut quote = 0u8;
                while k < b.len() {
                    let ch = b[k];
                    if quote != 0 {
                        if ch == quote {
                            flush(&mut job, seg, k + 1, string);
                            seg = k + 1;
                            quote = 0;
                        }
                    } else if ch == b'"' || ch == b'\'' {
                        flush(&mut job, seg, k, tag);
                        seg = k;
                        quote = ch;
                    } else if ch == b'>' {
                        k += 1;
                        break;
                    }
                    k += 1;
                }
                flush(&mut job, seg, k, if quote != 0 { string } else { tag });
                i = k;
                start = i;
                continue;
            }
            i += line[i..].chars().next().map_or(1, char::len_utf8);
        }
        flush(
            &mut job,
            start,
            b.len(),
            if in_comment { comment } else { plain },
        );
    }
    job
}

fn append_hbs(
    job: &mut LayoutJob,
    text: &str,
    fmt: &dyn Fn(egui::Color32) -> TextFormat,
    plain: egui::Color32,
    hbs: egui::Color32,
) {
    let mut rest = text;
    while let Some(a) = rest.find("{{") {
        job.append(&rest[..a], 0.0, fmt(plain));
        let end = rest[a..].find("}}").map_or(rest.len(), |e| a + e + 2);
        job.append(&rest[a..end], 0.0, fmt(hbs));
        rest = &rest[end..];
    }
    job.append(rest, 0.0, fmt(plain));
}
