//! The inline condition editor: field picker, operator, value, and for
//! events the aggregate, time window and property filters.
//!
//! Values are kept as typed: a number field holding "12a" stays "12a" in
//! the rule, the rule does not resolve, and the error is shown at the node.

use serde_json::{Value as Json, json};

use super::picker::field_picker_ui;
use crate::engine::Schema;
use crate::engine::resolve::{RFM_SEGMENTS, fmt_num, ops_for};
use crate::engine::rule::*;
use crate::model::FieldType;

/// An edit of one condition: the new node, and whether it came from typing
/// (typing in one field is one undo step).
pub struct Edited {
    pub node: Node,
    pub typing: bool,
}

/// Draws the editor for a condition; returns the edited node if changed.
pub fn condition_ui(ui: &mut egui::Ui, node: &Node, schema: &Schema, salt: &str) -> Option<Edited> {
    if let Some(n) = field_picker_ui(ui, node, schema, salt) {
        return Some(Edited {
            node: n,
            typing: false,
        });
    }
    let mut n = node.clone();
    let mut typing = false;
    let changed = match &mut n {
        Node::Profile(p) => {
            let ty = schema
                .fields
                .iter()
                .find(|f| f.name == p.field)
                .map(|f| f.field_type)
                .unwrap_or(FieldType::Text);
            let mut c = op_ui(ui, &mut p.op, &mut p.value, ops_for(ty), ty, salt);
            let (vc, vt) = value_ui(ui, ty, p.op, &mut p.value, salt);
            c |= vc;
            typing |= vt;
            c
        }
        Node::Event(e) => event_ui(ui, e, salt, &mut typing),
        Node::Trait(t) => {
            let mut c = false;
            if t.kind == TraitKind::Score {
                let mut names: Vec<&String> = schema.scores.keys().collect();
                names.sort();
                let current = t.score.clone().unwrap_or_default();
                egui::ComboBox::from_id_salt(("score", salt))
                    .selected_text(&current)
                    .show_ui(ui, |ui| {
                        for name in names {
                            if ui
                                .selectable_label(*name == current, name.as_str())
                                .clicked()
                            {
                                t.score = Some(name.clone());
                                c = true;
                            }
                        }
                    })
                    .response
                    .accessible_name("Scoring model");
            }
            let ty = if t.kind == TraitKind::RfmSegment {
                FieldType::Text
            } else {
                FieldType::Number
            };
            let ops: &[Op] = if t.kind == TraitKind::RfmSegment {
                &[Op::Equals, Op::NotEquals, Op::InList]
            } else {
                &NUMBER_COMPARE
            };
            c |= op_ui(ui, &mut t.op, &mut t.value, ops, ty, salt);
            if t.kind == TraitKind::RfmSegment && t.op != Op::InList {
                let current = t.value.as_str().unwrap_or("").to_string();
                egui::ComboBox::from_id_salt(("rfm", salt))
                    .selected_text(&current)
                    .show_ui(ui, |ui| {
                        for s in RFM_SEGMENTS {
                            if ui.selectable_label(current == s, s).clicked() {
                                t.value = json!(s);
                                c = true;
                            }
                        }
                    })
                    .response
                    .accessible_name("RFM segment");
            } else {
                let (vc, vt) = value_ui(ui, ty, t.op, &mut t.value, salt);
                c |= vc;
                typing |= vt;
            }
            c
        }
        Node::Segment(_) | Node::Group(_) => false,
    };
    changed.then_some(Edited { node: n, typing })
}

const NUMBER_COMPARE: [Op; 7] = [
    Op::Equals,
    Op::NotEquals,
    Op::LessThan,
    Op::AtMost,
    Op::GreaterThan,
    Op::AtLeast,
    Op::Between,
];

/// A value that suits `op`, keeping what it can of the old one.
fn value_for(ty: FieldType, op: Op, old: &Json) -> Json {
    if !op.takes_value() {
        return Json::Null;
    }
    let first = match old {
        Json::Array(a) => a.first().cloned().unwrap_or(Json::Null),
        other => other.clone(),
    };
    match (ty, op) {
        (FieldType::Date | FieldType::Timestamp, Op::WithinLastDays | Op::MoreThanDaysAgo) => {
            if first.is_number() {
                first
            } else {
                json!(30)
            }
        }
        (FieldType::Date | FieldType::Timestamp, Op::Between) => {
            let d = if first.is_string() {
                first
            } else {
                json!(today())
            };
            json!([d.clone(), d])
        }
        (FieldType::Date | FieldType::Timestamp, _) => {
            if first.as_str().is_some_and(|s| s.len() == 10) {
                first
            } else {
                json!(today())
            }
        }
        (_, Op::Between) => {
            let x = if first.is_null() { json!(0) } else { first };
            json!([x.clone(), x])
        }
        (_, Op::InList) => {
            if first.is_null() || first == json!("") {
                json!([])
            } else {
                json!([first])
            }
        }
        (FieldType::Number, _) => {
            if first.is_null() {
                json!(0)
            } else {
                first
            }
        }
        _ => {
            if first.is_null() {
                json!("")
            } else {
                first
            }
        }
    }
}

