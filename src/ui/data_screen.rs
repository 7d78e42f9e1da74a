//! The Data screen: the workspace's tables with row counts, and a browser
//! for any table with virtual scrolling (rows are fetched a page at a time
//! by background jobs, only for the part of the table on screen).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use egui_extras::{Column, TableBuilder};

use super::audit_view::AuditView;
use super::ctx::{Msg, Request, ScreenCtx};
use super::erase_view::EraseView;
use super::import_wizard::{ImportMsg, ImportWizard};
use super::pii_view::PiiView;
use super::quality_view::QualityView;
use crate::app::jobs::JobKey;
use crate::model::group_thousands;
use crate::model::mask::Masker;
use crate::model::time::format_ts;
use crate::store::{Cell, ColumnInfo, Store, TablePage, WorkspaceInfo};

/// Rows fetched per job.
pub const PAGE_ROWS: u64 = 200;
/// Pages kept in memory per table.
const MAX_PAGES: usize = 64;

/// Answers of the Data screen's jobs.
pub enum DataMsg {
    TablePage {
        page: u64,
        result: Result<TablePage, String>,
    },
    Import(ImportMsg),
    Quality(Result<crate::ingest::quality::QualityReport, String>),
    /// The workspace's purchase event was changed.
    PurchaseEventSet(Result<PathBuf, String>),
    /// A customer was erased: what it did, or why not.
    Erased(Result<String, String>),
    /// The audit log, read.
    Audit(Result<Vec<crate::store::AuditEntry>, String>),
    /// The audit log written as CSV: where, or why not.
    AuditExported(Result<String, String>),
    /// The customer fields and whether each is personal.
    Pii(Result<Vec<crate::store::pii::PiiField>, String>),
    /// A field marked or unmarked personal.
    PiiSaved(Result<(), String>),
}

/// What the Data screen's centre shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataView {
    #[default]
    Table,
    Quality,
    Erase,
    Audit,
    Pii,
}

#[derive(Default)]
pub struct DataScreen {
    pub selected_table: Option<String>,
    /// What the centre shows when the import wizard is closed.
    pub view: DataView,
    pub import: ImportWizard,
    pub quality: QualityView,
    pub erase: EraseView,
    pub audit: AuditView,
    pub pii: PiiView,
    workspace: Option<PathBuf>,
    total_rows: u64,
    columns: Vec<ColumnInfo>,
    pages: BTreeMap<u64, TablePage>,
    requested: BTreeSet<u64>,
    failed: BTreeSet<u64>,
}

impl DataScreen {
    pub fn workspace_changed(&mut self, info: &WorkspaceInfo) {
        let keep = self.selected_table.clone().filter(|t| {
            self.workspace.as_ref() == Some(&info.path) && info.tables.iter().any(|s| &s.name == t)
        });
        let view = self.view;
        let import = std::mem::take(&mut self.import);
        let mut quality = std::mem::take(&mut self.quality);
        quality.invalidate();
        // After an erasure the same workspace is read again: its message stays.
        let same = self.workspace.as_ref() == Some(&info.path);
        let (view, erase) = if same {
            (view, std::mem::take(&mut self.erase))
        } else if view == DataView::Erase {
            (DataView::Table, EraseView::default())
        } else {
            (view, EraseView::default())
        };
        *self = DataScreen {
            workspace: Some(info.path.clone()),
            view,
            import,
            quality,
            erase,
            ..DataScreen::default()
        };
        if let Some(t) = keep.or_else(|| Some("customers".to_string())) {
            self.select(info, &t);
        }
    }

    fn select(&mut self, info: &WorkspaceInfo, table: &str) {
        self.selected_table = Some(table.to_string());
        self.total_rows = info
            .tables
            .iter()
            .find(|t| t.name == table)
            .map(|t| t.rows.max(0) as u64)
            .unwrap_or(0);
        self.columns.clear();
        self.pages.clear();
        self.requested.clear();
        self.failed.clear();
    }

