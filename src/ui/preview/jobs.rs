//! The Preview screen's jobs: loading the workspace's email side, one
//! render per column (render, lint for the member, paint), the segment
//! lint, the editor's check, saving, exports; and the handler of their
//! answers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::{Column, ColumnRequest, LintKey, Mode, PreviewMsg, PreviewScreen, Shown, tiles};
use crate::app::jobs::JobKey;
use crate::app::preview::{Choice, Preview};
use crate::email::export::{self, Format, Unit};
use crate::model::Template;
use crate::paint::PaintOptions;
use crate::ui::ctx::{Msg, ScreenCtx};

fn choice(mode: Mode, variant: &Option<String>) -> Choice {
    match mode {
        Mode::Mapped => Choice::Mapped {
            variant: variant.clone(),
        },
        Mode::Template(id) => Choice::Template(id),
    }
}

impl PreviewScreen {
    /// Loads the email side of the workspace once the engine is ready, and
    /// again when the evaluation time changes.
    pub(super) fn maybe_load(&mut self, ctx: &mut ScreenCtx<'_>) {
        let (Some(engine), Some(path)) = (ctx.engine.cloned(), ctx.workspace_path()) else {
            return;
        };
        if self.loading || self.load_error.is_some() {
            return;
        }
        if self.preview.is_some() && self.loaded_as_of == Some(ctx.as_of) {
            return;
        }
        self.loading = true;
        self.loaded_as_of = Some(ctx.as_of);
        let as_of = ctx.as_of;
        ctx.jobs.spawn(
            JobKey::PreviewLoad,
            "Loading templates and segments",
            move |_| {
                Msg::Preview(PreviewMsg::Loaded(
                    Preview::load(&path, engine, as_of)
                        .map(Arc::new)
                        .map_err(|e| e.to_string()),
                ))
            },
        );
    }

    /// Starts a render for every column whose request changed.
    pub(super) fn request_renders(
        &mut self,
        p: &Arc<Preview>,
        scale: f32,
        ctx: &mut ScreenCtx<'_>,
    ) {
        let mode = self.mode();
        let width = self.width();
        let dark = self.dark;
        let demo = ctx.demo;
        let draft = self.draft();
        for (index, c) in self.columns.iter_mut().enumerate() {
            let Some(row) = c.row() else {
                continue;
            };
            let request = ColumnRequest {
                segment: c.segment,
                mode,
                variant: c.variant.clone(),
                row,
                width,
                dark,
                scale,
                draft: draft.as_ref().map(|d| d.1),
                demo,
            };
            if c.requested.as_ref() == Some(&request) {
                continue;
            }
            // An edit makes the segment's lint moot: stop it, so the
            // renders get the machine; it runs again once typing pauses.
            if c.requested
                .as_ref()
                .is_some_and(|r| r.draft != request.draft)
            {
                ctx.jobs.forget(&JobKey::PreviewLint(index));
                c.lint_requested = None;
            }
            c.requested = Some(request.clone());
            c.running = true;
            c.requested_at = Some(Instant::now());
            let p = p.clone();
            let draft = draft.clone();
            ctx.jobs.spawn(
                JobKey::PreviewColumn(index),
                "Rendering the preview",
                move |job| {
                    let started = Instant::now();
                    let result = render_column(&p, &request, draft.map(|d| d.0), job)
                        .map(|(view, tiles)| {
                            Box::new(Shown {
                                request: request.clone(),
                                view,
                                tile_rows: tiles.iter().map(|t| t.size[1]).collect(),
                                tiles,
                                elapsed: started.elapsed(),
                            })
                        })
                        .map_err(|e| (request, e));
                    Msg::Preview(PreviewMsg::Column { index, result })
                },
            );
        }
    }

