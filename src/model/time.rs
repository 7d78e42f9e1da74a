//! Time in Prism: every instant is UTC, stored as whole seconds since the
//! Unix epoch; calendar dates (birth dates) are `chrono::NaiveDate`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// The current instant, in Unix seconds.
pub fn now_utc() -> i64 {
    Utc::now().timestamp()
}

/// Midnight UTC at the start of the day holding `ts`.
pub fn start_of_day(ts: i64) -> i64 {
    ts.div_euclid(DAY) * DAY
}

/// Midnight UTC of `date`, in Unix seconds.
pub fn date_to_ts(date: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
        .timestamp()
}

/// The UTC calendar date of `ts`.
pub fn ts_to_date(ts: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|d| d.date_naive())
        .unwrap_or(NaiveDate::MIN)
}

/// `2026-11-23 14:05:00` (UTC) for display and CSV output.
pub fn format_ts(ts: i64) -> String {
    match DateTime::<Utc>::from_timestamp(ts, 0) {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => ts.to_string(),
    }
}

/// `2026-11-23` for display.
pub fn format_date(date: NaiveDate) -> String {
    use chrono::Datelike;
    // As `%Y-%m-%d`, without parsing a format string for every date.
    let (y, m, d) = (date.year(), date.month(), date.day());
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        date.format("%Y-%m-%d").to_string()
    }
}

/// Reads a date or an instant written as `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]`
/// or RFC 3339, as Unix seconds UTC. Used for `--as-of` style arguments.
pub fn parse_instant(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(date_to_ts(d));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp());
        }
    }
    DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_timestamps() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(ts_to_date(date_to_ts(d)), d);
        assert_eq!(format_ts(date_to_ts(d) + 3661), "2024-02-29 01:01:01");
        assert_eq!(start_of_day(date_to_ts(d) + 3661), date_to_ts(d));
    }

    #[test]
    fn dates_format_as_chrono_formats_them() {
        for (y, m, d) in [
            (2024, 2, 29),
            (5, 1, 9),
            (999, 12, 31),
            (9999, 7, 4),
            (-44, 3, 15),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(format_date(date), date.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn instants_parse_in_the_usual_forms() {
        let midnight = date_to_ts(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(parse_instant("2026-11-01"), Some(midnight));
        assert_eq!(parse_instant("2026-11-01 00:01"), Some(midnight + 60));
        assert_eq!(parse_instant("2026-11-01T01:00:00+01:00"), Some(midnight));
        assert_eq!(parse_instant("yesterday"), None);
    }
}
