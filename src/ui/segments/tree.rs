//! The rule tree: nested ALL / ANY groups with a coloured bar per depth, a
//! NOT toggle on every node, the exact count and share at every node, and
//! add / duplicate / delete / move.

use std::collections::HashMap;

use super::SegmentsScreen;
use super::condition::condition_ui;
use crate::app::segments::counts_by_path;
use crate::engine::edit;
use crate::engine::rule::{Combine, Node};
use crate::engine::{RuleError, Schema};
use crate::ui::data_screen::format_count;

/// What the user did to the tree this frame.
pub enum TreeAction {
    ToggleNot(Vec<usize>),
    SetCombine(Vec<usize>, Combine),
    AddCondition(Vec<usize>),
    AddGroup(Vec<usize>),
    Duplicate(Vec<usize>),
    Remove(Vec<usize>),
    Move(Vec<usize>, isize),
    Replace {
        addr: Vec<usize>,
        node: Node,
        typing: bool,
    },
}

const DEPTH_COLORS: [egui::Color32; 4] = [
    egui::Color32::from_rgb(78, 121, 167),
    egui::Color32::from_rgb(242, 142, 43),
    egui::Color32::from_rgb(89, 161, 79),
    egui::Color32::from_rgb(176, 122, 161),
];

struct View<'a> {
    schema: &'a Schema,
    counts: Option<HashMap<crate::engine::resolve::NodePath, (usize, f64)>>,
    stale: bool,
    error: Option<&'a RuleError>,
}

impl View<'_> {
    /// The count badge, in a fixed-width column so counts line up.
    fn badge_ui(&self, ui: &mut egui::Ui, path: &str, in_group: Option<Combine>) {
        let width = 150.0;
        let (rect, _) = ui.allocate_exact_size(
            egui::vec2(width, ui.spacing().interact_size.y),
            egui::Sense::hover(),
        );
        let mut child = ui.new_child(
            egui::UiBuilder::new()
                .max_rect(rect)
                .layout(egui::Layout::right_to_left(egui::Align::Center)),
        );
        self.badge_text_ui(&mut child, path, in_group);
    }

    fn badge_text_ui(&self, ui: &mut egui::Ui, path: &str, in_group: Option<Combine>) {
        let text = match self.counts.as_ref().and_then(|c| c.get(path)) {
            Some((count, share)) => {
                let share_text = match in_group {
                    None => format!("{:.1}% of all", share * 100.0),
                    Some(Combine::All) => format!("{:.1}% kept", share * 100.0),
                    Some(Combine::Any) => format!("{:.1}% of group", share * 100.0),
                };
                format!("{} · {share_text}", format_count(*count as i64))
            }
            None => "…".to_string(),
        };
        let rich = egui::RichText::new(text).monospace();
        let r = if self.stale {
            ui.label(rich.weak())
        } else {
            ui.label(rich.strong())
        };
        r.on_hover_text(match in_group {
            None => "Customers in the segment, and their share of all customers",
            Some(Combine::All) => "Customers meeting this, and the share of them the group keeps",
            Some(Combine::Any) => "Customers meeting this, and their share of the group",
        });
    }

    /// The error, if it is about this node (not about a child).
    fn error_at(&self, path: &str) -> Option<&RuleError> {
        self.error.filter(|e| {
            e.path == path
                || (e.path.starts_with(&format!("{path}."))
                    && !e.path[path.len() + 1..].starts_with("children["))
        })
    }
}

pub fn rule_tree_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen) {
    let Some(schema) = s.schema.clone() else {
        return;
    };
    let Some(draft) = s.draft() else {
        return;
    };
    let root = draft.history.rule.root.clone();
    let key = draft.key;
    let counts = match &s.eval.result {
        Some((k, r)) if *k == key => Some(counts_by_path(&r.evaluation)),
        _ => None,
    };
    let view = View {
        schema: &schema,
        counts,
        stale: s.eval.stale || s.eval.running,
        error: s.eval.error.as_ref(),
    };
    let mut actions = Vec::new();
    let mut addr = Vec::new();
    node_ui(ui, &root, &mut addr, None, 0, &view, &mut actions);
    // A rule error at a node that is not drawn (a referenced segment).
    if let Some(e) = view.error
        && !e.path.starts_with("root")
    {
        ui.colored_label(ui.visuals().error_fg_color, e.to_string());
    }
    apply(s, actions);
}

