//! The field picker: every field a condition can test, grouped by source
//! (Profile, Events, Traits, Segments), with type-to-search.

use serde_json::{Value as Json, json};

use crate::engine::Schema;
use crate::engine::rule::{Node, TraitKind};
use crate::model::FieldType;

/// What a condition currently tests, for the picker's button.
pub fn current_label(node: &Node, schema: &Schema) -> String {
    match node {
        Node::Profile(p) => {
            let label = schema
                .fields
                .iter()
                .find(|f| f.name == p.field)
                .map(|f| f.label.clone())
                .unwrap_or_else(|| p.field.clone());
            format!("Profile · {label}")
        }
        Node::Event(e) => format!("Event · {}", e.event),
        Node::Trait(t) => match (&t.kind, &t.score) {
            (TraitKind::Score, Some(s)) => format!("Score · {s}"),
            (k, _) => format!("Trait · {}", k.label()),
        },
        Node::Segment(s) => format!("Segment · {}", s.segment),
        Node::Group(_) => "Group".into(),
    }
}

fn profile_default(name: &str, ty: FieldType) -> Json {
    let (op, value) = match ty {
        FieldType::Text => ("is_set", Json::Null),
        FieldType::Number => ("greater_than", json!(0)),
        FieldType::Date | FieldType::Timestamp => ("within_last_days", json!(30)),
        FieldType::Bool => ("is_true", Json::Null),
    };
    let mut o = json!({"type": "profile", "field": name, "op": op});
    if !value.is_null() {
        o["value"] = value;
    }
    o
}

fn trait_default(kind: TraitKind) -> Json {
    let (op, value) = match kind {
        TraitKind::RfmRecencyDays => ("at_most", json!(30)),
        TraitKind::RfmFrequency => ("at_least", json!(2)),
        TraitKind::RfmMonetary => ("greater_than", json!(500)),
        TraitKind::RfmSegment => ("equals", json!("Champions")),
        TraitKind::EngagementScore => ("at_least", json!(50)),
        _ => ("at_least", json!(4)),
    };
    json!({"type": "trait", "trait": kind.key(), "op": op, "value": value})
}

/// One entry of the picker.
struct Item {
    group: &'static str,
    label: String,
    node: Json,
}

fn items(schema: &Schema) -> Vec<Item> {
    let mut out = Vec::new();
    for f in &schema.fields {
        out.push(Item {
            group: "Profile",
            label: f.label.clone(),
            node: profile_default(&f.name, f.field_type),
        });
    }
    for e in &schema.event_names {
        out.push(Item {
            group: "Events",
            label: e.clone(),
            node: json!({"type": "event", "event": e, "aggregate": "count", "op": "at_least",
                         "value": 1, "window": {"kind": "last_days", "days": 30}}),
        });
    }
    for k in TraitKind::ALL {
        if k != TraitKind::Score {
            out.push(Item {
                group: "Traits",
                label: k.label().to_string(),
                node: trait_default(k),
            });
        }
    }
    let mut scores: Vec<&String> = schema.scores.keys().collect();
    scores.sort();
    for s in scores {
        out.push(Item {
            group: "Traits",
            label: format!("Score {s}"),
            node: json!({"type": "trait", "trait": "score", "score": s, "op": "at_least", "value": 10}),
        });
    }
    let mut segments: Vec<&String> = schema.segments.keys().collect();
    segments.sort();
    for s in segments {
        out.push(Item {
            group: "Segments",
            label: s.clone(),
            node: json!({"type": "segment", "segment": s}),
        });
    }
    out
}

/// The picker button; returns the new condition if another field was picked.
pub fn field_picker_ui(
    ui: &mut egui::Ui,
    node: &Node,
    schema: &Schema,
    salt: &str,
) -> Option<Node> {
    let mut picked = None;
    let search_id = egui::Id::unique(("field_search", salt));
    let r = ui.menu_button(current_label(node, schema), |ui| {
        ui.set_min_width(240.0);
        let mut search: String = ui.data_mut(|d| d.get_temp(search_id).unwrap_or_default());
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut search)
                    .hint_text("Search fields")
                    .desired_width(220.0),
            )
            .accessible_name("Search fields");
        field.request_focus();
        ui.data_mut(|d| d.insert_temp(search_id, search.clone()));
        let needle = search.to_lowercase();
        egui::ScrollArea::vertical()
            .max_height(360.0)
            .show(ui, |ui| {
                let mut last_group = "";
                for item in items(schema) {
                    if !needle.is_empty()
                        && !item.label.to_lowercase().contains(&needle)
                        && !item.group.to_lowercase().contains(&needle)
                    {
                        continue;
                    }
                    if item.group != last_group {
                        ui.add_space(2.0);
                        ui.strong(item.group);
                        last_group = item.group;
                    }
                    if ui.button(&item.label).clicked() {
                        picked = serde_json::from_value::<Node>(item.node.clone()).ok();
                        ui.data_mut(|d| d.remove::<String>(search_id));
                        ui.close();
                    }
                }
            });
    });
    r.response.on_hover_text("Choose what this condition tests");
    picked.map(|mut n| {
        n.set_not(node.not());
        n
    })
}
