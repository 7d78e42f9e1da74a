//! The Preview screen: one column per chosen segment, side by side, each
//! showing the email a member of that segment receives: the inbox row
//! (from, subject, preheader) and the email painted as real HTML layout,
//! with a member picker, tabs (rendered, plain text, HTML source, the
//! member's data) and the QA lint for the member and the segment. A
//! template editor beside the columns re-renders every column as you type.
//!
//! Rendering, linting and painting are jobs; a column keeps its last image
//! and shows it dimmed while the next one is made. This file holds the
//! screen's state and layout; `jobs.rs` its jobs and their answers;
//! `column.rs` one column; `editor.rs` the template editor.

mod column;
mod editor;
mod jobs;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::preview::{ColumnView, EdgeCase, Preview};
use crate::email::lint::LintReport;
use crate::model::Template;
use crate::paint::{DESKTOP_WIDTH, MOBILE_WIDTH};

use super::ctx::ScreenCtx;
pub use editor::Editor;

/// At most this many columns side by side.
pub const MAX_COLUMNS: usize = 4;
/// Typing in the editor waits this long for the next key before the
/// columns re-render.
pub const EDIT_DEBOUNCE: Duration = Duration::from_millis(120);
/// Rows of an email image per texture (textures have a size limit).
const TILE_ROWS: usize = 1024;

/// Which template the columns show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Each segment's mapped template (its A/B variants).
    Mapped,
    /// One template for every column.
    Template(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Rendered,
    Text,
    Source,
    Data,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Rendered, Tab::Text, Tab::Source, Tab::Data];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Rendered => "Rendered",
            Tab::Text => "Plain text",
            Tab::Source => "HTML source",
            Tab::Data => "Data",
        }
    }
}

/// What a column asked to be rendered; an answer to another question is
/// dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnRequest {
    pub segment: Option<i64>,
    pub mode: Mode,
    pub variant: Option<String>,
    pub row: usize,
    pub width: u32,
    pub dark: bool,
    pub scale: f32,
    /// The editor's draft this render used (its content key), if any.
    pub draft: Option<u64>,
    /// Rendered in demo mode (stand-ins for personal fields).
    pub demo: bool,
}

/// A rendered column: the email, and its image in texture-sized tiles.
pub struct Shown {
    pub request: ColumnRequest,
    pub view: ColumnView,
    /// The image's tiles, until they are uploaded as textures.
    pub tiles: Vec<egui::ColorImage>,
    /// Each tile's height in pixels.
    pub tile_rows: Vec<usize>,
    /// How long the job took (render, lint, paint).
    pub elapsed: Duration,
}

/// What a segment lint was run for.
#[derive(Clone, Debug, PartialEq)]
pub struct LintKey {
    pub segment: Option<i64>,
    /// The template's id and its content key (the editor's draft counts).
    pub template: (i64, u64),
}

/// The answers of the screen's jobs.
pub enum PreviewMsg {
    Loaded(Result<Arc<Preview>, String>),
    Column {
        index: usize,
        result: Result<Box<Shown>, (ColumnRequest, String)>,
    },
    Lint {
        index: usize,
        key: LintKey,
        report: Arc<LintReport>,
        edges: Vec<EdgeCase>,
    },
    /// The editor's draft compiled and checked: findings at file lines.
    Checked {
        key: u64,
        findings: Vec<editor::Mark>,
    },
    Saved(Result<String, String>),
    /// A file written for the browser, or an export done.
    Written {
        open: bool,
        result: Result<PathBuf, String>,
    },
}

