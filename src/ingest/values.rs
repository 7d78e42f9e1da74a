//! Reading values the way exports write them: dates in many forms, amounts
//! with currency symbols and thousands separators, yes/no booleans, emails.

use chrono::NaiveDate;

use crate::model::time::date_to_ts;

/// A date or time layout found in exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateFormat {
    /// `2026-11-01`, `2026-11-01 14:05[:07]`, `2026-11-01T14:05:07[.123][Z|+01:00]`
    Iso,
    /// `20261101`
    Compact,
    /// `11/01/2026` (month first)
    UsSlash,
    /// `01/11/2026` (day first)
    EuSlash,
    /// `01.11.2026[ 14:05[:07]]`
    Dotted,
    /// Unix seconds (10 digits) or milliseconds (13 digits).
    Epoch,
}

impl DateFormat {
    pub const ALL: [DateFormat; 6] = [
        DateFormat::Iso,
        DateFormat::Compact,
        DateFormat::UsSlash,
        DateFormat::EuSlash,
        DateFormat::Dotted,
        DateFormat::Epoch,
    ];

    pub fn key(self) -> &'static str {
        match self {
            DateFormat::Iso => "iso",
            DateFormat::Compact => "yyyymmdd",
            DateFormat::UsSlash => "mm/dd/yyyy",
            DateFormat::EuSlash => "dd/mm/yyyy",
            DateFormat::Dotted => "dd.mm.yyyy",
            DateFormat::Epoch => "epoch",
        }
    }

    pub fn parse_key(s: &str) -> Option<DateFormat> {
        let s = s.to_ascii_lowercase();
        DateFormat::ALL.into_iter().find(|f| f.key() == s)
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n = 0u32;
    for &b in s {
        n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(n)
}

/// `HH:MM[:SS[.fff]]`, with an optional zone: `Z`, `+HH:MM`, `+HHMM`, ` UTC`.
/// Returns seconds into the day and the zone offset in seconds.
fn parse_time(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let (clock, offset) = split_zone(s)?;
    let b = clock.as_bytes();
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let h = digits(&b[0..2])?;
    let m = digits(&b[3..5])?;
    let mut sec = 0;
    if b.len() > 5 {
        if b[5] != b':' || b.len() < 8 {
            return None;
        }
        sec = digits(&b[6..8])?;
        if b.len() > 8 {
            // Fractions of a second are dropped.
            if b[8] != b'.' || !b[9..].iter().all(u8::is_ascii_digit) {
                return None;
            }
        }
    }
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some((i64::from(h * 3600 + m * 60 + sec.min(59)), offset))
}

fn split_zone(s: &str) -> Option<(&str, i64)> {
    if let Some(c) = s.strip_suffix('Z').or_else(|| s.strip_suffix(" UTC")) {
        return Some((c.trim_end(), 0));
    }
    // +HH:MM / -HH:MM / +HHMM after the seconds.
    if s.len() > 8 {
        let tail_start = s.len().saturating_sub(6);
        for (i, ch) in s.char_indices().skip(5) {
            if (ch == '+' || ch == '-') && i >= 5 {
                let zone = &s[i + 1..];
                let zb = zone.as_bytes();
                let (hh, mm) = match zb.len() {
                    5 if zb[2] == b':' => (digits(&zb[0..2])?, digits(&zb[3..5])?),
                    4 => (digits(&zb[0..2])?, digits(&zb[2..4])?),
                    2 => (digits(zb)?, 0),
                    _ => return None,
                };
                let off = i64::from(hh * 3600 + mm * 60);
                let _ = tail_start;
                return Some((s[..i].trim_end(), if ch == '-' { -off } else { off }));
            }
        }
    }
    Some((s, 0))
}

fn ymd(y: u32, m: u32, d: u32) -> Option<NaiveDate> {
    if !(1800..=2200).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// Parses a date or instant in `format`, as Unix seconds UTC.
pub fn parse_instant(s: &str, format: DateFormat) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (date, rest) = match format {
        DateFormat::Iso => {
            if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
                return None;
            }
            let d = ymd(digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?)?;
            (d, &s[10..])
        }
        DateFormat::Compact => {
            if b.len() < 8 {
                return None;
            }
            let d = ymd(digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?)?;
            (d, &s[8..])
        }
        DateFormat::UsSlash | DateFormat::EuSlash | DateFormat::Dotted => {
            let sep = if format == DateFormat::Dotted {
                '.'
            } else {
                '/'
            };
            let end = s.find([' ', 'T']).unwrap_or(s.len());
            let mut parts = s[..end].split(sep);
            let a = digits(parts.next()?.as_bytes())?;
            let c = digits(parts.next()?.as_bytes())?;
            let y = digits(parts.next()?.as_bytes())?;
            if parts.next().is_some() {
                return None;
            }
            let y = if y < 100 { 2000 + y } else { y };
            let (m, d) = if format == DateFormat::UsSlash {
                (a, c)
            } else {
                (c, a)
            };
            (ymd(y, m, d)?, &s[end..])
        }
        DateFormat::Epoch => {
            let n: i64 = s.parse().ok()?;
            return match s.trim_start_matches('-').len() {
                1..=11 => Some(n),
                12..=14 => Some(n.div_euclid(1000)),
                _ => None,
            };
        }
    };
    let rest = rest.trim_start_matches(['T', ' ']);
    let secs = if rest.is_empty() {
        0
    } else {
        let (t, offset) = parse_time(rest)?;
        t - offset
    };
    Some(date_to_ts(date) + secs)
}