fn today() -> String {
    crate::model::time::ts_to_date(crate::model::time::now_utc()).to_string()
}

/// The operator combo; adjusts the value when the operator changes.
fn op_ui(
    ui: &mut egui::Ui,
    op: &mut Op,
    value: &mut Json,
    ops: &[Op],
    ty: FieldType,
    salt: &str,
) -> bool {
    let before = *op;
    egui::ComboBox::from_id_salt(("op", salt))
        .selected_text(op.phrase())
        .show_ui(ui, |ui| {
            for o in ops {
                ui.selectable_value(op, *o, o.phrase());
            }
        })
        .response
        .accessible_name("Operator");
    if *op != before {
        *value = value_for(ty, *op, value);
        true
    } else {
        false
    }
}

/// A number as the user sees it: numbers formatted, anything else as typed.
fn number_text(v: &Json) -> String {
    match v {
        Json::Number(n) => n.as_f64().map(fmt_num).unwrap_or_default(),
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// What typing into a number field stores: a number when the text is one
/// as it would be shown, the text itself otherwise (so "2." keeps its dot,
/// and "12a" is reported at the node).
fn number_json(text: &str) -> Json {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && fmt_num(x) == text.trim() => json!(x),
        _ => json!(text),
    }
}

fn number_field(ui: &mut egui::Ui, v: &mut Json, hint: &str, width: f32) -> bool {
    let mut text = number_text(v);
    let r = ui
        .add(
            egui::TextEdit::singleline(&mut text)
                .hint_text(hint)
                .desired_width(width),
        )
        .accessible_name(hint);
    if r.changed() {
        *v = number_json(&text);
        true
    } else {
        false
    }
}

fn text_field(ui: &mut egui::Ui, v: &mut Json, hint: &str) -> bool {
    let mut text = match &*v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    };
    let r = ui
        .add(
            egui::TextEdit::singleline(&mut text)
                .hint_text(hint)
                .desired_width(140.0),
        )
        .accessible_name(hint);
    if r.changed() {
        *v = json!(text);
        true
    } else {
        false
    }
}

fn to_jiff(s: &str) -> jiff::civil::Date {
    s.parse::<jiff::civil::Date>()
        .unwrap_or_else(|_| today().parse().unwrap_or(jiff::civil::date(2026, 1, 1)))
}

fn date_field(ui: &mut egui::Ui, v: &mut Json, salt: &str) -> bool {
    let mut d = to_jiff(v.as_str().unwrap_or(""));
    let before = d;
    ui.add(
        egui_extras::DatePickerButton::new(&mut d)
            .id_salt(salt)
            .calendar_week(false),
    );
    if d != before || !v.is_string() {
        *v = json!(d.to_string());
        d != before
    } else {
        false
    }
}

/// A list of values as removable chips plus a field to add one.
fn chips_ui(ui: &mut egui::Ui, v: &mut Json, numbers: bool, salt: &str) -> bool {
    let mut items: Vec<Json> = v.as_array().cloned().unwrap_or_default();
    let mut changed = false;
    let mut remove = None;
    for (i, item) in items.iter().enumerate() {
        let text = number_text(item);
        if ui
            .small_button(format!("{text} ×"))
            .on_hover_text(format!("Remove {text}"))
            .clicked()
        {
            remove = Some(i);
        }
    }
    if let Some(i) = remove {
        items.remove(i);
        changed = true;
    }
    let id = egui::Id::unique(("chip_input", salt));
    let mut input: String = ui.data_mut(|d| d.get_temp(id).unwrap_or_default());
    let r = ui
        .add(
            egui::TextEdit::singleline(&mut input)
                .hint_text("Add value")
                .desired_width(90.0),
        )
        .accessible_name("Add value");
    if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) && !input.trim().is_empty() {
        items.push(if numbers {
            number_json(input.trim())
        } else {
            json!(input.trim())
        });
        input.clear();
        changed = true;
    }
    ui.data_mut(|d| d.insert_temp(id, input));
    if changed {
        *v = Json::Array(items);
    }
    changed
}