    /// Starts the segment lint of every column whose template or segment
    /// changed (it runs over all members, in the background).
    pub(super) fn request_lints(&mut self, p: &Arc<Preview>, ctx: &mut ScreenCtx<'_>) {
        // The emails on screen come first: a segment lint waits for typing
        // to pause and for the columns' renders.
        if self.editor.edited_at.is_some() || self.columns.iter().any(|c| c.running) {
            return;
        }
        let draft = self.draft();
        for (index, c) in self.columns.iter_mut().enumerate() {
            let Some(shown) = &c.shown else {
                continue;
            };
            let id = shown.view.template_id;
            let template = match &draft {
                Some((t, k)) if t.id == id => Some(((**t).clone(), *k)),
                _ => p
                    .mail
                    .template_by_id(id)
                    .map(|t| (t.clone(), crate::app::preview::template_key(t))),
            };
            let Some((template, content)) = template else {
                continue;
            };
            let key = LintKey {
                segment: c.segment,
                template: (id, content),
            };
            if c.lint_requested.as_ref() == Some(&key) {
                continue;
            }
            c.lint_requested = Some(key.clone());
            if let Some((_, report, edges)) = c.lint_cache.iter().find(|(k, _, _)| *k == key) {
                c.lint = Some((key, report.clone()));
                c.edges = edges.clone();
                continue;
            }
            let p = p.clone();
            let members = c.members.clone();
            ctx.jobs.spawn(
                JobKey::PreviewLint(index),
                format!("Checking {} over {} members", template.name, members.len()),
                move |job| {
                    let report = match p.renderer(&template) {
                        Ok(r) => p.lint_segment(&r, &members, job),
                        Err(e) => crate::email::lint::failed(
                            &template.name,
                            match e {
                                crate::email::EmailError::Template { findings, .. } => findings,
                                other => vec![crate::email::Finding::error(
                                    "body",
                                    1,
                                    1,
                                    other.to_string(),
                                )],
                            },
                        ),
                    };
                    let edges = p.edge_cases(&members, Some(&report), job);
                    Msg::Preview(PreviewMsg::Lint {
                        index,
                        key,
                        report: Arc::new(report),
                        edges,
                    })
                },
            );
        }
    }

    /// Applies a job's answer.
    pub fn handle(&mut self, msg: PreviewMsg, ctx: &mut ScreenCtx<'_>) {
        match msg {
            PreviewMsg::Loaded(result) => {
                self.loading = false;
                match result {
                    Ok(p) => {
                        // Columns keep their segments; their member lists
                        // and images are made anew.
                        let kept: Vec<_> = self
                            .columns
                            .iter()
                            .map(|c| (c.segment, c.variant.clone(), c.row(), c.tab))
                            .collect();
                        self.columns = kept
                            .into_iter()
                            .filter(|(s, ..)| {
                                s.is_none_or(|id| p.mail.segments.iter().any(|x| x.id == id))
                            })
                            .map(|(s, v, row, tab)| {
                                let mut c = Column::new(s, p.members(s));
                                c.variant = v;
                                c.tab = tab;
                                if let Some(row) = row {
                                    c.show_row(row);
                                }
                                c
                            })
                            .collect();
                        if let Some(Mode::Template(id)) = self.mode
                            && p.mail.template_by_id(id).is_none()
                        {
                            self.mode = None;
                            self.columns.clear();
                        }
                        self.editor.reloaded(&p);
                        self.preview = Some(p);
                    }
                    Err(e) => self.load_error = Some(format!("Could not load the preview: {e}")),
                }
            }
            PreviewMsg::Column { index, result } => {
                let Some(c) = self.columns.get_mut(index) else {
                    return;
                };
                let request = match &result {
                    Ok(s) => &s.request,
                    Err((r, _)) => r,
                };
                if c.requested.as_ref() != Some(request) {
                    return;
                }
                c.running = false;
                self.shown_count += 1;
                match result {
                    Ok(shown) => {
                        c.error = None;
                        c.textures.clear();
                        c.shown = Some(shown);
                    }
                    Err((_, e)) => c.error = Some(e),
                }
            }
            PreviewMsg::Lint {
                index,
                key,
                report,
                edges,
            } => {
                if let Some(c) = self.columns.get_mut(index)
                    && c.lint_requested.as_ref() == Some(&key)
                {
                    if c.lint_cache.len() >= 4 {
                        c.lint_cache.remove(0);
                    }
                    c.lint_cache
                        .push((key.clone(), report.clone(), edges.clone()));
                    c.lint = Some((key, report));
                    c.edges = edges;
                }
            }
            PreviewMsg::Checked { key, findings } => self.editor.checked(key, findings),
            PreviewMsg::Saved(result) => {
                self.editor.saving = false;
                match result {
                    Ok(message) => {
                        self.notice = Some(message);
                        // The saved template is part of the workspace now:
                        // load it afresh (the columns stay).
                        self.preview_reload(ctx);
                    }
                    Err(e) => ctx.error(e),
                }
            }
            PreviewMsg::Written { open, result } => match result {
                Ok(path) if open => {
                    self.open_url = Some(format!("file://{}", path.display()));
                }
                Ok(path) => self.notice = Some(format!("Exported to {}", path.display())),
                Err(e) => ctx.error(e),
            },
        }
    }

