//! The ways real syndication goes wrong, on `fixtures/syndication4` (written by
//! `fixtures/make_fixtures.py`, described by its `expected.json`), each shown twice: with the
//! option that exhibits the failure and with the setting that fixes it, so that the pair of
//! assertions proves the fix matters.
//!
//! - a truncated copy (the first 6 of 13 paragraphs, retitled) is joined by containment, and
//!   missed by Jaccard alone (`--no-containment`);
//! - a roundup that quotes two stories whole does not merge them under pivot clustering (the
//!   default), and does under `--cluster components`;
//! - a templated item whose wording drifts along a chain of eight countries is broken into
//!   clusters of verified copies by pivots, and chained into one cluster by components;
//! - `--max-days` keeps copies dated 2 days apart, splits copies 10 days apart and a copy whose
//!   date does not parse, and leaves undated copies alone; without it all of them join.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::*;
use serde_json::Value;

struct Fixture {
    corpus: PathBuf,
    expected: Value,
}

fn load() -> Fixture {
    let expected = read_json(&fixture("syndication4/expected.json"));
    let corpus = fixture("syndication4").join(str_of(&expected, "corpus"));
    Fixture { corpus, expected }
}

impl Fixture {
    /// `syndic scan` of the corpus with `options`.
    fn scan(&self, options: &[&str]) -> Value {
        let mut args = options.to_vec();
        args.push(arg(&self.corpus));
        scan(&args)
    }

    /// The corpus records by id.
    fn records(&self) -> BTreeMap<String, Value> {
        read_jsonl(&self.corpus)
            .into_iter()
            .map(|r| (str_of(&r, "id").to_string(), r))
            .collect()
    }
}

/// Whether `a` and `b` are members of one cluster.
fn together(report: &Value, a: &str, b: &str) -> bool {
    let of = cluster_of(report);
    matches!((of.get(a), of.get(b)), (Some(x), Some(y)) if x == y)
}

/// The cluster holding `id`, if any.
fn cluster_with<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    clusters(report)
        .iter()
        .find(|c| member_ids(c).iter().any(|m| m == id))
}