/// One column: a segment, its members, the member shown.
pub struct Column {
    /// `None`: every customer.
    pub segment: Option<i64>,
    /// A named A/B variant of the mapped template, or `None` for the one
    /// the member is assigned.
    pub variant: Option<String>,
    pub members: Arc<Vec<usize>>,
    /// Members of the segment, reachable or not, and those reachable.
    pub all_members: usize,
    pub reachable_members: usize,
    /// Index into `members`.
    pub position: usize,
    pub search: String,
    pub search_error: Option<String>,
    pub tab: Tab,
    pub shown: Option<Box<Shown>>,
    pub textures: Vec<egui::TextureHandle>,
    pub error: Option<String>,
    pub requested: Option<ColumnRequest>,
    pub running: bool,
    pub requested_at: Option<Instant>,
    /// From a member change (or keystroke) to its image on screen.
    pub last_latency: Option<Duration>,
    pub lint: Option<(LintKey, Arc<LintReport>)>,
    pub lint_requested: Option<LintKey>,
    pub edges: Vec<EdgeCase>,
    /// Recent segment lints: stepping through an A/B test alternates
    /// between two templates, each linted once.
    pub lint_cache: Vec<(LintKey, Arc<LintReport>, Vec<EdgeCase>)>,
    /// Random picks so far (each draws a new member).
    pub draws: u64,
}

impl Column {
    pub fn new(segment: Option<i64>, members: Vec<usize>) -> Column {
        Column {
            segment,
            variant: None,
            all_members: members.len(),
            reachable_members: members.len(),
            members: Arc::new(members),
            position: 0,
            search: String::new(),
            search_error: None,
            tab: Tab::Rendered,
            shown: None,
            textures: Vec::new(),
            error: None,
            requested: None,
            running: false,
            requested_at: None,
            last_latency: None,
            lint: None,
            lint_requested: None,
            edges: Vec::new(),
            lint_cache: Vec::new(),
            draws: 0,
        }
    }

    /// The member shown (engine row).
    pub fn row(&self) -> Option<usize> {
        self.members.get(self.position).copied()
    }

    /// Shows the member at engine row `row` (one of the members).
    pub fn show_row(&mut self, row: usize) {
        if let Ok(k) = self.members.binary_search(&row) {
            self.position = k;
        }
    }
}

#[derive(Default)]
pub struct PreviewScreen {
    pub preview: Option<Arc<Preview>>,
    pub loading: bool,
    pub load_error: Option<String>,
    /// The evaluation time the loaded preview was built for.
    loaded_as_of: Option<i64>,
    pub mode: Option<Mode>,
    pub columns: Vec<Column>,
    pub mobile: bool,
    pub dark: bool,
    pub editor: Editor,
    /// Column results applied so far (benchmarks and tests wait on it).
    pub shown_count: u64,
    /// A file to open in the browser on the next frame.
    open_url: Option<String>,
    pub notice: Option<String>,
    /// Unreachable customers are in the pickers too, for this reason
    /// (recorded in the audit log when it was given).
    pub include_unreachable: Option<String>,
    /// The reason being typed, while the question is open.
    pub reason_draft: Option<String>,
}

impl PreviewScreen {
    /// Demo mode changed: every column renders again (the engine masks
    /// from now on; an answer rendered before is not taken).
    pub fn demo_changed(&mut self) {
        for c in &mut self.columns {
            c.requested = None;
        }
    }

    /// Forgets everything about the last workspace.
    pub fn unload(&mut self) {
        *self = PreviewScreen {
            mobile: self.mobile,
            dark: self.dark,
            ..PreviewScreen::default()
        };
    }

    pub fn width(&self) -> u32 {
        if self.mobile {
            MOBILE_WIDTH
        } else {
            DESKTOP_WIDTH
        }
    }

