//! Likely duplicates: customers who are probably one person, scored on all
//! the evidence and listed for review, never merged.
//!
//! Candidates share a name. Emails that differ in their numbers
//! (`ann.24@…` / `ann.264@…`) are evidence of two people; a typo (letters
//! swapped, a letter or dot dropped or doubled) or the same mailbox name at
//! another domain is evidence of one. Phone, city and birth date add or
//! subtract. A pair is listed when its score reaches [`LIST_AT`].

use super::report::{LikelyDuplicate, MAX_NOTES};
use super::values::edit_distance;

/// The score from which a pair is listed.
pub const LIST_AT: f64 = 3.0;

/// Groups of one name larger than this are compared with their neighbours
/// in a few orders rather than pair by pair.
const ALL_PAIRS_UP_TO: usize = 12;
const WINDOW: usize = 3;

/// One customer, as the check sees them: name and email as text, the rest
/// as small keys (0: unknown), so that scoring a pair reads no other strings.
#[derive(Clone, Debug, Default)]
pub struct Person {
    /// Lowercased `first last`.
    pub name: String,
    pub email: String,
    pub id: String,
    id_key: u64,
    phone: u64,
    city: u64,
    birth: u64,
    /// From the file being imported (pairs of two existing customers are
    /// not listed again).
    pub imported: bool,
}

/// What else is known of a person besides name, email and id.
#[derive(Clone, Copy, Debug, Default)]
pub struct Evidence<'a> {
    pub city: Option<&'a str>,
    pub birth_date: Option<chrono::NaiveDate>,
    pub phone: Option<&'a str>,
}

impl Person {
    pub fn new(
        first: &str,
        last: &str,
        email: &str,
        id: &str,
        e: Evidence<'_>,
        imported: bool,
    ) -> Person {
        Person {
            name: format!(
                "{} {}",
                first.trim().to_lowercase(),
                last.trim().to_lowercase()
            ),
            email: email.to_string(),
            id: id.to_string(),
            id_key: hash_key(Some(id)),
            phone: hash_key(present(e.phone).and_then(phone_key).as_deref()),
            city: hash_key(present(e.city)),
            birth: e.birth_date.map_or(0, |d| {
                u64::from(chrono::Datelike::num_days_from_ce(&d).unsigned_abs()).max(1)
            }),
            imported,
        }
    }

    /// A customer row of the file being imported, as the check sees it;
    /// `None` without an email or a first name (nothing to compare).
    pub fn imported(c: &crate::model::Customer) -> Option<Person> {
        let (Some(email), Some(first)) = (&c.email, &c.first_name) else {
            return None;
        };
        let number;
        let phone = match c.custom.get("phone") {
            Some(crate::model::FieldValue::Text(t)) => Some(t.as_str()),
            Some(crate::model::FieldValue::Number(x)) => {
                number = x.to_string();
                Some(number.as_str())
            }
            _ => None,
        };
        let evidence = Evidence {
            city: c.city.as_deref(),
            birth_date: c.birth_date,
            phone,
        };
        Some(Person::new(
            first,
            c.last_name.as_deref().unwrap_or(""),
            email,
            &c.external_id,
            evidence,
            true,
        ))
    }
}