    pub fn page_loaded(&mut self, page: u64, data: TablePage) {
        if self.selected_table.as_deref() != Some(data.table.as_str()) {
            return;
        }
        self.requested.remove(&page);
        if self.columns.is_empty() {
            self.columns = data.columns.clone();
        }
        self.pages.insert(page, data);
        // Keep memory bounded: drop the pages farthest from this one.
        while self.pages.len() > MAX_PAGES {
            let far = *self
                .pages
                .keys()
                .max_by_key(|p| p.abs_diff(page))
                .expect("pages is not empty");
            self.pages.remove(&far);
        }
    }

    pub fn page_failed(&mut self, page: u64) {
        self.requested.remove(&page);
        self.failed.insert(page);
    }

    fn cell(&self, row: u64, col: usize) -> Option<&Cell> {
        let page = self.pages.get(&(row / PAGE_ROWS))?;
        page.rows.get((row % PAGE_ROWS) as usize)?.get(col)
    }

    /// Cell `col` of `row` as shown: in demo mode, a personal field of a
    /// customer as their stand-in, addresses in any other text replaced,
    /// and import reports (which quote rows) hidden.
    fn shown(&self, row: u64, col: usize, text: String, mask: Option<&Masker>) -> String {
        let Some(m) = mask else { return text };
        let table = self.selected_table.as_deref().unwrap_or_default();
        let name = self.columns.get(col).map_or("", |c| c.name.as_str());
        match table {
            "customers" if m.is_pii(name) => {
                let key = self
                    .columns
                    .iter()
                    .position(|c| c.name == "external_id")
                    .and_then(|k| Some(format_cell(self.cell(row, k)?, &self.columns[k])))
                    .unwrap_or_default();
                m.show(name, &key, &text)
            }
            "imports" if name == "report" && !text.is_empty() => "(hidden in demo mode)".into(),
            _ => m.text(&text),
        }
    }

    /// True once the first page of the selected table is on screen.
    pub fn is_loaded(&self) -> bool {
        self.total_rows == 0 || self.pages.contains_key(&0)
    }

    /// Shows `view` in the centre, or the table again if it showed already.
    fn toggle(&mut self, view: DataView) {
        self.view = if self.view == view {
            DataView::Table
        } else {
            view
        };
        self.import.open = false;
    }

    /// Starts the import wizard on a file (picked or dropped).
    pub fn start_import(&mut self, path: PathBuf, ctx: &mut ScreenCtx<'_>) {
        self.import.start(path, ctx);
    }

    /// Applies a job's answer.
    pub fn handle(&mut self, msg: DataMsg, ctx: &mut ScreenCtx<'_>) {
        match msg {
            DataMsg::TablePage { page, result } => match result {
                Ok(p) => self.page_loaded(page, p),
                Err(e) => {
                    self.page_failed(page);
                    ctx.error(e);
                }
            },
            DataMsg::Import(m) => self.import.handle(m, ctx),
            DataMsg::Quality(r) => self.quality.result = Some(r),
            DataMsg::Erased(r) => self.erase.finished(r, ctx),
            DataMsg::Audit(r) => self.audit.entries = Some(r),
            DataMsg::AuditExported(r) => self.audit.exported = Some(r),
            DataMsg::Pii(r) => self.pii.fields = Some(r),
            DataMsg::PiiSaved(r) => self.pii.saved(r, ctx),
            // Traits follow the purchase event: reread and rebuild.
            DataMsg::PurchaseEventSet(r) => match r {
                Ok(ws) => ctx.requests.push(Request::OpenWorkspace(ws)),
                Err(e) => ctx.error(e),
            },
        }
    }

