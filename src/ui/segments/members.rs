//! Members tab: the segment's customers with key fields and traits,
//! sortable, virtual-scrolled; export to CSV; click one to explain it.

use std::sync::Arc;

use egui_extras::{Column, TableBuilder};

use super::SegMsg;
use super::SegmentsScreen;
use crate::app::jobs::JobKey;
use crate::app::privacy::{self, Audience};
use crate::engine::members::SortBy;
use crate::engine::rule::TraitKind;
use crate::ui::ctx::{Msg, ScreenCtx};
use crate::ui::data_screen::format_count;

pub enum MembersMsg {
    Sorted {
        /// (draft key, evaluation count) the order belongs to.
        token: (i64, u64),
        order: Arc<Vec<u32>>,
    },
}

#[derive(Default)]
pub struct MembersState {
    pub sort: Option<SortBy>,
    pub order: Option<Arc<Vec<u32>>>,
    token: Option<(i64, u64)>,
    requested: Option<(i64, u64)>,
    pub exported: Option<String>,
    /// Export unreachable members too (needs a reason; audited).
    pub include_unreachable: bool,
    pub reason: String,
}

impl MembersState {
    pub fn invalidate(&mut self) {
        self.requested = None;
    }

    pub fn handle(&mut self, m: MembersMsg) {
        match m {
            MembersMsg::Sorted { token, order } => {
                self.token = Some(token);
                self.order = Some(order);
            }
        }
    }
}

