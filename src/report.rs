//! The JSON report: the clusters a run found, the boilerplate it flagged, counts, the parameters
//! that produced it, and (in `run` only) what may differ between runs: timings, version, threads.
//!
//! Order is deterministic: clusters by the input position of their first member; members with the
//! representative first, then in input order; templates by document count, then text. Floats are
//! rounded to 4 decimals. The schema is documented in README.md ("Report schema").

use serde::{Deserialize, Serialize};

use crate::boilerplate::{Status, Template};
use crate::pipeline::{Config, Scan, Stats};

pub const FORMAT: &str = "syndic-report/1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub clusters: Vec<ClusterOut>,
    pub boilerplate: BoilerplateOut,
    pub stats: Stats,
    pub params: Config,
    pub run: RunInfo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterOut {
    pub id: u32,
    pub representative: String,
    /// Clusters that share a family id are linked by verified pairs through other documents:
    /// related stories, not copies of one another.
    pub family: u32,
    pub size: u32,
    pub members: Vec<MemberOut>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberOut {
    pub id: String,
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    pub similarity: f64,
    pub containment: f64,
    pub exact: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoilerplateOut {
    pub status: Status,
    pub lines_flagged: u64,
    pub documents_with_flags: u64,
    pub templates: Vec<Template>,
}

/// What may differ between runs of the same input and parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub version: String,
    pub threads: usize,
    pub seconds: f64,
    pub stages: Vec<(String, f64)>,
    /// `--memory-limit` in bytes, if one was given.
    #[serde(default)]
    pub memory_limit: Option<u64>,
    /// What went to scratch files to stay within it ("texts", "band tables", ...).
    #[serde(default)]
    pub spilled: Vec<String>,
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Builds the report of a scan.
pub fn build(scan: &Scan, cfg: &Config, run: RunInfo) -> Report {
    // Families are numbered in order of their first cluster.
    let mut family_ids = std::collections::HashMap::new();
    for c in &scan.clusters {
        let next = family_ids.len() as u32;
        family_ids.entry(c.family).or_insert(next);
    }
    let clusters = scan
        .clusters
        .iter()
        .enumerate()
        .map(|(i, c)| ClusterOut {
            id: i as u32,
            representative: scan.docs[c.representative as usize].id.clone(),
            family: family_ids[&c.family],
            size: c.members.len() as u32,
            members: c
                .members
                .iter()
                .map(|m| {
                    let d = &scan.docs[m.doc as usize];
                    MemberOut {
                        id: d.id.clone(),
                        source: d.source.clone(),
                        date: d.date.clone(),
                        similarity: round4(m.similarity),
                        containment: round4(m.containment),
                        exact: m.exact,
                    }
                })
                .collect(),
        })
        .collect();
    let mut templates = scan.boilerplate.templates.clone();
    for t in &mut templates {
        t.position_share = round4(t.position_share);
    }
    Report {
        format: FORMAT.to_string(),
        clusters,
        boilerplate: BoilerplateOut {
            status: scan.boilerplate.status,
            lines_flagged: scan.stats.boilerplate_lines,
            documents_with_flags: scan.stats.documents_with_boilerplate,
            templates,
        },
        stats: scan.stats.clone(),
        params: cfg.clone(),
        run,
    }
}

impl Report {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a report always serializes");
        s.push('\n');
        s
    }
}

/// One line of the `--annotations` file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: String,
    pub boilerplate_lines: Vec<u32>,
}

/// The annotation lines (JSONL) for every document with flagged lines, in input order.
pub fn annotations_jsonl(scan: &Scan) -> String {
    let mut out = String::new();
    for (d, doc) in scan.docs.iter().enumerate() {
        if !scan.boilerplate.mask.any(d) {
            continue;
        }
        let a = Annotation {
            id: doc.id.clone(),
            boilerplate_lines: scan.boilerplate.mask.flagged(d),
        };
        out.push_str(&serde_json::to_string(&a).expect("serializes"));
        out.push('\n');
    }
    out
}