    /// The Data screen: tables on the left; a table, the import wizard or
    /// the data-quality view in the centre.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        let Some(info) = ctx.workspace.cloned() else {
            ui.centered_and_justified(|ui| {
                ui.spinner();
            });
            return;
        };
        egui::Panel::left("data_tables")
            .resizable(true)
            .default_size(220.0)
            .show(ui, |ui| self.tables_ui(ui, ctx, &info));
        egui::CentralPanel::default().show(ui, |ui| {
            if self.import.open {
                self.import.ui(ui, ctx);
            } else {
                match self.view {
                    DataView::Table => self.table_browser_ui(ui, ctx),
                    DataView::Quality => self.quality.ui(ui, ctx),
                    DataView::Erase => self.erase.ui(ui, ctx),
                    DataView::Audit => self.audit.ui(ui, ctx),
                    DataView::Pii => self.pii.ui(ui, ctx),
                }
            }
        });
        if ui.ctx().input(|i| !i.raw.hovered_files.is_empty()) {
            egui::Area::new(egui::Id::unique("drop_hint"))
                .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
                .show(ui.ctx(), |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.heading("Drop the file to import it");
                    });
                });
        }
    }

    fn request_page(&mut self, ctx: &mut ScreenCtx<'_>, table: String, page: u64) {
        let Some(ws) = ctx.workspace_path() else {
            return;
        };
        self.requested.insert(page);
        let label = format!("Reading {table}");
        let key = JobKey::TablePage {
            table: table.clone(),
            page,
        };
        ctx.jobs.spawn(key, label, move |_| {
            let result = Store::open_read_only(&ws)
                .and_then(|s| s.table_page(&table, page * PAGE_ROWS, PAGE_ROWS))
                .map_err(|e| e.to_string());
            Msg::Data(DataMsg::TablePage { page, result })
        });
    }
}

pub fn format_cell(cell: &Cell, column: &ColumnInfo) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Int(n) if column.is_timestamp => format_ts(*n),
        Cell::Int(n) => n.to_string(),
        Cell::Real(x) => {
            if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{x:.0}")
            } else {
                format!("{x:.2}")
            }
        }
        Cell::Text(s) => s.clone(),
    }
}

impl DataScreen {
    fn tables_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>, info: &WorkspaceInfo) {
        ui.horizontal(|ui| {
            if ui
                .button("Import file…")
                .on_hover_text(
                    "CSV, TSV, JSON Lines, Parquet or Excel; or drop a file on the window",
                )
                .clicked()
            {
                ImportWizard::pick(ctx);
            }
            if ui
                .selectable_label(self.view == DataView::Quality, "Data quality")
                .clicked()
            {
                self.toggle(DataView::Quality);
            }
        });
        if ui
            .selectable_label(self.view == DataView::Erase, "Erase a customer…")
            .on_hover_text("The right to erasure: a customer and every copy of them, for good")
            .clicked()
        {
            self.toggle(DataView::Erase);
        }
        if ui
            .selectable_label(self.view == DataView::Audit, "Audit log")
            .on_hover_text("Imports, exports and erasures: when, by whom, how many")
            .clicked()
        {
            self.audit.invalidate();
            self.toggle(DataView::Audit);
        }
        if ui
            .selectable_label(self.view == DataView::Pii, "Personal fields")
            .on_hover_text("Which customer fields demo mode masks")
            .clicked()
        {
            self.pii.invalidate();
            self.toggle(DataView::Pii);
        }
        ui.separator();
        ui.heading("Tables");
        ui.add_space(4.0);
        egui::Grid::new("tables_grid")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for t in &info.tables {
                    let selected = self.selected_table.as_deref() == Some(t.name.as_str());
                    if ui.selectable_label(selected, t.name.as_str()).clicked() {
                        self.view = DataView::Table;
                        self.import.open = false;
                        if !selected {
                            self.select(info, &t.name);
                        }
                    }
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.weak(format_count(t.rows));
                    });
                    ui.end_row();
                }
            });
        ui.add_space(8.0);
        ui.separator();
        if let Some((a, b)) = info.event_range {
            ui.weak(format!(
                "Events from {} to {}",
                &format_ts(a)[..10],
                &format_ts(b)[..10]
            ));
        }
        ui.weak(format!("Schema version {}", info.schema_version));
        purchase_event_ui(ui, ctx, info);
    }
}