/// (field, column title); traits come after the fields.
const FIELD_COLUMNS: [(&str, &str); 5] = [
    ("external_id", "Customer ID"),
    ("email", "Email"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("country", "Country"),
];

pub fn members_tab_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(engine) = ctx.engine.cloned() else {
        return;
    };
    let key = s.current.unwrap_or(0);
    let Some((rkey, result)) = s.eval.result.clone() else {
        ui.weak("Counting…");
        return;
    };
    if rkey != key {
        ui.weak("Counting…");
        return;
    }
    let token = (key, s.eval.shown);
    let as_of = result.evaluation.as_of;
    let m = &mut s.members;
    if m.requested != Some(token) {
        m.requested = Some(token);
        let members = result.evaluation.members.clone();
        let sort = m.sort.clone();
        let engine2 = engine.clone();
        ctx.jobs
            .spawn(JobKey::SegmentMembers, "Sorting members", move |_| {
                // Traits are shown beside the fields: compute them here, not on screen.
                engine2.traits(as_of);
                let order = Arc::new(engine2.sorted_members(&members, sort.as_ref()));
                Msg::Segments(SegMsg::Members(MembersMsg::Sorted { token, order }))
            });
    }
    let sorting = s.members.token != Some(token);
    let count = result.evaluation.count();
    let unreachable = count - result.evaluation.reachable;
    ui.horizontal(|ui| {
        ui.strong(format!("{} members", format_count(count as i64)));
        ui.label(format!(
            "· {}",
            privacy::reachable_text(result.evaluation.reachable, count)
        ));
        if sorting {
            ui.spinner();
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let m = &mut s.members;
            let audience = if m.include_unreachable {
                Audience::from_reason(Some(&m.reason)).ok()
            } else {
                Some(Audience::Reachable)
            };
            let button = ui
                .add_enabled(audience.is_some(), egui::Button::new("Export CSV…"))
                .on_hover_text(if m.include_unreachable {
                    "Every member, unreachable ones too; the reason goes to the audit log"
                } else {
                    "Members who can be emailed; the unreachable are left out"
                })
                .on_disabled_hover_text("Say why unreachable members are included");
            if m.include_unreachable {
                ui.add(
                    egui::TextEdit::singleline(&mut m.reason)
                        .hint_text("Reason (audited)")
                        .desired_width(160.0),
                );
            }
            ui.checkbox(
                &mut m.include_unreachable,
                format!("Include {} unreachable", format_count(unreachable as i64)),
            )
            .on_hover_text(
                "No consent, no address, unsubscribed or hard-bounced: left out of exports unless you say why",
            );
            if button.clicked()
                && let Some(audience) = audience
            {
                export(s, ctx, result.evaluation.members.clone(), as_of, audience);
            }
        });
    });
    if let Some(done) = &s.members.exported {
        ui.weak(done);
    }
    let Some(order) = s.members.order.clone() else {
        return;
    };
    let traits = engine.traits_cached(as_of);
    let sort = s.members.sort.clone();
    let mut new_sort = None;
    let mut explain = None;
    let row_h = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    egui::ScrollArea::horizontal().show(ui, |ui| {
        let mut tb = TableBuilder::new(ui)
            .id_salt("members_table")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center));
        for _ in 0..FIELD_COLUMNS.len() + 2 {
            tb = tb.column(Column::initial(110.0).at_least(40.0).clip(true));
        }
        tb.header(row_h, |mut h| {
            for (field, title) in FIELD_COLUMNS {
                h.col(|ui| {
                    let arrow = match &sort {
                        Some(s) if s.field == field => {
                            if s.descending {
                                " ⏷"
                            } else {
                                " ⏶"
                            }
                        }
                        _ => "",
                    };
                    if ui
                        .button(egui::RichText::new(format!("{title}{arrow}")).strong())
                        .on_hover_text(format!("Sort by {title}"))
                        .clicked()
                    {
                        new_sort = Some(SortBy {
                            field: field.to_string(),
                            descending: sort
                                .as_ref()
                                .is_some_and(|s| s.field == field && !s.descending),
                        });
                    }
                });
            }
            h.col(|ui| {
                ui.strong("RFM segment");
            });
            h.col(|ui| {
                ui.strong("Engagement");
            });
        })
        .body(|body| {
            body.rows(row_h, order.len(), |mut row| {
                let i = order[row.index()] as usize;
                for (field, _) in FIELD_COLUMNS {
                    row.col(|ui| {
                        ui.label(engine.field_display(field, i).unwrap_or_default());
                    });
                }
                for kind in [TraitKind::RfmSegment, TraitKind::EngagementScore] {
                    row.col(|ui| {
                        let v = traits.as_ref().and_then(|t| t.display(kind, i));
                        ui.label(v.unwrap_or_else(|| "…".into()));
                    });
                }
                if row.response().clicked() {
                    explain = engine.field_display("external_id", i);
                }
            });
        });
    });
    if let Some(sort) = new_sort {
        s.members.sort = Some(sort);
        s.members.invalidate();
    }
    if let Some(who) = explain {
        s.explain.query = who;
        s.tab = super::RightTab::Explain;
        super::explain::run_explain(s, ctx);
    }
}

fn export(
    s: &mut SegmentsScreen,
    ctx: &mut ScreenCtx<'_>,
    members: Arc<crate::engine::Bitset>,
    as_of: i64,
    audience: Audience,
) {
    let (Some(engine), Some(d)) = (ctx.engine.cloned(), s.draft()) else {
        return;
    };
    let file_name = format!("{}.csv", d.name.replace(['/', '\\'], "-"));
    let sort = s.members.sort.clone();
    ctx.jobs
        .spawn(JobKey::SegmentExport, "Exporting members", move |_| {
            let Some(path) = rfd::FileDialog::new()
                .add_filter("CSV", &["csv"])
                .set_file_name(&file_name)
                .save_file()
            else {
                return Msg::Segments(SegMsg::Exported(Err("Export cancelled".into())));
            };
            let r = crate::app::segments::export_members(
                &engine,
                &members,
                sort.as_ref(),
                as_of,
                &audience,
                &path,
            )
            .map(|done| done.summary(&path.display().to_string()))
            .map_err(|e| e.to_string());
            Msg::Segments(SegMsg::Exported(r))
        });
}
