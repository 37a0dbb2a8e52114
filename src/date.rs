//! Dates of documents: parsed once, kept as seconds since the Unix epoch (UTC).
//!
//! Accepted: RFC 3339 / ISO 8601 with offset (`2015-07-21T08:48:46Z`, `+03:00`), ISO 8601 without
//! offset (taken as UTC) with `T` or a space, with or without seconds or fractions, a bare date
//! (`2015-07-21`, midnight UTC), RFC 2822 (`Sat, 12 May 2018 08:48:46 GMT`) and Unix seconds as a
//! number. Anything else is `None`, and callers count it: an unparsable date never matches.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Parses a date field; `None` when no accepted format fits.
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp());
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.timestamp());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d.and_utc().timestamp());
        }
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp());
        }
    }
    if s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    None
}

/// Formats seconds since the epoch as an ISO date (`YYYY-MM-DD`, UTC).
pub fn iso_day(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_formats() {
        let t = 1_526_114_926; // 2018-05-12T08:48:46Z
        assert_eq!(parse("Sat, 12 May 2018 08:48:46 GMT"), Some(t));
        assert_eq!(parse("2018-05-12T08:48:46Z"), Some(t));
        assert_eq!(parse("2018-05-12T11:48:46+03:00"), Some(t));
        assert_eq!(parse("2018-05-12 08:48:46"), Some(t));
        assert_eq!(parse("2018-05-12T08:48:46.250"), Some(t));
        assert_eq!(parse("2018-05-12"), Some(t - (8 * 3600 + 48 * 60 + 46)));
        assert_eq!(parse("1526114926"), Some(t));
        assert_eq!(iso_day(t), "2018-05-12");
    }

    #[test]
    fn garbage_is_none() {
        for s in ["", "yesterday", "12/05/2018x", "2018-13-45", "26 شوال 1436"] {
            assert_eq!(parse(s), None, "{s}");
        }
    }
}