    /// The mode, once the preview is loaded.
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Mapped)
    }

    /// Sets up the first columns: two mapped segments (or, without a
    /// content map, one template over the first two segments).
    fn first_columns(&mut self, p: &Preview) {
        let routes = p.mail.routes();
        let mut segments: Vec<i64> = routes.iter().map(|r| r.segment_id).take(2).collect();
        if segments.is_empty() {
            self.mode = p.mail.templates.first().map(|t| Mode::Template(t.id));
            segments = p.mail.segments.iter().map(|s| s.id).take(2).collect();
        } else {
            self.mode = Some(Mode::Mapped);
        }
        self.columns = if segments.is_empty() {
            vec![self.column_for(p, None)]
        } else {
            segments
                .into_iter()
                .map(|id| self.column_for(p, Some(id)))
                .collect()
        };
    }

    /// A new column for `segment`: its members who can be emailed (everyone
    /// with the override on).
    fn column_for(&self, p: &Preview, segment: Option<i64>) -> Column {
        let reachable = p.members(segment);
        let mut c = if self.include_unreachable.is_some() {
            Column::new(segment, p.members_with(segment, true))
        } else {
            Column::new(segment, reachable.clone())
        };
        c.all_members = p.segment_size(segment);
        c.reachable_members = reachable.len();
        c
    }

    /// Turns the override on (with its reason, recorded in the audit log)
    /// or off, and picks the columns' members again.
    pub fn set_include_unreachable(&mut self, reason: Option<String>, ctx: &mut ScreenCtx<'_>) {
        let Some(p) = self.preview.clone() else {
            return;
        };
        if let (Some(r), Some(ws)) = (&reason, ctx.workspace_path()) {
            let audience = crate::app::privacy::Audience::Everyone { reason: r.clone() };
            let unreachable: usize = self
                .columns
                .iter()
                .map(|c| c.all_members - c.reachable_members)
                .sum();
            if let Err(e) =
                crate::app::privacy::record_override(&ws, &audience, "preview", unreachable)
            {
                ctx.error(format!(
                    "Not recorded in the audit log, so not included: {e}"
                ));
                return;
            }
        }
        self.include_unreachable = reason;
        for k in 0..self.columns.len() {
            let seg = self.columns[k].segment;
            let tab = self.columns[k].tab;
            let variant = self.columns[k].variant.clone();
            self.columns[k] = Column {
                tab,
                variant,
                ..self.column_for(&p, seg)
            };
        }
    }

    /// Adds a column for the next segment not shown yet.
    pub fn add_column(&mut self) {
        let Some(p) = self.preview.clone() else {
            return;
        };
        if self.columns.len() >= MAX_COLUMNS {
            return;
        }
        let mapped: Vec<i64> = match self.mode() {
            Mode::Mapped => p.mail.routes().iter().map(|r| r.segment_id).collect(),
            Mode::Template(_) => p.mail.segments.iter().map(|s| s.id).collect(),
        };
        let next = mapped
            .iter()
            .copied()
            .find(|id| !self.columns.iter().any(|c| c.segment == Some(*id)))
            .or(mapped.first().copied());
        let c = self.column_for(&p, next);
        self.columns.push(c);
    }

    /// Points column `index` at another segment.
    pub fn set_segment(&mut self, index: usize, segment: Option<i64>) {
        let Some(p) = self.preview.clone() else {
            return;
        };
        let fresh = self.column_for(&p, segment);
        if let Some(c) = self.columns.get_mut(index) {
            *c = Column {
                tab: c.tab,
                ..fresh
            };
        }
    }

    /// The template a column's job should use in place of the saved one:
    /// the editor's draft, when it edits that template.
    pub fn draft(&self) -> Option<(Arc<Template>, u64)> {
        self.editor.draft.clone()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        if let Some(url) = self.open_url.take() {
            ui.ctx().open_url(egui::OpenUrl::new_tab(url));
        }
        self.maybe_load(ctx);
        let Some(p) = self.preview.clone() else {
            ui.add_space(24.0);
            ui.vertical_centered(|ui| {
                if let Some(e) = &self.load_error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                } else {
                    ui.spinner();
                    ui.label("Loading the workspace's templates and segments…");
                }
            });
            return;
        };
        if self.columns.is_empty() {
            self.first_columns(&p);
        }
        self.editor.tick(ui.ctx(), &p, ctx);
        let scale = ui.ctx().pixels_per_point();
        self.request_renders(&p, scale, ctx);
        self.request_lints(&p, ctx);
        toolbar_ui(ui, self, &p, ctx);
        ui.separator();
        let avail = ui.available_size();
        ui.horizontal_top(|ui| {
            if self.editor.open {
                let w = (avail.x * 0.36).clamp(340.0, 640.0);
                ui.allocate_ui_with_layout(
                    egui::vec2(w, avail.y),
                    egui::Layout::top_down(egui::Align::Min),
                    |ui| {
                        ui.set_width(w);
                        ui.set_height(avail.y);
                        editor::editor_ui(ui, self, &p, ctx);
                    },
                );
                ui.separator();
            }
            let rest = ui.available_width();
            ui.allocate_ui_with_layout(
                egui::vec2(rest, avail.y),
                egui::Layout::top_down(egui::Align::Min),
                |ui| columns_ui(ui, self, &p, ctx),
            );
        });
    }
}