/// The value editor for a type and operator: (changed, from typing).
pub fn value_ui(
    ui: &mut egui::Ui,
    ty: FieldType,
    op: Op,
    v: &mut Json,
    salt: &str,
) -> (bool, bool) {
    if !op.takes_value() {
        return (false, false);
    }
    match (ty, op) {
        (_, Op::InList) => (chips_ui(ui, v, ty == FieldType::Number, salt), false),
        (FieldType::Date | FieldType::Timestamp, Op::WithinLastDays | Op::MoreThanDaysAgo) => {
            let c = number_field(ui, v, "Days", 50.0);
            ui.label(if op == Op::MoreThanDaysAgo {
                "days ago"
            } else {
                "days"
            });
            (c, c)
        }
        (FieldType::Date | FieldType::Timestamp, Op::Between) => {
            let mut pair = v
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![json!(today()), json!(today())]);
            pair.resize(2, json!(today()));
            let mut c = date_field(ui, &mut pair[0], &format!("{salt}/from"));
            ui.label("and");
            c |= date_field(ui, &mut pair[1], &format!("{salt}/to"));
            if c || !v.is_array() {
                *v = Json::Array(pair);
            }
            (c, false)
        }
        (FieldType::Date | FieldType::Timestamp, _) => (date_field(ui, v, salt), false),
        (_, Op::Between) => {
            let mut pair = v
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![json!(0), json!(0)]);
            pair.resize(2, json!(0));
            let mut c = number_field(ui, &mut pair[0], "Low", 60.0);
            ui.label("and");
            c |= number_field(ui, &mut pair[1], "High", 60.0);
            if c {
                *v = Json::Array(pair);
            }
            (c, c)
        }
        (FieldType::Number, _) => {
            let c = number_field(ui, v, "Number", 70.0);
            (c, c)
        }
        _ => {
            let c = text_field(
                ui,
                v,
                if op == Op::Matches {
                    "Pattern"
                } else {
                    "Value"
                },
            );
            (c, c)
        }
    }
}

fn window_ui(ui: &mut egui::Ui, w: &mut Window, salt: &str, typing: &mut bool) -> bool {
    let kinds = [
        ("ever", "ever"),
        ("last_days", "in the last … days"),
        ("last_hours", "in the last … hours"),
        ("this_month", "this month"),
        ("between", "between dates"),
        ("more_than_days_ago", "more than … days ago"),
    ];
    let current = match w {
        Window::Ever => "ever",
        Window::LastDays { .. } => "last_days",
        Window::LastHours { .. } => "last_hours",
        Window::ThisMonth => "this_month",
        Window::Between { .. } => "between",
        Window::MoreThanDaysAgo { .. } => "more_than_days_ago",
    };
    let mut picked = current;
    egui::ComboBox::from_id_salt(("window", salt))
        .selected_text(
            kinds
                .iter()
                .find(|k| k.0 == current)
                .map(|k| k.1)
                .unwrap_or(""),
        )
        .show_ui(ui, |ui| {
            for (k, label) in kinds {
                ui.selectable_value(&mut picked, k, label);
            }
        })
        .response
        .accessible_name("Time window");
    let mut changed = false;
    if picked != current {
        *w = match picked {
            "ever" => Window::Ever,
            "last_days" => Window::LastDays { days: 30 },
            "last_hours" => Window::LastHours { hours: 48 },
            "this_month" => Window::ThisMonth,
            "between" => Window::Between {
                from: today(),
                to: today(),
            },
            _ => Window::MoreThanDaysAgo { days: 90 },
        };
        changed = true;
    }
    let mut days_field = |ui: &mut egui::Ui, n: &mut i64, unit: &str| {
        let mut v = json!(*n);
        let c = number_field(ui, &mut v, unit, 44.0);
        ui.label(unit);
        if c {
            // Windows need whole numbers; anything else keeps the old value.
            if let Some(x) = v.as_f64().filter(|x| x.fract() == 0.0) {
                *n = x as i64;
            }
            *typing = true;
        }
        c
    };
    match w {
        Window::LastDays { days } | Window::MoreThanDaysAgo { days } => {
            changed |= days_field(ui, days, "days");
        }
        Window::LastHours { hours } => changed |= days_field(ui, hours, "hours"),
        Window::Between { from, to } => {
            let mut a = json!(from.clone());
            let mut b = json!(to.clone());
            let c1 = date_field(ui, &mut a, &format!("{salt}/wfrom"));
            ui.label("and");
            let c2 = date_field(ui, &mut b, &format!("{salt}/wto"));
            if c1 || c2 {
                *from = a.as_str().unwrap_or("").to_string();
                *to = b.as_str().unwrap_or("").to_string();
                changed = true;
            }
        }
        _ => {}
    }
    changed
}

