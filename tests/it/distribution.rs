//! `distribution` checks against SciPy: on samples drawn from known distributions (written
//! by pyarrow, with NULLs and NaNs), dq's Kolmogorov-Smirnov statistic equals
//! `scipy.stats.ks_2samp`'s, its chi-square statistic and p-value equal
//! `scipy.stats.chisquare`'s, and its PSI equals the formula computed in Python — each to
//! 1e-9 — and a resample of the reference passes while a shifted distribution fails.

use crate::common::{dq, generated};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
#[ignore = "needs the pyarrow and SciPy that `make test` installs"]
fn statistics_equal_scipy_and_shifts_fail() {
    let (dir, expected) = generated(
        "tests/differential/distributions.py",
        &["--seed", "20261202"],
    );
    let run = dq(dir.path(), &["validate", "--format", "json"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let report = run.json();
    let mut compared = 0;
    for (dataset, checks) in expected.as_object().unwrap() {
        for (name, want) in checks.as_object().unwrap() {
            let got = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["dataset"] == dataset.as_str() && c["name"] == name.as_str())
                .unwrap_or_else(|| panic!("no check {dataset} {name}"));
            let statistic = got["observed"]["statistic"].as_f64().unwrap();
            let scipy = want["statistic"].as_f64().unwrap();
            assert!(
                close(statistic, scipy),
                "{dataset} {name}: dq {statistic}, SciPy {scipy}"
            );
            if let Some(p) = want.get("p_value") {
                let (dq_p, scipy_p) = (
                    got["observed"]["p_value"].as_f64().unwrap(),
                    p.as_f64().unwrap(),
                );
                assert!(
                    (dq_p - scipy_p).abs() <= 1e-9,
                    "{dataset} {name}: p-value dq {dq_p}, SciPy {scipy_p}"
                );
            }
            let status = if want["pass"].as_bool().unwrap() {
                "pass"
            } else {
                "fail"
            };
            assert_eq!(got["status"], status, "{dataset} {name}: {got:#}");
            compared += 1;
        }
    }
    assert_eq!(compared, 10);
    // The resample passes every test; the shift in mean and in shares fails every one.
    for c in report["checks"].as_array().unwrap() {
        if c["kind"] != "distribution" {
            continue;
        }
        let want = if c["dataset"] == "lake.resample" {
            "pass"
        } else {
            "fail"
        };
        assert_eq!(c["status"], want, "{c:#}");
    }
}
