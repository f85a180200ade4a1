//! A profile as text for a terminal, JSON for a pipeline, and one HTML page with a
//! histogram per numeric column (inline SVG, no network assets).

use super::{ColumnProfile, DatasetProfile};
use crate::report::junit::escape;
use crate::report::text::human_bytes;

/// The JSON document `dq profile --format json` writes.
pub fn json(profiles: &[DatasetProfile]) -> String {
    let doc = serde_json::json!({ "profile_version": 1, "datasets": profiles });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// A count with thousands separators (`10,000,000`).
pub(crate) fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn number(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{:.4}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn distinct(c: &ColumnProfile) -> String {
    match &c.distinct {
        Some(d) if d.method == "exact" => count(d.count),
        Some(d) if d.method == "hyperloglog" => format!("≈{}", count(d.count)),
        Some(d) => format!(">{}", count(d.count)),
        None => "—".into(),
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn range(c: &ColumnProfile) -> String {
    match (&c.min, &c.max) {
        (Some(a), Some(b)) => format!("{} … {}", clip(a, 24), clip(b, 24)),
        _ => "—".into(),
    }
}

fn details(c: &ColumnProfile) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(n) = &c.numbers {
        let mut parts = Vec::new();
        if let Some(m) = n.mean {
            parts.push(format!("mean {}", number(m)));
        }
        if let Some(s) = n.stddev {
            parts.push(format!("stddev {}", number(s)));
        }
        if n.quantiles.len() == super::sketches::QUANTILE_STEPS + 1 {
            let q = |i: usize| number(n.quantiles[i]);
            parts.push(format!(
                "p5 {} · p25 {} · p50 {} · p75 {} · p95 {}",
                q(1),
                q(5),
                q(10),
                q(15),
                q(19)
            ));
        }
        if n.nan > 0 {
            parts.push(format!("{} NaN", count(n.nan)));
        }
        if !parts.is_empty() {
            lines.push(parts.join(" · "));
        }
    }
    if let Some(l) = &c.length {
        lines.push(format!("length {}…{}", l.min, l.max));
    }
    if let Some(f) = &c.frequent {
        if !f.values.is_empty() {
            let shown: Vec<String> = f
                .values
                .iter()
                .take(5)
                .map(|v| {
                    format!(
                        "{} ({}{})",
                        clip(&v.value, 24),
                        if f.exact { "" } else { "≥" },
                        count(v.count)
                    )
                })
                .collect();
            lines.push(format!("top {}", shown.join(", ")));
        }
    }
    for m in &c.formats {
        lines.push(format!(
            "format {}: {} of {} sampled values",
            m.format,
            count(m.matched),
            count(m.sampled)
        ));
    }
    lines
}

/// The terminal rendering: one block per dataset, one line per column and its details.
pub fn text(profiles: &[DatasetProfile]) -> String {
    let mut out = String::new();
    for p in profiles {
        out.push_str(&format!(
            "{}  {} rows · {} files · {}",
            p.dataset,
            count(p.rows),
            p.files,
            human_bytes(p.bytes)
        ));
        if let Some(parts) = &p.partitions {
            out.push_str(&format!(
                " · ≈{} partitions ({}), newest {}",
                count(parts.count),
                parts.columns.join(", "),
                parts.newest.as_deref().unwrap_or("—")
            ));
        }
        out.push_str(&format!(" · profiled in {:.2} s\n", p.seconds));
        let width = p
            .columns
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        out.push_str(&format!(
            "  {:width$}  {:13}  {:>15}  {:>11}  {}\n",
            "column", "type", "nulls", "distinct", "min … max"
        ));
        for c in &p.columns {
            let nulls = if c.nulls == 0 {
                "0".to_string()
            } else {
                format!("{} ({:.2} %)", count(c.nulls), c.null_fraction * 100.0)
            };
            out.push_str(&format!(
                "  {:width$}  {:13}  {:>15}  {:>11}  {}\n",
                c.name,
                clip(&c.data_type, 13),
                nulls,
                distinct(c),
                range(c)
            ));
            for line in details(c) {
                out.push_str(&format!("  {:width$}    {line}\n", ""));
            }
        }
        out.push('\n');
    }
    out.push_str("distinct: exact, ≈ HyperLogLog estimate (±2 %), > lower bound; top counts with ≥ are lower bounds\n");
    out
}

/// An equi-depth histogram drawn as bars of equal area: each of the 20 bins between two
/// quantiles holds 5 % of the values, so its height is inverse to its width.
fn histogram(q: &[f64]) -> String {
    const W: f64 = 320.0;
    const H: f64 = 60.0;
    let (lo, hi) = (q[0], q[q.len() - 1]);
    if hi.is_nan() || lo.is_nan() || hi <= lo {
        return String::new();
    }
    let x = |v: f64| (v - lo) / (hi - lo) * W;
    let densities: Vec<f64> = q
        .windows(2)
        .map(|w| {
            if w[1] > w[0] {
                1.0 / (w[1] - w[0])
            } else {
                f64::INFINITY
            }
        })
        .collect();
    let finite_max = densities
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .fold(0.0, f64::max);
    let bars: String = q
        .windows(2)
        .zip(&densities)
        .map(|(w, d)| {
            let h = if d.is_finite() && finite_max > 0.0 { d / finite_max * H } else { H };
            let width = (x(w[1]) - x(w[0])).max(1.0);
            format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{h:.1}\"><title>{} … {}: 5 %</title></rect>",
                x(w[0]),
                H - h,
                escape(&number(w[0])),
                escape(&number(w[1]))
            )
        })
        .collect();
    format!(
        "<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" class=\"hist\">{bars}</svg>"
    )
}

/// One self-contained HTML page for the profiled datasets.
pub fn html(profiles: &[DatasetProfile]) -> String {
    let mut body = String::from("<h1>dq profile</h1>\n");
    for p in profiles {
        body.push_str(&format!(
            "<h2>{}</h2><p class=\"muted\">{} · {} rows · {} files · {}{}</p>\n<table><tr><th>column</th><th>type</th><th>nulls</th><th>distinct</th><th>min … max</th><th>details</th><th>histogram</th></tr>\n",
            escape(&p.dataset),
            escape(&p.url),
            count(p.rows),
            p.files,
            human_bytes(p.bytes),
            p.partitions
                .as_ref()
                .map(|x| format!(" · ≈{} partitions, newest {}", count(x.count), escape(x.newest.as_deref().unwrap_or("—"))))
                .unwrap_or_default()
        ));
        for c in &p.columns {
            let hist = c
                .numbers
                .as_ref()
                .filter(|n| n.quantiles.len() > 2)
                .map(|n| histogram(&n.quantiles))
                .unwrap_or_default();
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{} ({:.2} %)</td><td>{}</td><td>{}</td><td>{}</td><td>{hist}</td></tr>\n",
                escape(&c.name),
                escape(&c.data_type),
                count(c.nulls),
                c.null_fraction * 100.0,
                escape(&distinct(c)),
                escape(&range(c)),
                details(c).iter().map(|l| escape(l)).collect::<Vec<_>>().join("<br>")
            ));
        }
        body.push_str("</table>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dq profile</title><style>{STYLE}</style></head>\n<body>\n{body}<p class=\"muted\">Histograms: 20 bins of 5 % of the values each, between t-digest quantiles. Distinct: ≈ is a HyperLogLog estimate.</p></body></html>\n"
    )
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1300px;color:#1d2430;padding:0 1rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.muted{color:#57606a}svg.hist rect{fill:#0969da}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bars_have_equal_area() {
        let q: Vec<f64> = (0..=20).map(|i| i as f64).collect();
        let svg = histogram(&q);
        assert_eq!(svg.matches("<rect").count(), 20);
        // Uniform quantiles: every bar at full height.
        assert_eq!(svg.matches("height=\"60.0\"").count(), 20);
        assert!(histogram(&[1.0; 21]).is_empty());
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(count(10_000_000), "10,000,000");
        assert_eq!(count(999), "999");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(3.0), "3");
    }
}