fn event_ui(ui: &mut egui::Ui, e: &mut EventCondition, salt: &str, typing: &mut bool) -> bool {
    let mut changed = false;
    let before = e.aggregate;
    egui::ComboBox::from_id_salt(("aggregate", salt))
        .selected_text(e.aggregate.label())
        .show_ui(ui, |ui| {
            for a in Aggregate::ALL {
                ui.selectable_value(&mut e.aggregate, a, a.label());
            }
        })
        .response
        .accessible_name("Measure");
    changed |= e.aggregate != before;
    changed |= op_ui(
        ui,
        &mut e.op,
        &mut e.value,
        &NUMBER_COMPARE,
        FieldType::Number,
        salt,
    );
    let (vc, vt) = value_ui(ui, FieldType::Number, e.op, &mut e.value, salt);
    changed |= vc;
    *typing |= vt;
    changed |= window_ui(ui, &mut e.window, salt, typing);

    let mut remove = None;
    for (i, f) in e.filters.iter_mut().enumerate() {
        ui.end_row();
        ui.label("where");
        let fsalt = format!("{salt}/filter{i}");
        let props = ["category", "product", "campaign", "value"];
        let current = f.property.clone();
        let mut picked = current.clone();
        egui::ComboBox::from_id_salt(("prop", &fsalt))
            .selected_text(&current)
            .show_ui(ui, |ui| {
                for p in props {
                    ui.selectable_value(&mut picked, p.to_string(), p);
                }
                if !current.starts_with("props.") {
                    ui.selectable_value(&mut picked, "props.".to_string(), "other property…");
                }
            })
            .response
            .accessible_name("Event property");
        if picked != current {
            f.property = picked;
            f.value = value_for(property_type(&f.property), f.op, &f.value);
            changed = true;
        }
        if let Some(key) = f.property.strip_prefix("props.") {
            let mut k = key.to_string();
            if ui
                .add(
                    egui::TextEdit::singleline(&mut k)
                        .hint_text("Property key")
                        .desired_width(80.0),
                )
                .accessible_name("Property key")
                .changed()
            {
                f.property = format!("props.{k}");
                changed = true;
                *typing = true;
            }
        }
        let ty = property_type(&f.property);
        let ops: Vec<Op> = if f.property.starts_with("props.") {
            let mut v = ops_for(FieldType::Text).to_vec();
            v.extend([
                Op::LessThan,
                Op::AtMost,
                Op::GreaterThan,
                Op::AtLeast,
                Op::Between,
            ]);
            v
        } else {
            ops_for(ty).to_vec()
        };
        changed |= op_ui(ui, &mut f.op, &mut f.value, &ops, ty, &fsalt);
        let vty = if matches!(
            f.op,
            Op::LessThan | Op::AtMost | Op::GreaterThan | Op::AtLeast | Op::Between
        ) {
            FieldType::Number
        } else {
            ty
        };
        let (vc, vt) = value_ui(ui, vty, f.op, &mut f.value, &fsalt);
        changed |= vc;
        *typing |= vt;
        if ui
            .small_button("×")
            .on_hover_text("Remove this filter")
            .clicked()
        {
            remove = Some(i);
        }
    }
    if let Some(i) = remove {
        e.filters.remove(i);
        changed = true;
    }
    if ui
        .small_button("+ Filter")
        .on_hover_text("Only count events whose property matches")
        .clicked()
    {
        e.filters.push(PropertyFilter {
            property: "category".into(),
            op: Op::Equals,
            value: json!(""),
        });
        changed = true;
    }
    changed
}

fn property_type(property: &str) -> FieldType {
    if property == "value" {
        FieldType::Number
    } else {
        FieldType::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_numbers_keep_what_was_typed() {
        assert_eq!(number_json("3"), json!(3.0));
        assert_eq!(number_json("2."), json!("2."));
        assert_eq!(number_json("12a"), json!("12a"));
        assert_eq!(number_text(&json!(2.5)), "2.5");
        assert_eq!(
            value_for(FieldType::Number, Op::Between, &json!(5)),
            json!([5, 5])
        );
        assert_eq!(
            value_for(FieldType::Text, Op::IsSet, &json!("x")),
            Json::Null
        );
    }
}