/// Parses a calendar date (any time of day is dropped).
pub fn parse_date(s: &str, format: DateFormat) -> Option<NaiveDate> {
    if format == DateFormat::Epoch {
        return None;
    }
    let ts = parse_instant(s, format)?;
    Some(crate::model::time::ts_to_date(ts))
}

/// The format a column's sample values are in, if they share one. Day-first
/// and month-first slashes are told apart by values above 12.
pub fn detect_date_format<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<DateFormat> {
    let values: Vec<&str> = values
        .into_iter()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .take(200)
        .collect();
    if values.is_empty() {
        return None;
    }
    let fits = |f: DateFormat| {
        let ok = values
            .iter()
            .filter(|v| parse_instant(v, f).is_some())
            .count();
        ok * 10 >= values.len() * 9 // 90% of the values
    };
    // Epoch only for plain 10- or 13-digit numbers.
    if values
        .iter()
        .all(|v| v.bytes().all(|b| b.is_ascii_digit()) && matches!(v.len(), 10 | 13))
    {
        return Some(DateFormat::Epoch);
    }
    if fits(DateFormat::Iso) {
        return Some(DateFormat::Iso);
    }
    if values.iter().all(|v| v.len() == 8) && fits(DateFormat::Compact) {
        return Some(DateFormat::Compact);
    }
    if fits(DateFormat::Dotted) {
        return Some(DateFormat::Dotted);
    }
    let us = fits(DateFormat::UsSlash);
    let eu = fits(DateFormat::EuSlash);
    match (us, eu) {
        (true, false) => Some(DateFormat::UsSlash),
        (false, true) => Some(DateFormat::EuSlash),
        // Every value fits both (all parts ≤ 12): month first, as US exports do.
        (true, true) => Some(DateFormat::UsSlash),
        _ => None,
    }
}

/// Parses a value in the column's format, or any unambiguous format: a
/// column with mostly `2026-11-01 10:00:00` and a few `2026-11-01` or
/// `11/01/2026` is read whole.
pub fn parse_instant_lenient(s: &str, format: Option<DateFormat>) -> Option<i64> {
    if let Some(f) = format
        && let Some(t) = parse_instant(s, f)
    {
        return Some(t);
    }
    let slash = match format {
        Some(DateFormat::EuSlash) => DateFormat::EuSlash,
        _ => DateFormat::UsSlash,
    };
    [DateFormat::Iso, DateFormat::Dotted, slash]
        .into_iter()
        .find_map(|f| parse_instant(s, f))
}

/// Reads an amount: `1234.5`, `$1,234.50`, `€ 12,99`, `1.234,56`, `-3`,
/// `(12.00)` for negatives.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(x) = t.parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    let (neg, t) = match t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, t),
    };
    let mut cleaned = String::with_capacity(t.len());
    for ch in t.chars() {
        match ch {
            '0'..='9' | '.' | ',' | '-' | '+' => cleaned.push(ch),
            '$' | '€' | '£' | '¥' | ' ' | '\u{a0}' | '\'' => {}
            c if c.is_alphabetic() && c.is_uppercase() => {} // USD, EUR
            _ => return None,
        }
    }
    let last_dot = cleaned.rfind('.');
    let last_comma = cleaned.rfind(',');
    let normalized = match (last_dot, last_comma) {
        (Some(d), Some(c)) if c > d => cleaned.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => cleaned.replace(',', ""),
        (None, Some(c)) => {
            // "1,234" is a thousands separator; "12,50" a decimal comma.
            let after = cleaned.len() - c - 1;
            if after == 3 && cleaned.matches(',').count() >= 1 && !cleaned[..c].is_empty() {
                cleaned.replace(',', "")
            } else {
                cleaned.replace(',', ".")
            }
        }
        _ => cleaned,
    };
    let x: f64 = normalized.parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    Some(if neg { -x } else { x })
}

