//! Likely duplicates: customers who are probably one person, scored on all
//! the evidence and listed for review, never merged.
//!
//! Candidates share a name. Emails that differ in their numbers
//! (`ann.24@…` / `ann.264@…`) are evidence of two people; a typo (letters
//! swapped, a letter or dot dropped or doubled) or the same mailbox name at
//! another domain is evidence of one. Phone, city and birth date add or
//! subtract. A pair is listed when its score reaches [`LIST_AT`].

use std::collections::HashMap;

use super::report::{LikelyDuplicate, MAX_NOTES};
use super::values::edit_distance;

/// The score from which a pair is listed.
pub const LIST_AT: f64 = 3.0;

/// Groups of one name larger than this are compared with their neighbours
/// in a few orders rather than pair by pair.
const ALL_PAIRS_UP_TO: usize = 400;
const WINDOW: usize = 6;

/// One customer, as the check sees them.
#[derive(Clone, Debug, Default)]
pub struct Person {
    /// Lowercased `first last`.
    pub name: String,
    pub email: String,
    pub id: String,
    pub city: Option<String>,
    pub birth_date: Option<String>,
    pub phone: Option<String>,
    /// From the file being imported (pairs of two existing customers are
    /// not listed again).
    pub imported: bool,
}

impl Person {
    pub fn name_key(first: &str, last: &str) -> String {
        format!(
            "{} {}",
            first.trim().to_lowercase(),
            last.trim().to_lowercase()
        )
    }
}

/// What one email says about two people with the same name.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Typo {
    Swapped,
    DroppedDot,
    DroppedLetter,
    DoubledLetter,
    OtherLetter,
}

