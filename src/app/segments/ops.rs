//! Every change to saved segments, once: create or save with a version,
//! rename (rewriting the rules that refer to it), duplicate, delete (with
//! a reference check), reorder, recolour. Each is one store transaction, and
//! the UI and the CLI both call these.

use crate::app::AppError;
use crate::engine::{Rule, parse_rule};
use crate::model::{SegmentRecord, SegmentVersion};
use crate::store::Store;

/// Colours offered for new segments; the first is the default.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

pub const DEFAULT_COLOR: &str = PALETTE[0];

/// The operations, each with the `prism segment` subcommand that runs it:
/// the architecture test holds the UI and the CLI to this list.
pub const OPERATIONS: [(&str, &str); 6] = [
    ("save", "save"),
    ("rename", "rename"),
    ("duplicate", "duplicate"),
    ("delete", "delete"),
    ("move_segment", "move"),
    ("set_color", "color"),
];

/// `#rrggbb`.
pub fn is_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

fn check_color(c: &str) -> Result<(), AppError> {
    if is_color(c) {
        Ok(())
    } else {
        Err(AppError::Invalid(format!("colour {c:?}: use #rrggbb")))
    }
}

fn by_id(store: &Store, id: i64) -> Result<SegmentRecord, AppError> {
    store
        .segment(id)?
        .ok_or_else(|| AppError::NoSegment(format!("#{id}")))
}

/// The saved segment named `name`.
pub fn by_name(store: &Store, name: &str) -> Result<SegmentRecord, AppError> {
    store
        .segment_by_name(name)?
        .ok_or_else(|| AppError::NoSegment(name.to_string()))
}

/// The segments whose rules refer to `name` (parsed, not text-matched).
pub fn referrers(segments: &[SegmentRecord], name: &str) -> Vec<String> {
    segments
        .iter()
        .filter(|s| s.name != name)
        .filter(|s| parse_rule(&s.rule).is_ok_and(|r| r.refers_to(name)))
        .map(|s| s.name.clone())
        .collect()
}

/// Creates (`record.id == 0`) or updates a segment and records its rule as
/// a new version, with the count it had when saved.
pub fn save(
    store: &mut Store,
    record: &SegmentRecord,
    count: Option<i64>,
    as_of: Option<i64>,
    note: &str,
) -> Result<(SegmentRecord, SegmentVersion), AppError> {
    check_color(&record.color)?;
    parse_rule(&record.rule)?;
    store.transaction(|s| {
        let id = s.save_segment(record)?;
        let version = s.add_segment_version(id, &record.rule, count, as_of, note)?;
        Ok((by_id(s, id)?, version))
    })
}

/// Renames a segment; rules that refer to it follow. Returns the names of
/// the segments whose rules were rewritten.
pub fn rename(store: &mut Store, id: i64, new_name: &str) -> Result<Vec<String>, AppError> {
    let new_name = new_name.trim();
    if new_name.is_empty() {
        return Err(AppError::Invalid("a segment needs a name".into()));
    }
    store.transaction(|s| {
        let seg = by_id(s, id)?;
        if seg.name == new_name {
            return Ok(Vec::new());
        }
        let old = seg.name.clone();
        s.save_segment(&SegmentRecord {
            name: new_name.to_string(),
            ..seg
        })?;
        let mut rewritten = Vec::new();
        for other in s.segments()? {
            if other.id == id {
                continue;
            }
            let Ok(mut rule) = parse_rule(&other.rule) else {
                continue;
            };
            if rule.rename_segment(&old, new_name) {
                rewritten.push(other.name.clone());
                s.save_segment(&SegmentRecord {
                    rule: rule.to_json(),
                    ..other
                })?;
            }
        }
        Ok(rewritten)
    })
}

/// A name for a copy of `base` that no segment has: `X (copy)`, `X (copy 2)`, ….
pub fn copy_name(base: &str, taken: &[String]) -> String {
    let mut name = format!("{base} (copy)");
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base} (copy {n})");
        n += 1;
    }
    name
}

/// Saves a copy of `source` (its rule as given, so a draft's unsaved edits
/// are copied too) under a new name, with a first version.
pub fn duplicate(store: &mut Store, source: &SegmentRecord) -> Result<SegmentRecord, AppError> {
    parse_rule(&source.rule)?;
    store.transaction(|s| {
        let taken: Vec<String> = s.segments()?.into_iter().map(|r| r.name).collect();
        let copy = SegmentRecord {
            id: 0,
            name: copy_name(&source.name, &taken),
            ..source.clone()
        };
        let id = s.save_segment(&copy)?;
        s.add_segment_version(id, &copy.rule, None, None, "duplicated")?;
        by_id(s, id)
    })
}

/// Deletes a segment and its versions. Refused while other rules refer to
/// it, unless `force` (they then stop counting until fixed).
pub fn delete(store: &mut Store, id: i64, force: bool) -> Result<(), AppError> {
    store.transaction(|s| {
        let seg = by_id(s, id)?;
        let users = referrers(&s.segments()?, &seg.name);
        if !users.is_empty() && !force {
            return Err(AppError::InUse {
                name: seg.name,
                users,
            });
        }
        s.delete_segment(id)?;
        Ok(())
    })
}

/// Which way a segment moves in the priority order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// Higher priority.
    Up,
    Down,
}

/// Moves a segment one place in the priority order; false at either end.
pub fn move_segment(store: &mut Store, id: i64, to: Move) -> Result<bool, AppError> {
    store.transaction(|s| {
        let mut ids: Vec<i64> = s.segments()?.into_iter().map(|r| r.id).collect();
        let Some(pos) = ids.iter().position(|i| *i == id) else {
            return Err(AppError::NoSegment(format!("#{id}")));
        };
        let other = match to {
            Move::Up => pos.checked_sub(1),
            Move::Down => Some(pos + 1).filter(|p| *p < ids.len()),
        };
        let Some(other) = other else {
            return Ok(false);
        };
        ids.swap(pos, other);
        s.reorder_segments(&ids)?;
        Ok(true)
    })
}

/// Changes a segment's colour (no new version: the rule is the same).
pub fn set_color(store: &mut Store, id: i64, color: &str) -> Result<(), AppError> {
    check_color(color)?;
    store.transaction(|s| {
        let seg = by_id(s, id)?;
        s.save_segment(&SegmentRecord {
            color: color.to_string(),
            ..seg
        })?;
        Ok(())
    })
}

/// The rule of a saved segment, parsed.
pub fn rule_of(record: &SegmentRecord) -> Result<Rule, AppError> {
    Ok(parse_rule(&record.rule)?)
}