fn present(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn hash_key(s: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let Some(s) = s else { return 0 };
    let mut h = rustc_hash::FxHasher::default();
    if s.is_ascii() {
        for b in s.bytes() {
            b.to_ascii_lowercase().hash(&mut h);
        }
    } else {
        for c in s.chars().flat_map(char::to_lowercase) {
            c.hash(&mut h);
        }
    }
    h.finish().max(1)
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
    if a.is_ascii() && b.is_ascii() {
        typo_in(a.as_bytes(), b.as_bytes(), |c| char::from(*c))
    } else {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        typo_in(&a, &b, |c| *c)
    }
}

fn typo_in<T: PartialEq>(a: &[T], b: &[T], ch: impl Fn(&T) -> char) -> Option<Typo> {
    if a.len() == b.len() {
        let mut diff = (0..a.len()).filter(|&i| a[i] != b[i]);
        let (first, second, third) = (diff.next(), diff.next(), diff.next());
        return match (first, second, third) {
            (Some(i), None, _) if !ch(&a[i]).is_ascii_digit() && !ch(&b[i]).is_ascii_digit() => {
                Some(Typo::OtherLetter)
            }
            (Some(i), Some(j), None) if j == i + 1 && a[i] == b[j] && a[j] == b[i] => {
                Some(Typo::Swapped)
            }
            _ => None,
        };
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    if long.len() != short.len() + 1 {
        return None;
    }
    let i = (0..short.len())
        .find(|&i| long[i] != short[i])
        .unwrap_or(short.len());
    if long[i + 1..] != short[i..] {
        return None;
    }
    let c = ch(&long[i]);
    if c == '.' {
        Some(Typo::DroppedDot)
    } else if c.is_ascii_digit() {
        None
    } else if (i > 0 && long[i - 1] == long[i]) || long.get(i + 1) == Some(&long[i]) {
        Some(Typo::DoubledLetter)
    } else {
        Some(Typo::DroppedLetter)
    }
}

fn digits(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().filter(char::is_ascii_digit)
}

/// The email's evidence: points and a reason.
fn email_evidence(a: &str, b: &str) -> Option<(f64, &'static str)> {
    let (la, da) = a.split_once('@').unwrap_or((a, ""));
    let (lb, db) = b.split_once('@').unwrap_or((b, ""));
    if la == lb && da != db {
        return Some((2.0, "the same mailbox name at another domain"));
    }
    if a.len().abs_diff(b.len()) > 2 {
        // Too far apart for a typo or two edits.
        return if digits(a).eq(digits(b)) {
            None
        } else {
            Some((-3.0, "emails with different numbers"))
        };
    }
    if !digits(a).eq(digits(b)) {
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
    let d: String = digits(p).collect();
    (d.len() >= 7).then(|| d[d.len().saturating_sub(9)..].to_string())
}

/// The most an email can add to a score.
const EMAIL_AT_MOST: f64 = 3.0;

/// The evidence besides the email, in the order reasons are listed:
/// phone, city, birth date.
fn other_evidence(a: &Person, b: &Person) -> [Option<(f64, &'static str)>; 3] {
    let part = |x: u64, y: u64, same: (f64, &'static str), differ: (f64, &'static str)| match (x, y)
    {
        (0, _) | (_, 0) => None,
        _ if x == y => Some(same),
        _ => Some(differ),
    };
    [
        part(
            a.phone,
            b.phone,
            (3.0, "same phone"),
            (-2.0, "different phones"),
        ),
        part(
            a.city,
            b.city,
            (1.0, "same city"),
            (-1.5, "different cities"),
        ),
        part(
            a.birth,
            b.birth,
            (2.0, "same birth date"),
            (-3.0, "different birth dates"),
        ),
    ]
}

/// The pair's score, without its reasons (no allocation; the same points
/// as [`score`]). The email, the dearest to compare, is looked at only when
/// it could lift the pair to [`LIST_AT`].
fn points(a: &Person, b: &Person) -> f64 {
    let rest: f64 = other_evidence(a, b).iter().flatten().map(|(p, _)| p).sum();
    if rest + EMAIL_AT_MOST < LIST_AT {
        return rest;
    }
    rest + email_evidence(&a.email, &b.email).map_or(0.0, |(p, _)| p)
}

/// The score of a pair and its reasons: the email's, then phone, city and
/// birth date.
pub fn score(a: &Person, b: &Person) -> (f64, Vec<&'static str>) {
    let mut why = vec!["same name"];
    let mut total = 0.0;
    if let Some((p, r)) = email_evidence(&a.email, &b.email) {
        total += p;
        why.push(r);
    }
    for (p, r) in other_evidence(a, b).into_iter().flatten() {
        total += p;
        why.push(r);
    }
    (total, why)
}

/// Every pair scoring [`LIST_AT`] or more, best first (at most
/// [`MAX_NOTES`] kept), and how many there are.
pub fn find(people: Vec<Person>) -> (u64, Vec<LikelyDuplicate>) {
    // People by name, as indexes (the people themselves stay put).
    let mut groups: rustc_hash::FxHashMap<&str, Vec<u32>> = Default::default();
    for (i, p) in people.iter().enumerate() {
        if !p.name.trim().is_empty() {
            groups.entry(p.name.as_str()).or_default().push(i as u32);
        }
    }
    let mut found: Vec<(f64, LikelyDuplicate)> = Vec::new();
    let mut listed: rustc_hash::FxHashSet<(u32, u32)> = Default::default();
    for (name, mut group) in groups {
        if group.len() < 2 || !group.iter().any(|&i| people[i as usize].imported) {
            continue;
        }
        // One entry per email (a row that updated an existing customer
        // appears as both); imported wins.
        let person = |i: u32| &people[i as usize];
        group.sort_by(|&a, &b| {
            person(a)
                .email
                .cmp(&person(b).email)
                .then(person(b).imported.cmp(&person(a).imported))
        });
        group.dedup_by(|a, b| person(*a).email == person(*b).email);
        let mut consider = |i: u32, j: u32| {
            let (i, j) = (i.min(j), i.max(j));
            let (a, b) = (person(i), person(j));
            if !(a.imported || b.imported) || a.id_key == b.id_key {
                return;
            }
            if a.id == b.id || points(a, b) < LIST_AT || !listed.insert((i, j)) {
                return;
            }
            let (s, why) = score(a, b);
            if s >= LIST_AT {
                found.push((
                    s,
                    LikelyDuplicate {
                        name: name.to_string(),
                        a: format!("{} <{}>", a.id, a.email),
                        b: format!("{} <{}>", b.id, b.email),
                        why: why.join(", "),
                        score: s,
                    },
                ));
            }
        };
        let n = group.len();
        if n <= ALL_PAIRS_UP_TO {
            for x in 0..n {
                for y in x + 1..n {
                    consider(group[x], group[y]);
                }
            }
            continue;
        }
        // Larger groups: only an email typo or one mailbox at two domains
        // (neighbours in email and reversed-email order) or a shared phone
        // (phone order) can reach the threshold without a typo, so those
        // orders' neighbours are the candidates.
        let windows = |order: &[u32], consider: &mut dyn FnMut(u32, u32)| {
            for w in 0..order.len() {
                for k in 1..=WINDOW {
                    let Some(&j) = order.get(w + k) else { break };
                    consider(order[w], j);
                }
            }
        };
        windows(&group, &mut consider);
        let mut order = group.clone();
        order.sort_by_cached_key(|&i| person(i).email.bytes().rev().collect::<Vec<u8>>());
        windows(&order, &mut consider);
        order.retain(|&i| person(i).phone != 0);
        order.sort_by_key(|&i| person(i).phone);
        windows(&order, &mut consider);
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

    fn p(email: &str, city: &str, birth: Option<(i32, u32, u32)>) -> Person {
        let e = Evidence {
            city: Some(city),
            birth_date: birth.and_then(|(y, m, d)| chrono::NaiveDate::from_ymd_opt(y, m, d)),
            phone: None,
        };
        Person::new("Ann", "Lee", email, email, e, true)
    }

    #[test]
    fn typos_are_evidence_and_numbers_are_not() {
        let s = |a: &str, b: &str| score(&p(a, "Oslo", None), &p(b, "Oslo", None)).0;
        assert!(s("ann.lee@x.com", "ann.lee@y.com") >= LIST_AT);
        assert!(s("ann.lee@x.com", "ann.ele@x.com") >= LIST_AT);
        assert!(s("ann.lee@x.com", "annlee@x.com") >= LIST_AT);
        assert!(s("ann.lee@x.com", "ann.leee@x.com") >= LIST_AT);
        assert!(s("ann.24@x.com", "ann.264@x.com") < 0.0);
        assert!(s("ann.24@x.com", "ann.25@x.com") < 0.0);
        assert!(s("ann.lee@x.com", "bob.ray@x.com") < LIST_AT);
        let far = p("ann.lee@x.com", "Rome", Some((1990, 1, 1)));
        let near = p("ann.ele@x.com", "Oslo", Some((1985, 5, 5)));
        assert!(score(&far, &near).0 < LIST_AT);
    }
}