fn toolbar_ui(ui: &mut egui::Ui, s: &mut PreviewScreen, p: &Preview, ctx: &mut ScreenCtx<'_>) {
    ui.horizontal_wrapped(|ui| {
        let label = match s.mode() {
            Mode::Mapped => "Mapped template per segment".to_string(),
            Mode::Template(id) => p
                .mail
                .template_by_id(id)
                .map_or_else(|| "Template".into(), |t| format!("Template: {}", t.name)),
        };
        let before = s.mode();
        let show = ui.label("Show");
        egui::ComboBox::from_id_salt("preview_mode")
            .selected_text(label)
            .width(260.0)
            .show_ui(ui, |ui| {
                let mut mode = s.mode();
                ui.selectable_value(&mut mode, Mode::Mapped, "Mapped template per segment");
                for t in &p.mail.templates {
                    ui.selectable_value(
                        &mut mode,
                        Mode::Template(t.id),
                        format!("Template: {}", t.name),
                    );
                }
                s.mode = Some(mode);
            })
            .response
            .labelled_by(show.id)
            .on_hover_text("Show each segment's mapped email, or one template for every column");
        if s.mode() != before {
            for c in &mut s.columns {
                c.variant = None;
            }
        }
        ui.separator();
        ui.selectable_value(&mut s.mobile, false, "Desktop")
            .on_hover_text(format!("{DESKTOP_WIDTH} px wide"));
        ui.selectable_value(&mut s.mobile, true, "Mobile")
            .on_hover_text(format!("{MOBILE_WIDTH} px wide"));
        ui.separator();
        ui.selectable_value(&mut s.dark, false, "Light");
        ui.selectable_value(&mut s.dark, true, "Dark")
            .on_hover_text("Paint with prefers-color-scheme: dark, as dark-mode mail programs do");
        ui.separator();
        if ui
            .add_enabled(s.columns.len() < MAX_COLUMNS, egui::Button::new("+ Column"))
            .on_hover_text("Add a segment side by side (up to four)")
            .clicked()
        {
            s.add_column();
        }
        if ui
            .selectable_label(s.editor.open, "Edit template")
            .on_hover_text("Edit a template beside the columns; they re-render as you type")
            .clicked()
        {
            let open = !s.editor.open;
            let template = s
                .columns
                .first()
                .and_then(|c| c.shown.as_ref())
                .map(|sh| sh.view.template_id);
            s.editor.set_open(
                open,
                p,
                template.or(match s.mode() {
                    Mode::Template(id) => Some(id),
                    Mode::Mapped => None,
                }),
            );
        }
        ui.separator();
        consent_ui(ui, s, ctx);
        ui.separator();
        ui.weak(format!(
            "as of {}",
            crate::model::time::format_ts(p.as_of())
        ));
        if let Some(n) = &s.notice {
            ui.separator();
            ui.label(n);
        }
    });
}