fn typo(a: &str, b: &str) -> Option<Typo> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() == b.len() {
        let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        return match diff.as_slice() {
            [i] if !a[*i].is_ascii_digit() && !b[*i].is_ascii_digit() => Some(Typo::OtherLetter),
            [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i] => Some(Typo::Swapped),
            _ => None,
        };
    }
    let (long, short) = if a.len() > b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() != short.len() + 1 {
        return None;
    }
    let i = (0..short.len())
        .find(|&i| long[i] != short[i])
        .unwrap_or(short.len());
    if long[i + 1..] != short[i..] {
        return None;
    }
    let c = long[i];
    if c == '.' {
        Some(Typo::DroppedDot)
    } else if c.is_ascii_digit() {
        None
    } else if (i > 0 && long[i - 1] == c) || long.get(i + 1) == Some(&c) {
        Some(Typo::DoubledLetter)
    } else {
        Some(Typo::DroppedLetter)
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The email's evidence: points and a reason.
fn email_evidence(a: &str, b: &str) -> Option<(f64, &'static str)> {
    let (la, da) = a.split_once('@').unwrap_or((a, ""));
    let (lb, db) = b.split_once('@').unwrap_or((b, ""));
    if la == lb && da != db {
        return Some((2.0, "the same mailbox name at another domain"));
    }
    if digits(a) != digits(b) {
        // Different numbers usually mean different people.
        return Some((-3.0, "emails with different numbers"));
    }
    match typo(a, b) {
        Some(Typo::Swapped) => Some((3.0, "emails one swapped pair of letters apart")),
        Some(Typo::DroppedDot) => Some((3.0, "emails one dot apart")),
        Some(Typo::DoubledLetter) => Some((3.0, "emails one doubled letter apart")),
        Some(Typo::DroppedLetter) => Some((2.5, "emails one dropped letter apart")),
        Some(Typo::OtherLetter) => Some((2.0, "emails one letter apart")),
        None if edit_distance(a, b, 2) <= 2 => Some((1.0, "emails two edits apart")),
        None => None,
    }
}

fn phone_key(p: &str) -> Option<String> {
    let p = p.trim().trim_end_matches(".0");
    let d = digits(p);
    (d.len() >= 7).then(|| d[d.len().saturating_sub(9)..].to_string())
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The score of a pair and its reasons.
pub fn score(a: &Person, b: &Person) -> (f64, Vec<&'static str>) {
    let mut score = 0.0;
    let mut why = vec!["same name"];
    let mut add = |points: f64, reason: &'static str| {
        score += points;
        why.push(reason);
    };
    if let Some((p, r)) = email_evidence(&a.email, &b.email) {
        add(p, r);
    }
    if let (Some(x), Some(y)) = (present(&a.phone), present(&b.phone))
        && let (Some(x), Some(y)) = (phone_key(x), phone_key(y))
    {
        if x == y {
            add(3.0, "same phone");
        } else {
            add(-2.0, "different phones");
        }
    }
    if let (Some(x), Some(y)) = (present(&a.city), present(&b.city)) {
        if x.to_lowercase() == y.to_lowercase() {
            add(1.0, "same city");
        } else {
            add(-1.5, "different cities");
        }
    }
    if let (Some(x), Some(y)) = (present(&a.birth_date), present(&b.birth_date)) {
        if x == y {
            add(2.0, "same birth date");
        } else {
            add(-3.0, "different birth dates");
        }
    }
    (score, why)
}

/// Every pair scoring [`LIST_AT`] or more, best first (at most
/// [`MAX_NOTES`] kept), and how many there are.
pub fn find(people: Vec<Person>) -> (u64, Vec<LikelyDuplicate>) {
    let mut groups: HashMap<String, Vec<Person>> = HashMap::new();
    for p in people {
        if p.name.trim().is_empty() {
            continue;
        }
        groups.entry(p.name.clone()).or_default().push(p);
    }
    let mut found: Vec<(f64, LikelyDuplicate)> = Vec::new();
    for (name, mut people) in groups {
        if people.len() < 2 || !people.iter().any(|p| p.imported) {
            continue;
        }
        // One entry per email (a row that updated an existing customer
        // appears as both); imported wins.
        people.sort_by(|a, b| a.email.cmp(&b.email).then(b.imported.cmp(&a.imported)));
        people.dedup_by(|a, b| a.email == b.email);
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        if people.len() <= ALL_PAIRS_UP_TO {
            for i in 0..people.len() {
                for j in i + 1..people.len() {
                    pairs.push((i, j));
                }
            }
        } else {
            // Neighbours in email order, reversed-email order and phone
            // order catch typos at either end and shared phones.
            let n = people.len();
            let mut orders: Vec<Vec<usize>> = vec![(0..n).collect()];
            let mut rev: Vec<usize> = (0..n).collect();
            rev.sort_by_cached_key(|&i| people[i].email.chars().rev().collect::<String>());
            orders.push(rev);
            let mut phone: Vec<usize> = (0..n).collect();
            phone.sort_by_cached_key(|&i| people[i].phone.as_deref().and_then(phone_key));
            orders.push(phone);
            for order in orders {
                for w in 0..order.len() {
                    for k in 1..=WINDOW {
                        let Some(&j) = order.get(w + k) else { break };
                        let i = order[w];
                        pairs.push((i.min(j), i.max(j)));
                    }
                }
            }
            pairs.sort_unstable();
            pairs.dedup();
        }
        for (i, j) in pairs {
            let (a, b) = (&people[i], &people[j]);
            if !(a.imported || b.imported) || a.id == b.id {
                continue;
            }
            let (s, why) = score(a, b);
            if s >= LIST_AT {
                found.push((
                    s,
                    LikelyDuplicate {
                        name: name.clone(),
                        a: format!("{} <{}>", a.id, a.email),
                        b: format!("{} <{}>", b.id, b.email),
                        why: why.join(", "),
                        score: s,
                    },
                ));
            }
        }
    }
    found.sort_by(|x, y| {
        y.0.total_cmp(&x.0)
            .then_with(|| x.1.name.cmp(&y.1.name))
            .then_with(|| x.1.a.cmp(&y.1.a))
    });
    let count = found.len() as u64;
    found.truncate(MAX_NOTES);
    (count, found.into_iter().map(|(_, d)| d).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(email: &str, city: &str) -> Person {
        Person {
            name: "ann lee".into(),
            email: email.into(),
            id: email.into(),
            city: Some(city.into()),
            imported: true,
            ..Person::default()
        }
    }

    #[test]
    fn typos_are_evidence_and_numbers_are_not() {
        let s = |a: &str, b: &str| score(&p(a, "Oslo"), &p(b, "Oslo")).0;
        assert!(s("ann.lee@x.com", "ann.lee@y.com") >= LIST_AT);
        assert!(s("ann.lee@x.com", "ann.ele@x.com") >= LIST_AT);
        assert!(s("ann.lee@x.com", "annlee@x.com") >= LIST_AT);
        assert!(s("ann.lee@x.com", "ann.leee@x.com") >= LIST_AT);
        assert!(s("ann.24@x.com", "ann.264@x.com") < 0.0);
        assert!(s("ann.24@x.com", "ann.25@x.com") < 0.0);
        assert!(s("ann.lee@x.com", "bob.ray@x.com") < LIST_AT);
        let mut far = p("ann.lee@x.com", "Rome");
        far.birth_date = Some("1990-01-01".into());
        let mut near = p("ann.ele@x.com", "Oslo");
        near.birth_date = Some("1985-05-05".into());
        assert!(score(&far, &near).0 < LIST_AT);
    }
}