    /// Loads the preview again (after a save), keeping the columns.
    fn preview_reload(&mut self, ctx: &mut ScreenCtx<'_>) {
        self.loaded_as_of = None;
        self.maybe_load(ctx);
    }
}

/// A column's job: the template the member gets (or the editor's draft
/// of it), rendered, linted and painted, the image cut into tiles.
fn render_column(
    p: &Preview,
    request: &ColumnRequest,
    draft: Option<Arc<Template>>,
    job: &crate::app::jobs::JobCtx,
) -> Result<(crate::app::preview::ColumnView, Vec<egui::ColorImage>), String> {
    let (saved, variant) = p
        .template_for(
            &choice(request.mode, &request.variant),
            request.segment,
            request.row,
        )
        .map_err(|e| e.to_string())?;
    let template = match &draft {
        Some(d) if d.id == saved.id => d.as_ref(),
        _ => saved,
    };
    let renderer = p.renderer(template).map_err(|e| e.to_string())?;
    let view = p
        .column(
            &renderer,
            request.segment,
            variant,
            request.row,
            &PaintOptions {
                width: request.width,
                dark: request.dark,
                scale: request.scale,
                base_dir: None,
            },
            job,
        )
        .map_err(|e| e.to_string())?;
    let tiles = match &view.painted {
        Ok(painted) => tiles(&painted.image),
        Err(_) => Vec::new(),
    };
    Ok((view, tiles))
}

/// Writes the column's email as HTML to a temporary file and opens it in
/// the system's browser.
pub(super) fn open_in_browser(c: &Column, ctx: &mut ScreenCtx<'_>) {
    let Some(shown) = &c.shown else {
        return;
    };
    let html = shown.view.rendered.html.clone();
    let name = format!(
        "{}-{}.html",
        export::slug(&shown.view.template),
        shown.view.customer_id
    );
    ctx.jobs
        .spawn(JobKey::PreviewWrite, "Opening in the browser", move |_| {
            let dir = std::env::temp_dir().join("prism-preview");
            let path = dir.join(name);
            let result = std::fs::create_dir_all(&dir)
                .and_then(|_| std::fs::write(&path, html))
                .map(|_| path.clone())
                .map_err(|e| format!("{}: {e}", path.display()));
            Msg::Preview(PreviewMsg::Written { open: true, result })
        });
}