/// Who the pickers offer: customers who can be emailed, or everyone for a
/// stated reason (recorded in the audit log).
fn consent_ui(ui: &mut egui::Ui, s: &mut PreviewScreen, ctx: &mut ScreenCtx<'_>) {
    if let Some(reason) = s.include_unreachable.clone() {
        ui.label("Including unreachable customers")
            .on_hover_text(format!("Reason given: {reason}"));
        if ui.button("Leave them out").clicked() {
            s.set_include_unreachable(None, ctx);
        }
        return;
    }
    match s.reason_draft.as_mut() {
        None => {
            if ui
                .button("Include unreachable…")
                .on_hover_text(
                    "Customers without consent, without an address, unsubscribed or hard-bounced are left out of the pickers and exports; include them for a reason",
                )
                .clicked()
            {
                s.reason_draft = Some(String::new());
            }
        }
        Some(draft) => {
            let edit = ui.add(
                egui::TextEdit::singleline(draft)
                    .hint_text("Why (goes to the audit log)")
                    .desired_width(200.0),
            );
            let edit = edit.labelled_by(ui.label("Reason").id);
            let reason = draft.trim().to_string();
            let go = ui
                .add_enabled(!reason.is_empty(), egui::Button::new("Include"))
                .clicked()
                || (edit.lost_focus()
                    && !reason.is_empty()
                    && ui.input(|i| i.key_pressed(egui::Key::Enter)));
            let cancel = ui.button("Cancel").clicked();
            if go {
                s.reason_draft = None;
                s.set_include_unreachable(Some(reason), ctx);
            } else if cancel {
                s.reason_draft = None;
            }
        }
    }
}

fn columns_ui(ui: &mut egui::Ui, s: &mut PreviewScreen, p: &Arc<Preview>, ctx: &mut ScreenCtx<'_>) {
    let n = s.columns.len().max(1);
    let spacing = ui.spacing().item_spacing.x;
    let width = ((ui.available_width() - spacing * (n as f32 - 1.0)) / n as f32).max(220.0);
    let height = ui.available_height();
    let mut remove = None;
    let mut segment_change = None;
    egui::ScrollArea::horizontal()
        .id_salt("preview_columns")
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                for (index, c) in s.columns.iter_mut().enumerate() {
                    ui.allocate_ui_with_layout(
                        egui::vec2(width, height),
                        egui::Layout::top_down(egui::Align::Min),
                        |ui| {
                            ui.set_width(width);
                            ui.push_id(("preview_column", index), |ui| {
                                let action = column::column_ui(
                                    ui,
                                    c,
                                    index,
                                    p,
                                    s.mode.unwrap_or(Mode::Mapped),
                                    n > 1,
                                    ctx,
                                );
                                match action {
                                    column::Action::None => {}
                                    column::Action::Remove => remove = Some(index),
                                    column::Action::Segment(seg) => {
                                        segment_change = Some((index, seg))
                                    }
                                    column::Action::OpenInBrowser => jobs::open_in_browser(c, ctx),
                                    column::Action::Export(format) => {
                                        jobs::export_one(c, format, ctx)
                                    }
                                    column::Action::ExportSegment => jobs::export_segment(
                                        c,
                                        p,
                                        ctx,
                                        s.editor.draft.clone(),
                                        s.include_unreachable.clone(),
                                    ),
                                }
                            });
                        },
                    );
                }
            });
        });
    if let Some((index, seg)) = segment_change {
        s.set_segment(index, seg);
    }
    if let Some(k) = remove {
        s.columns.remove(k);
    }
}

/// Splits an RGBA image into texture-sized tiles, top to bottom.
pub fn tiles(image: &crate::paint::Image) -> Vec<egui::ColorImage> {
    let w = image.width as usize;
    let h = image.height as usize;
    let mut out = Vec::new();
    let mut y = 0;
    while y < h {
        let rows = TILE_ROWS.min(h - y);
        let bytes = &image.rgba[y * w * 4..(y + rows) * w * 4];
        out.push(egui::ColorImage::from_rgba_premultiplied([w, rows], bytes));
        y += rows;
    }
    out
}