/// Applies tree edits to the current draft, as the builder does (public for
/// the UI benchmark, which edits the same way).
pub fn apply(s: &mut SegmentsScreen, actions: Vec<TreeAction>) {
    if actions.is_empty() {
        return;
    }
    let mut typed = false;
    let Some(d) = s.draft_mut() else {
        return;
    };
    for a in actions {
        match a {
            TreeAction::ToggleNot(addr) => {
                d.history.edit(|r| edit::toggle_not(r, &addr));
            }
            TreeAction::SetCombine(addr, c) => {
                d.history.edit(|r| edit::set_combine(r, &addr, c));
            }
            TreeAction::AddCondition(addr) => {
                d.history
                    .edit(|r| edit::add_child(r, &addr, edit::default_condition()));
            }
            TreeAction::AddGroup(addr) => {
                d.history.edit(|r| {
                    let g = edit::add_child(r, &addr, edit::empty_group(Combine::Any))?;
                    edit::add_child(r, &g, edit::default_condition())
                });
            }
            TreeAction::Duplicate(addr) => {
                d.history.edit(|r| edit::duplicate(r, &addr));
            }
            TreeAction::Remove(addr) => {
                d.history.edit(|r| edit::remove(r, &addr));
            }
            TreeAction::Move(addr, delta) => {
                d.history.edit(|r| edit::move_by(r, &addr, delta));
            }
            TreeAction::Replace { addr, node, typing } => {
                let merge = typing && app_last_typing_is(d, &addr);
                let set = |r: &mut Node| {
                    if let Some(n) = edit::node_at_mut(r, &addr) {
                        *n = node;
                    }
                };
                if merge {
                    d.history.edit_merged(set);
                } else {
                    d.history.edit(set);
                }
                LAST_TYPING.with(|l| *l.borrow_mut() = typing.then(|| (d.key, addr.clone())));
                typed |= typing;
            }
        }
        if !typed {
            LAST_TYPING.with(|l| *l.borrow_mut() = None);
        }
    }
    if typed {
        s.edited();
    } else {
        s.edited_now();
    }
}

thread_local! {
    /// The field last typed into, so that a run of keystrokes in one field
    /// is one undo step.
    static LAST_TYPING: std::cell::RefCell<Option<(i64, Vec<usize>)>> =
        const { std::cell::RefCell::new(None) };
}

fn app_last_typing_is(d: &super::Draft, addr: &[usize]) -> bool {
    LAST_TYPING.with(|l| {
        l.borrow()
            .as_ref()
            .is_some_and(|(k, a)| *k == d.key && a.as_slice() == addr)
    })
}

fn not_toggle_ui(ui: &mut egui::Ui, not: bool, addr: &[usize], actions: &mut Vec<TreeAction>) {
    let text = egui::RichText::new("NOT").small().strong();
    let text = if not {
        text.color(ui.visuals().error_fg_color)
    } else {
        text.weak()
    };
    if ui
        .selectable_label(not, text)
        .on_hover_text("Negate: customers who do not meet this")
        .clicked()
    {
        actions.push(TreeAction::ToggleNot(addr.to_vec()));
    }
}

