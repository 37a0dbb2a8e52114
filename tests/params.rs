//! `syndic params`: the banding a scan would choose and its S-curve.

mod common;

use common::*;
use serde_json::Value;

fn params_json(args: &[&str]) -> Value {
    let out = syndic()
        .arg("params")
        .args(args)
        .arg("--json")
        .assert()
        .success();
    parse_json(&out.get_output().stdout, "params --json")
}

/// `(similarity, probability)` of the curve.
fn curve(v: &Value) -> Vec<(f64, f64)> {
    v["curve"]
        .as_array()
        .expect("curve is an array")
        .iter()
        .map(|p| {
            (
                p["similarity"].as_f64().unwrap(),
                p["probability"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn defaults_are_the_banding_of_scan() {
    let v = params_json(&[]);
    assert_eq!(
        (v["bands"].as_u64(), v["rows"].as_u64()),
        (Some(37), Some(3))
    );
    assert_eq!(v["threshold"], 0.5);
    assert_eq!(v["num_perm"], 128);
    assert_eq!(v["chosen"], "threshold");
    // What a scan with the same defaults writes in its report.
    let report = scan(&[arg(&fixture("syndication/corpus.jsonl"))]);
    assert_eq!(report["params"]["banding"]["bands"], v["bands"]);
    assert_eq!(report["params"]["banding"]["rows"], v["rows"]);
    assert_eq!(report["params"]["threshold"], v["threshold"]);
    assert_eq!(report["params"]["num_perm"], v["num_perm"]);

    let out = syndic().arg("params").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("37 bands x 3 rows"), "{text}");
    let out = syndic()
        .args(["params", "--bands", "1", "--rows", "1"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("1 band x 1 row = 1 of 128"), "{text}");
}

#[test]
fn the_curve_is_monotone_from_0_to_1() {
    for args in [
        &[][..],
        &["--threshold", "0.8"][..],
        &["--threshold", "0.3", "--num-perm", "64"][..],
        &["--bands", "9", "--rows", "14"][..],
    ] {
        let c = curve(&params_json(args));
        assert_eq!(c.len(), 21, "{args:?}");
        for (i, &(s, _)) in c.iter().enumerate() {
            assert!((s - i as f64 * 0.05).abs() < 1e-12, "{args:?}: {s}");
        }
        assert_eq!(c[0].1, 0.0);
        assert_eq!(c[20].1, 1.0);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1), "{args:?}: {c:?}");
    }
}

#[test]
fn given_bands_and_rows() {
    let v = params_json(&["--bands", "25", "--rows", "5"]);
    assert_eq!(v["chosen"], "given");
    let c = curve(&v);
    let half = c.iter().find(|p| (p.0 - 0.5).abs() < 1e-12).unwrap().1;
    // 1 - (1 - 0.5^5)^25 = 0.5478...
    assert_eq!((half * 1000.0).round(), 548.0, "{half}");
    let knee = v["knee"].as_f64().unwrap();
    assert!((knee - (1.0f64 / 25.0).powf(0.2)).abs() < 1e-12);
}

#[test]
fn reaches_gives_the_similarity_of_each_probability() {
    let v = params_json(&["--bands", "20", "--rows", "4"]);
    let reaches = v["reaches"].as_array().unwrap();
    let levels: Vec<f64> = reaches
        .iter()
        .map(|r| r["probability"].as_f64().unwrap())
        .collect();
    assert_eq!(levels, [0.5, 0.9, 0.99]);
    let mut last = 0.0;
    for r in reaches {
        let (p, s) = (
            r["probability"].as_f64().unwrap(),
            r["similarity"].as_f64().unwrap(),
        );
        assert!(s > last && s < 1.0, "{r}");
        last = s;
        let at = 1.0 - (1.0 - s.powi(4)).powi(20);
        assert!((at - p).abs() < 1e-9, "P({s}) = {at}, not {p}");
    }
}

#[test]
fn default_text_has_a_row_and_a_bar_per_similarity() {
    let out = syndic().arg("params").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.len() == 4 && w.parse::<f64>().is_ok())
        })
        .collect();
    assert_eq!(rows.len(), 21, "{text}");
    // A longer bar for a higher probability; none at 0, the full bar at 1.
    let bar = |l: &str| l.matches('#').count();
    assert_eq!(bar(rows[0]), 0);
    assert!(bar(rows[20]) > bar(rows[5]) && bar(rows[5]) > 0, "{text}");
    assert!(text.contains("reaches 0.99"), "{text}");
}

#[test]
fn bad_parameters_are_usage_errors() {
    for (args, want) in [
        (&["--threshold", "1.5"][..], "--threshold"),
        (&["--threshold", "0"][..], "--threshold"),
        (&["--num-perm", "4"][..], "--num-perm"),
        (&["--bands", "30", "--rows", "5"][..], "--num-perm"),
        (&["--bands", "0", "--rows", "5"][..], "bands"),
        (&["--bands", "25"][..], "--rows"),
        (&["--threshold", "half"][..], "--threshold"),
    ] {
        let out = syndic().arg("params").args(args).assert().code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn help_documents_the_json_keys() {
    let out = syndic().args(["params", "--help"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for key in ["p_at_threshold", "reaches", "knee", "curve_at"] {
        assert!(text.contains(key), "{key}:\n{text}");
    }
}

/// A reader that goes away before the output is written (`syndic params | head -1`, or a pipe
/// closed at once) is no error and no panic: the command exits 0 and says nothing on stderr.
#[cfg(target_os = "linux")]
#[test]
fn a_closed_output_pipe_is_not_a_crash() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::Stdio;
    for args in [&["params"][..], &["params", "--json"][..]] {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both descriptors were just returned by pipe(2) and are owned here only.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_syndic"))
            .args(args)
            .stdout(Stdio::from(write))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}
