//! History tab: the saved versions of a segment with their counts; compare
//! two (or a version and the current edits) to see who enters and leaves.

use super::SegMsg;
use super::SegmentsScreen;
use crate::app::jobs::JobKey;
use crate::app::segments::{VersionDiff, compare};
use crate::engine::parse_rule;
use crate::model::SegmentVersion;
use crate::model::time::format_ts;
use crate::store::Store;
use crate::ui::ctx::{Msg, ScreenCtx};
use crate::ui::data_screen::format_count;

/// `None` in a comparison slot means "the current edits".
#[derive(Default)]
pub struct HistoryState {
    pub versions_for: Option<i64>,
    pub versions: Vec<SegmentVersion>,
    requested_for: Option<i64>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub diff: Option<Result<VersionDiff, String>>,
}

fn load_versions(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>, segment_id: i64) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    s.history.requested_for = Some(segment_id);
    ctx.jobs
        .spawn(JobKey::SegmentVersions, "Reading versions", move |_| {
            let result = Store::open_read_only(&ws)
                .and_then(|s| s.segment_versions(segment_id))
                .map_err(|e| e.to_string());
            Msg::Segments(SegMsg::Versions { segment_id, result })
        });
}

pub fn history_tab_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(d) = s.draft() else {
        return;
    };
    if d.id == 0 {
        ui.weak("Save the segment (Ctrl+S) to start its history.");
        return;
    }
    let id = d.id;
    let name = d.name.clone();
    let current_rule = d.history.rule.clone();
    if s.history.versions_for != Some(id) && s.history.requested_for != Some(id) {
        load_versions(s, ctx, id);
    }
    let h = &mut s.history;
    if h.versions_for != Some(id) {
        ui.spinner();
        return;
    }
    ui.weak("Pick a version to compare from, and one (or the current edits) to compare to.");
    egui::Grid::new("versions").striped(true).show(ui, |ui| {
        ui.strong("Version");
        ui.strong("Saved");
        ui.strong("Members");
        ui.strong("From");
        ui.strong("To");
        ui.end_row();
        ui.label("current edits");
        ui.label("");
        ui.label("");
        ui.label("");
        if ui
            .radio(h.after.is_none(), "")
            .on_hover_text("Compare to the current edits")
            .clicked()
        {
            h.after = None;
        }
        ui.end_row();
        for v in &h.versions {
            ui.label(format!("v{}", v.version));
            ui.label(format_ts(v.saved_at));
            ui.label(v.member_count.map(format_count).unwrap_or_default());
            if ui
                .radio(h.before == Some(v.version), "")
                .on_hover_text(format!("Compare from v{}", v.version))
                .clicked()
            {
                h.before = Some(v.version);
            }
            if ui
                .radio(h.after == Some(v.version), "")
                .on_hover_text(format!("Compare to v{}", v.version))
                .clicked()
            {
                h.after = Some(v.version);
            }
            ui.end_row();
        }
    });
    let before = h.before.or_else(|| h.versions.first().map(|v| v.version));
    let rule_of = |version: Option<i64>| match version {
        None => Some(current_rule.clone()),
        Some(n) => h
            .versions
            .iter()
            .find(|v| v.version == n)
            .and_then(|v| parse_rule(&v.rule).ok()),
    };
    let pair = before.and_then(|b| Some((rule_of(Some(b))?, rule_of(h.after)?)));
    if ui
        .add_enabled(pair.is_some(), egui::Button::new("Compare"))
        .clicked()
        && let (Some((a, b)), Some(engine), Some(schema)) =
            (pair, ctx.engine.cloned(), s.schema.clone())
    {
        let as_of = s.as_of();
        ctx.jobs
            .spawn(JobKey::SegmentCompare, "Comparing versions", move |ctx| {
                Msg::Segments(SegMsg::Compared(
                    compare(&engine, &schema, &name, &a, &b, as_of, ctx).map_err(|e| e.to_string()),
                ))
            });
    }
    match &s.history.diff {
        None => {}
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        Some(Ok(d)) => {
            ui.separator();
            ui.strong(format!(
                "{} members before, {} after",
                format_count(d.before as i64),
                format_count(d.after as i64)
            ));
            ui.label(format!("{} enter", format_count(d.entered as i64)));
            for s in &d.entered_sample {
                ui.weak(format!("  + {s}"));
            }
            ui.label(format!("{} leave", format_count(d.left as i64)));
            for s in &d.left_sample {
                ui.weak(format!("  − {s}"));
            }
        }
    }
}