/// Which event is the purchase: RFM and the order traits read it.
fn purchase_event_ui(ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>, info: &WorkspaceInfo) {
    if info.event_names.is_empty() {
        return;
    }
    ui.add_space(6.0);
    let mut chosen = info.purchase_event.clone();
    ui.horizontal(|ui| {
        ui.label("Purchase event")
            .on_hover_text("The event RFM and every order trait count as a purchase");
        egui::ComboBox::from_id_salt("purchase_event")
            .selected_text(&chosen)
            .show_ui(ui, |ui| {
                for name in &info.event_names {
                    ui.selectable_value(&mut chosen, name.clone(), name);
                }
            })
            .response
            .accessible_name("Purchase event");
    });
    if !info.event_names.contains(&info.purchase_event) {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "No events are named {:?}: RFM sees no purchases. Pick the purchase event.",
                info.purchase_event
            ),
        );
    }
    if chosen != info.purchase_event {
        let ws = info.path.clone();
        ctx.jobs.spawn(
            JobKey::PurchaseEvent,
            "Setting the purchase event",
            move |_| {
                let result = Store::open(&ws)
                    .and_then(|mut s| s.set_purchase_event(&chosen))
                    .map(|_| ws)
                    .map_err(|e| e.to_string());
                Msg::Data(DataMsg::PurchaseEventSet(result))
            },
        );
    }
}

/// `1234567` → `1,234,567`.
pub fn format_count(n: i64) -> String {
    group_thousands(n)
}

impl DataScreen {
    /// The audit log gained an entry: read it again when shown.
    pub fn audit_changed(&mut self) {
        self.audit.invalidate();
    }

    fn table_browser_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        let Some(table) = self.selected_table.clone() else {
            ui.label("Pick a table on the left.");
            return;
        };
        let rows = if self.total_rows == 1 { "row" } else { "rows" };
        ui.heading(format!(
            "{table} · {} {rows}",
            format_count(self.total_rows as i64)
        ));
        ui.separator();
        if self.total_rows == 0 {
            ui.label("This table is empty.");
            return;
        }
        if !self.pages.contains_key(&0) {
            if !self.requested.contains(&0) && !self.failed.contains(&0) {
                self.request_page(ctx, table, 0);
            }
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Loading rows…");
            });
            return;
        }
        let columns = self.columns.clone();
        let total = self.total_rows as usize;
        let mask = ctx.mask.cloned();
        let mask = mask.as_deref();
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        let mut wanted = BTreeSet::new();
        egui::ScrollArea::horizontal().show(ui, |ui| {
            let mut builder = TableBuilder::new(ui)
                .id_salt(("table_browser", &table))
                .striped(true)
                .resizable(true)
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(Column::auto().at_least(56.0));
            for _ in &columns {
                builder = builder.column(Column::initial(140.0).at_least(40.0).clip(true));
            }
            builder
                .header(row_height + 2.0, |mut header| {
                    header.col(|ui| {
                        ui.strong("#");
                    });
                    for c in &columns {
                        header.col(|ui| {
                            ui.strong(&c.name);
                        });
                    }
                })
                .body(|body| {
                    body.rows(row_height, total, |mut row| {
                        let r = row.index() as u64;
                        row.col(|ui| {
                            ui.weak((r + 1).to_string());
                        });
                        let loaded = self.pages.contains_key(&(r / PAGE_ROWS));
                        if !loaded {
                            wanted.insert(r / PAGE_ROWS);
                        }
                        for (i, c) in columns.iter().enumerate() {
                            row.col(|ui| match self.cell(r, i) {
                                Some(cell) => {
                                    let text = self.shown(r, i, format_cell(cell, c), mask);
                                    if text.len() > 40 {
                                        ui.label(format!("{}…", truncate(&text, 40)))
                                            .on_hover_text(text);
                                    } else {
                                        ui.label(text);
                                    }
                                }
                                None if loaded => {}
                                None => {
                                    ui.weak("…");
                                }
                            });
                        }
                    });
                });
        });
        for page in wanted {
            if !self.requested.contains(&page) && !self.failed.contains(&page) {
                self.request_page(ctx, table.clone(), page);
            }
        }
    }
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_format_by_column() {
        let ts = ColumnInfo {
            name: "time".into(),
            is_timestamp: true,
        };
        let plain = ColumnInfo {
            name: "value".into(),
            is_timestamp: false,
        };
        assert_eq!(format_cell(&Cell::Int(0), &ts), "1970-01-01 00:00:00");
        assert_eq!(format_cell(&Cell::Real(12.5), &plain), "12.50");
        assert_eq!(format_cell(&Cell::Real(3.0), &plain), "3");
        assert_eq!(format_cell(&Cell::Null, &plain), "");
        assert_eq!(truncate("héllo", 2), "hé");
    }
}