/// Exports the column's email (HTML or `.eml`) to a file the user picks.
pub(super) fn export_one(c: &Column, format: Format, ctx: &mut ScreenCtx<'_>) {
    let Some(shown) = &c.shown else {
        return;
    };
    let rendered = shown.view.rendered.clone();
    let to = serde_json::from_str::<serde_json::Value>(&shown.view.context)
        .ok()
        .and_then(|v| v["email"].as_str().map(str::to_string));
    let stem = format!(
        "{}-{}",
        export::slug(&shown.view.template),
        shown.view.customer_id
    );
    let workspace = ctx.workspace_path();
    ctx.jobs
        .spawn(JobKey::PreviewWrite, "Exporting the email", move |_| {
            let file = rfd::FileDialog::new()
                .set_file_name(format!("{stem}.{}", format.ext()))
                .add_filter(format.ext(), &[format.ext()])
                .save_file();
            let Some(path) = file else {
                return Msg::Preview(PreviewMsg::Written {
                    open: false,
                    result: Err("Export cancelled".into()),
                });
            };
            let bytes = match format {
                Format::Eml => export::eml(
                    &rendered,
                    to.as_deref(),
                    crate::model::time::now_utc(),
                    &format!("{stem}@prism.local"),
                ),
                Format::Text => Ok(rendered.text.clone().unwrap_or_default().into_bytes()),
                _ => Ok(rendered.html.clone().into_bytes()),
            };
            let result = bytes
                .and_then(|b| std::fs::write(&path, b).map_err(|e| e.to_string()))
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|_| audit_export(workspace.as_deref(), format, 1, &path))
                .map(|_| path.clone());
            Msg::Preview(PreviewMsg::Written {
                open: false,
                result,
            })
        });
}

/// Exports the column's template for every member of its segment, one
/// `.eml` file each, into a folder the user picks (written whole or not
/// at all).
pub(super) fn export_segment(
    c: &Column,
    p: &Arc<Preview>,
    ctx: &mut ScreenCtx<'_>,
    draft: Option<(Arc<Template>, u64)>,
    include_unreachable: Option<String>,
) {
    let Some(shown) = &c.shown else {
        return;
    };
    let id = shown.view.template_id;
    let template = match &draft {
        Some((t, _)) if t.id == id => Some((**t).clone()),
        _ => p.mail.template_by_id(id).cloned(),
    };
    let Some(template) = template else {
        return;
    };
    let members = c.members.clone();
    let unreachable = c.all_members - c.reachable_members;
    let folder = c
        .segment
        .and_then(|s| p.mail.segments.iter().find(|x| x.id == s))
        .map_or_else(|| "all".to_string(), |s| s.name.clone());
    let p = p.clone();
    let workspace = ctx.workspace_path();
    ctx.jobs.spawn(
        JobKey::PreviewWrite,
        format!("Exporting {} emails", members.len()),
        move |job| {
            let Some(dir) = rfd::FileDialog::new().pick_folder() else {
                return Msg::Preview(PreviewMsg::Written {
                    open: false,
                    result: Err("Export cancelled".into()),
                });
            };
            let out: PathBuf = dir.join(export::slug(&folder));
            let result = p
                .renderer(&template)
                .and_then(|r| {
                    let units: Vec<Unit> = members
                        .iter()
                        .map(|&row| Unit {
                            renderer: 0,
                            row,
                            segment: folder.clone(),
                            variant: String::new(),
                        })
                        .collect();
                    export::export(
                        &p.mail.builder,
                        std::slice::from_ref(r.as_ref()),
                        &units,
                        &out,
                        Format::Eml,
                        false,
                        job,
                    )
                })
                .map_err(|e| e.to_string())
                .and_then(|stats| {
                    audit_export(workspace.as_deref(), Format::Eml, stats.files, &out)
                })
                .and_then(|()| match (&include_unreachable, workspace.as_deref()) {
                    (Some(reason), Some(ws)) => crate::app::privacy::record_override(
                        ws,
                        &crate::app::privacy::Audience::Everyone {
                            reason: reason.clone(),
                        },
                        "email export",
                        unreachable,
                    )
                    .map_err(|e| e.to_string()),
                    _ => Ok(()),
                })
                .map(|_| out.clone());
            Msg::Preview(PreviewMsg::Written {
                open: false,
                result,
            })
        },
    );
}

/// Records an export of `emails` emails to `to` in the workspace's audit
/// log (the file is written; a failure to record it is said).
fn audit_export(
    workspace: Option<&std::path::Path>,
    format: Format,
    emails: usize,
    to: &std::path::Path,
) -> Result<(), String> {
    let Some(ws) = workspace else {
        return Ok(());
    };
    export::record_export(ws, format, emails, to).map_err(|e| {
        format!(
            "{}: written, but not recorded in the audit log: {e}",
            to.display()
        )
    })
}
