//! Durations written the way people write them in config: `90s`, `15m`, `24h`, `7d`, `1h30m`.

use std::time::Duration;

/// The longest duration dq accepts: 100 years. Longer ones mean nothing for freshness,
/// timeouts or windows, and would overflow the clocks they are added to.
pub const MAX: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Parses a duration such as `24h`, `1h30m`, `500ms`, `7d` or `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration `{text}` needs a unit (ms, s, m, h, d, w)"))?;
        if digits == 0 {
            return Err(format!(
                "invalid duration `{text}`: expected a number before the unit"
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid number in duration `{text}`"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match rest[..unit_len].trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "week" | "weeks" => 604_800.0,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in duration `{text}` (use ms, s, m, h, d or w)"
                ));
            }
        };
        let part = Duration::try_from_secs_f64(number * seconds)
            .ok()
            .and_then(|part| total.checked_add(part))
            .filter(|t| *t <= MAX);
        total = part.ok_or_else(|| format!("duration `{text}` is too long (at most 100 years)"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Renders a duration compactly (`1d2h`, `36m`, `1.5s`).
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        let ms = d.as_millis();
        return if ms == 0 {
            "0s".into()
        } else {
            format!("{ms}ms")
        };
    }
    if secs < 60 {
        let ms = d.subsec_millis();
        return if ms == 0 {
            format!("{secs}s")
        } else {
            format!("{:.1}s", d.as_secs_f64())
        };
    }
    let (days, hours, mins, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut out = String::new();
    for (v, u) in [(days, "d"), (hours, "h"), (mins, "m"), (s, "s")] {
        if v > 0 {
            out.push_str(&format!("{v}{u}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        for text in [
            "99999999999999999999d",
            "1e400s",
            "36501d",
            "99999999999w1s",
            "36500d1d",
        ] {
            let e = parse_duration(text).expect_err(text);
            assert!(e.contains(text), "{text}: {e}");
        }
        assert_eq!(parse_duration("36500d").unwrap(), MAX);
        assert!(parse_duration("1.5.5s").is_err());
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_secs(93_600)), "1d2h");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}