/// The "…" menu of a node: move, duplicate, delete.
fn row_menu_ui(ui: &mut egui::Ui, addr: &[usize], actions: &mut Vec<TreeAction>) {
    let r = ui.menu_button("…", |ui| {
        for (label, action) in [
            ("Move up", TreeAction::Move(addr.to_vec(), -1)),
            ("Move down", TreeAction::Move(addr.to_vec(), 1)),
            ("Duplicate", TreeAction::Duplicate(addr.to_vec())),
            ("Delete", TreeAction::Remove(addr.to_vec())),
        ] {
            if ui.button(label).clicked() {
                actions.push(action);
                ui.close();
            }
        }
    });
    r.response.on_hover_text("Move, duplicate or delete");
}

fn node_ui(
    ui: &mut egui::Ui,
    node: &Node,
    addr: &mut Vec<usize>,
    parent: Option<Combine>,
    depth: usize,
    view: &View<'_>,
    actions: &mut Vec<TreeAction>,
) {
    let path = edit::path_string(addr);
    ui.push_id(&path, |ui| match node {
        Node::Group(g) => {
            let color = DEPTH_COLORS[depth % DEPTH_COLORS.len()];
            let frame = egui::Frame::new()
                .inner_margin(egui::Margin {
                    left: 12,
                    right: 6,
                    top: 4,
                    bottom: 4,
                })
                .fill(ui.visuals().faint_bg_color)
                .corner_radius(4.0)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        view.badge_ui(ui, &path, parent);
                        not_toggle_ui(ui, g.not, addr, actions);
                        for c in [Combine::All, Combine::Any] {
                            let label = if c == Combine::All { "ALL" } else { "ANY" };
                            if ui
                                .selectable_label(g.combine == c, label)
                                .on_hover_text(if c == Combine::All {
                                    "Customers must meet every condition (AND)"
                                } else {
                                    "Customers must meet at least one condition (OR)"
                                })
                                .clicked()
                                && g.combine != c
                            {
                                actions.push(TreeAction::SetCombine(addr.clone(), c));
                            }
                        }
                        ui.weak("of the following");
                        if !addr.is_empty() {
                            row_menu_ui(ui, addr, actions);
                        }
                    });
                    if let Some(e) = view.error_at(&path) {
                        ui.colored_label(ui.visuals().error_fg_color, &e.message);
                    }
                    for (i, c) in g.children.iter().enumerate() {
                        addr.push(i);
                        node_ui(ui, c, addr, Some(g.combine), depth + 1, view, actions);
                        addr.pop();
                    }
                    if g.children.is_empty() {
                        ui.weak(if g.combine == Combine::All {
                            "No conditions: every customer."
                        } else {
                            "No conditions: no customer."
                        });
                    }
                    ui.horizontal(|ui| {
                        if ui.button("+ Condition").clicked() {
                            actions.push(TreeAction::AddCondition(addr.clone()));
                        }
                        if ui
                            .button("+ Group")
                            .on_hover_text("A nested group, for OR alternatives")
                            .clicked()
                        {
                            actions.push(TreeAction::AddGroup(addr.clone()));
                        }
                    });
                });
            let r = frame.response.rect;
            ui.painter().rect_filled(
                egui::Rect::from_min_max(r.min, egui::pos2(r.min.x + 4.0, r.max.y)),
                2.0,
                color,
            );
            ui.add_space(2.0);
        }
        leaf => {
            ui.horizontal(|ui| {
                view.badge_ui(ui, &path, parent);
                ui.vertical(|ui| {
                    ui.horizontal_wrapped(|ui| {
                        not_toggle_ui(ui, leaf.not(), addr, actions);
                        if let Some(e) = condition_ui(ui, leaf, view.schema, &path) {
                            actions.push(TreeAction::Replace {
                                addr: addr.clone(),
                                node: e.node,
                                typing: e.typing,
                            });
                        }
                        row_menu_ui(ui, addr, actions);
                    });
                });
            });
            if let Some(e) = view.error_at(&path) {
                let field = e.path.strip_prefix(&path).unwrap_or("");
                let msg = if field.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", field.trim_start_matches('.'), e.message)
                };
                ui.colored_label(ui.visuals().error_fg_color, msg);
            }
        }
    });
}