fn score(m: &Value, key: &str) -> f64 {
    m[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {m}"))
}

/// Whether a member, as reported, passes the default verification rule against its cluster's
/// representative: similarity at least 0.5 or containment at least 0.7.
fn verifies(m: &Value) -> bool {
    score(m, "similarity") >= 0.5 || score(m, "containment") >= 0.7
}

/// The clusters of a report, for failure messages.
fn show(report: &Value) -> String {
    clusters(report)
        .iter()
        .map(|c| {
            let members: Vec<String> = c["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    format!(
                        "{} (sim {}, cont {})",
                        str_of(m, "id"),
                        m["similarity"],
                        m["containment"]
                    )
                })
                .collect();
            format!("family {}: {}", c["family"], members.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n  ")
}

#[test]
fn truncated_copy_is_joined_by_containment_and_missed_by_jaccard_alone() {
    let fx = load();
    let t = &fx.expected["truncated"];
    let (full, excerpt) = (str_of(t, "full"), str_of(t, "excerpt"));

    // The fixture is what it claims: a new headline over the first paragraphs of the story.
    let records = fx.records();
    let full_lines: Vec<&str> = str_of(&records[full], "text").split('\n').collect();
    let excerpt_lines: Vec<&str> = str_of(&records[excerpt], "text").split('\n').collect();
    let kept = t["paragraphs"][0].as_u64().unwrap() as usize;
    let of = t["paragraphs"][1].as_u64().unwrap() as usize;
    assert!(
        2 * kept <= of && 5 * kept >= 2 * of,
        "{kept} of {of} paragraphs"
    );
    assert_eq!(excerpt_lines.len(), 1 + kept);
    assert_ne!(excerpt_lines[0], full_lines[0], "the excerpt is retitled");
    assert_eq!(excerpt_lines[1..], full_lines[1..1 + kept]);

    // Default: joined, as the contained copy it is; Jaccard alone would not have done it.
    let report = fx.scan(&[]);
    assert!(
        together(&report, full, excerpt),
        "defaults: {excerpt} must join {full}:\n  {}",
        show(&report)
    );
    let c = cluster_with(&report, full).unwrap();
    assert_eq!(str_of(c, "representative"), full, "the longest is kept");
    let m = member(&report, excerpt);
    assert!(
        score(m, "similarity") < 0.5 && score(m, "containment") >= 0.7,
        "{excerpt} is a copy by containment only: {m}"
    );

    // --no-containment: Jaccard alone misses it, and neither document is in any cluster.
    let report = fx.scan(&["--no-containment"]);
    let clustered = cluster_of(&report);
    for id in [full, excerpt] {
        assert!(
            !clustered.contains_key(id),
            "--no-containment: {id} must be in no cluster:\n  {}",
            show(&report)
        );
    }
}

#[test]
fn roundup_does_not_merge_the_stories_it_quotes() {
    let fx = load();
    let r = &fx.expected["roundup"];
    let digest = str_of(r, "digest");
    let stories: Vec<Vec<String>> = r["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    assert_eq!(stories.len(), 2);
    let (x, y) = (&stories[0][0], &stories[1][0]);

    // --cluster components: the digest links the two stories into one cluster.
    let report = fx.scan(&["--cluster", "components"]);
    for id in stories.iter().flatten() {
        assert!(
            together(&report, digest, id),
            "--cluster components: {id} is chained to {digest}:\n  {}",
            show(&report)
        );
        // Each story is quoted whole but is less than half of the digest: a copy by containment
        // only, which is what the anti-roundup rule looks at.
        let m = member(&report, id);
        assert!(
            score(m, "similarity") < 0.5 && score(m, "containment") >= 0.7,
            "{id} against {digest}: {m}"
        );
    }
    assert!(together(&report, x, y));

    // Default (pivots): each story stays with its own copy, the two stories apart, whichever of
    // them the digest joins; the link is still reported, as one family.
    let report = fx.scan(&[]);
    for story in &stories {
        assert!(
            together(&report, &story[0], &story[1]),
            "defaults: {} and its copy {}:\n  {}",
            story[0],
            story[1],
            show(&report)
        );
    }
    assert!(
        !together(&report, x, y),
        "defaults: the stories {x} and {y} must not share a cluster:\n  {}",
        show(&report)
    );
    let (cx, cy) = (
        cluster_with(&report, x).unwrap(),
        cluster_with(&report, y).unwrap(),
    );
    assert_eq!(cx["family"], cy["family"], "linked through {digest}");
    for c in [cx, cy] {
        for m in c["members"].as_array().unwrap() {
            assert!(verifies(m), "defaults: a member that is no copy: {m}");
        }
    }
    // The story whose cluster the digest did not join is linked to it: a link from a document
    // of that story (the part) to the digest (the whole), never one between the two stories.
    let links = report["links"].as_array().expect("a links list");
    let digest_cluster = cluster_with(&report, digest).map(|c| c["id"].clone());
    let other = stories
        .iter()
        .find(|s| cluster_with(&report, &s[0]).map(|c| c["id"].clone()) != digest_cluster)
        .expect("the digest is in one story's cluster at most");
    assert!(
        links.iter().any(|l| l["whole"] == digest
            && other.iter().any(|id| l["part"] == id.as_str())
            && l["containment"].as_f64().unwrap() >= 0.7),
        "defaults: a link from {other:?} into {digest}: {links:?}"
    );
    for l in links {
        let (a, b) = (l["part"].as_str().unwrap(), l["whole"].as_str().unwrap());
        assert!(
            a == digest || b == digest,
            "the stories are linked to the digest only: {l}"
        );
        assert_eq!(
            l["part_cluster"],
            cluster_with(&report, a).map_or(Value::Null, |c| c["id"].clone())
        );
    }
    assert_eq!(report["stats"]["links"], links.len());
}

#[test]
fn templated_chain_is_broken_into_clusters_of_verified_copies() {
    let fx = load();
    let chain = strings(&fx.expected["chain"]);
    assert!((6..=8).contains(&chain.len()));
    let (first, last) = (&chain[0], &chain[chain.len() - 1]);

    // --cluster components (and no template masking, which breaks such chains on its own when one
    // source prints several items of the series): neighbours are copies, so the whole chain is one
    // cluster, holding items that are no copies of its representative (the ends share only the
    // template's opening).
    let report = fx.scan(&["--cluster", "components", "--source-template-docs", "0"]);
    for id in &chain[1..] {
        assert!(
            together(&report, first, id),
            "--cluster components: {id} is chained to {first}:\n  {}",
            show(&report)
        );
    }
    let c = cluster_with(&report, first).unwrap();
    assert_eq!(
        member_ids(c).len(),
        chain.len(),
        "--cluster components: the cluster holds the chain's items only:\n  {}",
        show(&report)
    );
    let strays: Vec<&Value> = c["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !verifies(m))
        .collect();
    assert!(
        !strays.is_empty(),
        "--cluster components: some member fails verification against the representative:\n  {}",
        show(&report)
    );

    // Pivots (the default clustering), template masking off: the chain is broken; every cluster
    // holds chain items only, each sharing at least 40% of its shingles with the representative
    // (a member joins through the member it was verified against, and must share 40% with every
    // member: syndic::cluster::COMPATIBLE); items four or more steps apart, which share less
    // (about 30%), are never together; the clusters are reported as one family.
    let report = fx.scan(&["--source-template-docs", "0"]);
    let of = cluster_of(&report);
    let ids: Vec<usize> = chain.iter().filter_map(|id| of.get(id).copied()).collect();
    assert!(
        !ids.is_empty(),
        "defaults: neighbours are copies:\n  {}",
        show(&report)
    );
    assert!(
        ids.iter().any(|&i| i != ids[0]) || ids.len() < chain.len(),
        "defaults: the chain must not be one cluster:\n  {}",
        show(&report)
    );
    assert!(!together(&report, first, last), "{first} and {last}");
    let mut families = Vec::new();
    for (i, c) in clusters(&report).iter().enumerate() {
        if !ids.contains(&i) {
            continue;
        }
        families.push(c["family"].clone());
        for m in c["members"].as_array().unwrap() {
            let id = str_of(m, "id").to_string();
            assert!(chain.contains(&id), "{id} in a cluster of the chain");
            assert!(
                score(m, "containment") >= 0.4,
                "defaults: {id} shares less than 40% with {}:\n  {}",
                str_of(c, "representative"),
                show(&report)
            );
        }
    }
    for (i, a) in chain.iter().enumerate() {
        for b in chain.iter().skip(i + 4) {
            assert!(
                !together(&report, a, b),
                "defaults: {a} and {b} are four or more steps apart:\n  {}",
                show(&report)
            );
        }
    }
    families.dedup();
    assert_eq!(
        families.len(),
        1,
        "defaults: the chain's clusters are one family:\n  {}",
        show(&report)
    );
}

#[test]
fn date_window_keeps_near_copies_and_splits_far_and_unparsable_ones() {
    let fx = load();
    let d = &fx.expected["dates"];
    let pair = |key: &str| -> (String, String) {
        let p = strings(&d[key]);
        assert_eq!(p.len(), 2, "{key}");
        (p[0].clone(), p[1].clone())
    };
    let (near, far, unparsed, undated) =
        (pair("near"), pair("far"), pair("unparsed"), pair("undated"));
    let window = d["window_days"].as_u64().unwrap().to_string();
    let far_days = d["far_days"].as_u64().unwrap().to_string();
    let records = fx.records();
    assert!(
        records[&undated.1].get("date").is_none(),
        "one undated copy"
    );
    assert_eq!(records[&unparsed.1]["date"], d["unparsable_date"]);

    // Without a window every copy joins, however far apart its dates: the failure mode (a story
    // rerun ten days later is another event's coverage as often as a copy).
    let report = fx.scan(&[]);
    for (a, b) in [&near, &far, &unparsed, &undated] {
        assert!(
            together(&report, a, b),
            "no window: {a} and {b}:\n  {}",
            show(&report)
        );
    }

    // --max-days 3: copies 2 days apart (one dated ISO 8601, the other RFC 2822) stay, copies
    // 10 days apart split, a copy whose date does not parse joins nothing (and is counted), an
    // undated copy is unconstrained.
    let report = fx.scan(&["--max-days", &window]);
    assert!(
        together(&report, &near.0, &near.1),
        "--max-days {window}: {near:?}:\n  {}",
        show(&report)
    );
    assert!(
        together(&report, &undated.0, &undated.1),
        "--max-days {window}: {undated:?}:\n  {}",
        show(&report)
    );
    let clustered = cluster_of(&report);
    for id in [&far.0, &far.1, &unparsed.0, &unparsed.1] {
        assert!(
            !clustered.contains_key(id),
            "--max-days {window}: {id} must be in no cluster:\n  {}",
            show(&report)
        );
    }
    assert_eq!(report["stats"]["dates_unparsed"], 1, "{}", report["stats"]);
    // The member keeps its date as given.
    assert_eq!(member(&report, &near.1)["date"], records[&near.1]["date"]);

    // The dates are read as the right instants, not merely parsed: the near pair is 1 day
    // 23 hours apart (RFC 2822 with an offset against ISO 8601 in UTC), the far pair exactly
    // 10 days (RFC 2822 in GMT against ISO 8601 with an offset), and a window is inclusive.
    let report = fx.scan(&["--max-days", "1"]);
    assert!(
        !together(&report, &near.0, &near.1),
        "--max-days 1: {near:?}"
    );
    let report = fx.scan(&["--max-days", &far_days]);
    assert!(
        together(&report, &far.0, &far.1),
        "--max-days {far_days}: {far:?}:\n  {}",
        show(&report)
    );
    // An unparsable date never matches, however wide the window.
    assert!(
        !together(&report, &unparsed.0, &unparsed.1),
        "--max-days {far_days}: {unparsed:?}"
    );
}
