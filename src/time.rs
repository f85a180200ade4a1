//! The evaluation instant (`--as-of`) and conversions between it and Arrow values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Parses an instant: RFC 3339 (`2026-11-20T08:00:00Z`), a naive timestamp taken as UTC,
/// or a date (midnight UTC).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    let s = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default());
    }
    Err(format!(
        "`{text}` is not a timestamp (use RFC 3339 like 2026-11-20T08:00:00Z, or a date like 2026-11-20)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_instants() {
        assert_eq!(
            parse_instant("2026-11-20").unwrap().to_rfc3339(),
            "2026-11-20T00:00:00+00:00"
        );
        assert_eq!(
            parse_instant("2026-11-20T08:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-20T06:00:00+00:00"
        );
        assert!(parse_instant("yesterday").is_err());
    }
}