/// Reads a yes/no value.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" | "opted in" | "subscribed" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" | "opted out" | "unsubscribed" => Some(false),
        _ => None,
    }
}

/// Trims and lowercases an email; `None` with the reason if it is not one.
pub fn normalize_email(s: &str) -> Result<String, &'static str> {
    let e = s.trim().to_lowercase();
    let Some((local, domain)) = e.split_once('@') else {
        return Err("no @ in the email");
    };
    if local.is_empty() {
        return Err("nothing before the @ in the email");
    }
    if domain.contains('@') {
        return Err("more than one @ in the email");
    }
    if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("spaces in the email");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return Err("the email's domain is not a domain");
    }
    if labels.last().is_some_and(|tld| tld.len() < 2) {
        return Err("the email's domain is not a domain");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("dots out of place in the email");
    }
    let local_ok = |c: char| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
    if !local.chars().all(local_ok) {
        return Err("characters an email cannot have before the @");
    }
    if !domain
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err("characters a domain cannot have in the email");
    }
    if e.len() > 254 {
        return Err("the email is longer than 254 characters");
    }
    Ok(e)
}

/// Levenshtein distance, giving up (returning `limit + 1`) past `limit`.
pub fn edit_distance(a: &str, b: &str, limit: usize) -> usize {
    if a.is_ascii() && b.is_ascii() && a.len() < 256 && b.len() < 256 {
        return edit_distance_bytes(a.as_bytes(), b.as_bytes(), limit);
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    edit_distance_slices(&a, &b, limit)
}

/// The same on short ASCII strings, with no allocation (emails): the
/// common prefix and suffix cost nothing, and what is left is compared a
/// column at a time in the bits of one word (Myers / Hyyrö).
fn edit_distance_bytes(a: &[u8], b: &[u8], limit: usize) -> usize {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if b.len() - a.len() > limit {
        return limit + 1;
    }
    if a.is_empty() {
        return b.len().min(limit + 1);
    }
    if a.len() > 64 {
        return edit_distance_slices(a, b, limit);
    }
    // Bit i of `peq[c]`: a[i] == c.
    let mut peq = [0u64; 128];
    for (i, &c) in a.iter().enumerate() {
        peq[usize::from(c & 0x7f)] |= 1 << i;
    }
    let last = 1u64 << (a.len() - 1);
    let (mut pv, mut mv) = (u64::MAX, 0u64);
    let mut score = a.len();
    for &c in b {
        let eq = peq[usize::from(c & 0x7f)];
        let xv = eq | mv;
        let xh = ((eq & pv).wrapping_add(pv) ^ pv) | eq;
        let mut ph = mv | !(xh | pv);
        let mut mh = pv & xh;
        if ph & last != 0 {
            score += 1;
        } else if mh & last != 0 {
            score -= 1;
        }
        ph = (ph << 1) | 1;
        mh <<= 1;
        pv = mh | !(xv | ph);
        mv = ph & xv;
    }
    score.min(limit + 1)
}

fn edit_distance_slices<T: PartialEq>(a: &[T], b: &[T], limit: usize) -> usize {
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            row_min = row_min.min(cur[j]);
        }
        if row_min > limit {
            return limit + 1;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()].min(limit + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::parse_instant as iso;

    #[test]
    fn every_date_form_reads_the_same_instant() {
        let want = iso("2026-03-04 05:06:07").unwrap();
        assert_eq!(
            parse_instant("2026-03-04 05:06:07", DateFormat::Iso),
            Some(want)
        );
        assert_eq!(
            parse_instant("2026-03-04T05:06:07Z", DateFormat::Iso),
            Some(want)
        );
        assert_eq!(
            parse_instant("2026-03-04T06:06:07+01:00", DateFormat::Iso),
            Some(want)
        );
        assert_eq!(
            parse_instant("2026-03-04T05:06:07.250Z", DateFormat::Iso),
            Some(want)
        );
        assert_eq!(
            parse_instant("03/04/2026 05:06:07", DateFormat::UsSlash),
            Some(want)
        );
        assert_eq!(
            parse_instant("04/03/2026 05:06:07", DateFormat::EuSlash),
            Some(want)
        );
        assert_eq!(
            parse_instant("04.03.2026 05:06:07", DateFormat::Dotted),
            Some(want)
        );
        assert_eq!(
            parse_instant(&want.to_string(), DateFormat::Epoch),
            Some(want)
        );
        assert_eq!(
            parse_instant(&format!("{want}000"), DateFormat::Epoch),
            Some(want)
        );
        let day = iso("2026-03-04").unwrap();
        assert_eq!(parse_instant("20260304", DateFormat::Compact), Some(day));
        assert_eq!(parse_instant("2026-02-30", DateFormat::Iso), None);
        assert_eq!(parse_instant("13/13/2026", DateFormat::UsSlash), None);
        assert_eq!(parse_instant("yesterday", DateFormat::Iso), None);
    }

    #[test]
    fn formats_are_detected_from_values() {
        assert_eq!(
            detect_date_format(["2026-01-02", "2025-12-31 10:00:00"]),
            Some(DateFormat::Iso)
        );
        assert_eq!(
            detect_date_format(["01/02/2026", "12/31/2025"]),
            Some(DateFormat::UsSlash)
        );
        assert_eq!(
            detect_date_format(["01/02/2026", "31/12/2025"]),
            Some(DateFormat::EuSlash)
        );
        assert_eq!(
            detect_date_format(["01.02.2026 09:00", "31.12.2025 10:00"]),
            Some(DateFormat::Dotted)
        );
        assert_eq!(
            detect_date_format(["20260102", "20251231"]),
            Some(DateFormat::Compact)
        );
        assert_eq!(
            detect_date_format(["1767225600", "1767312000"]),
            Some(DateFormat::Epoch)
        );
        assert_eq!(detect_date_format(["apple", "pear"]), None);
        // Mostly one form with a few others: read whole.
        assert!(parse_instant_lenient("2026-01-02", Some(DateFormat::Iso)).is_some());
        assert!(parse_instant_lenient("01/02/2026", Some(DateFormat::Iso)).is_some());
    }

    #[test]
    fn amounts_booleans_and_emails() {
        assert_eq!(parse_number("$1,234.50"), Some(1234.5));
        assert_eq!(parse_number("1.234,56 €"), Some(1234.56));
        assert_eq!(parse_number("12,50"), Some(12.5));
        assert_eq!(parse_number("1,234"), Some(1234.0));
        assert_eq!(parse_number("(12.00)"), Some(-12.0));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("USD 5"), Some(5.0));
        assert_eq!(parse_number("12a"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(
            normalize_email("  Jane.Doe@Example.COM "),
            Ok("jane.doe@example.com".into())
        );
        assert!(normalize_email("jane.doe.example.com").is_err());
        assert!(normalize_email("jane doe@example.com").is_err());
        assert!(normalize_email("jane@@example.com").is_err());
        assert!(normalize_email("jane@").is_err());
        assert!(normalize_email("jane@example").is_err());
        assert!(normalize_email("a1;a@x.com").is_err());
        assert!(normalize_email("a@x,y.com").is_err());
        assert!(normalize_email("o'brien+news@x.com").is_ok());
        assert_eq!(edit_distance("anna@x.com", "ana@x.com", 2), 1);
        assert_eq!(edit_distance("kitten", "sitting", 2), 3);
        assert_eq!(edit_distance("zoë@x.com", "zoe@x.com", 2), 1);
        assert_eq!(edit_distance("", "ab", 2), 2);
        assert_eq!(edit_distance("same", "same", 2), 0);
    }

    #[test]
    fn the_fast_edit_distance_agrees_with_the_table() {
        // Short ASCII strings from a tiny alphabet, so that near misses are
        // common, against the plain dynamic programme.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut word = |n: u64| -> Vec<u8> {
                let len = (next() % n) as usize;
                (0..len).map(|_| b"abc@."[(next() % 5) as usize]).collect()
            };
            let (a, b) = (word(12), word(12));
            let long = word(90);
            for (x, y) in [(&a, &b), (&long, &b), (&long, &long)] {
                for limit in [0, 1, 2, 5, 100] {
                    assert_eq!(
                        edit_distance_bytes(x, y, limit),
                        edit_distance_slices(x, y, limit),
                        "{:?} {:?} limit {limit}",
                        String::from_utf8_lossy(x),
                        String::from_utf8_lossy(y)
                    );
                }
            }
        }
    }
}
