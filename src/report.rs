//! The JSON report: the clusters a run found, the boilerplate it flagged, counts, the parameters
//! that produced it, and (in `run` only) what may differ between runs: timings, version, threads.
//!
//! Order is deterministic: clusters by the input position of their first member; members with the
//! representative first, then in input order; templates by document count, then text. Floats are
//! rounded to 4 decimals. The schema is documented in README.md ("Report schema").

use serde::{Deserialize, Serialize};

use crate::boilerplate::{Status, Template};
use crate::pipeline::{Config, JoinedBy, Scan, Stats};

/// The report's `format`. Version 2: members' `joined_by` and `joined_via`, templates' `id` and
/// `example`, `run.stages` an object, absent values null rather than left out.
pub const FORMAT: &str = "syndic-report/2";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub clusters: Vec<ClusterOut>,
    /// Verified pairs the clusters leave apart (see [`crate::pipeline::Link`]).
    #[serde(default)]
    pub links: Vec<LinkOut>,
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
    #[serde(default)]
    pub date: Option<String>,
    pub similarity: f64,
    pub containment: f64,
    pub exact: bool,
    /// Why it is in the cluster (see [`JoinedBy`]).
    pub joined_by: JoinedBy,
    /// The id of the member it joined through (`None` for the representative).
    pub joined_via: Option<String>,
}

/// A verified pair of documents in different clusters (or in none): most often a story (`part`)
/// printed inside a longer article (`whole`, a roundup) that is in another cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkOut {
    /// The smaller document, printed inside the other.
    pub part: String,
    /// The id of the cluster `part` is in, if any.
    pub part_cluster: Option<u32>,
    /// The larger document.
    pub whole: String,
    /// The id of the cluster `whole` is in, if any.
    pub whole_cluster: Option<u32>,
    pub similarity: f64,
    /// Containment of `part` in `whole`.
    pub containment: f64,
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
    /// Seconds per stage, in stage order; written as an object (stage name: seconds), read from
    /// an object or (`syndic-report/1`) a list of pairs.
    #[serde(with = "stages")]
    pub stages: Vec<(String, f64)>,
    /// `--memory-limit` in bytes, if one was given.
    #[serde(default)]
    pub memory_limit: Option<u64>,
    /// What went to scratch files to stay within it ("texts", "band tables", ...).
    #[serde(default)]
    pub spilled: Vec<String>,
}

/// `run.stages` as a JSON object in stage order.
mod stages {
    use serde::de::{MapAccess, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(stages: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(stages.iter().map(|(k, v)| (k, v)))
    }

    struct Stages;

    impl<'de> Visitor<'de> for Stages {
        type Value = Vec<(String, f64)>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of stage names and seconds, or a list of [name, seconds]")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = seq.next_element()? {
                out.push(entry);
            }
            Ok(out)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        d.deserialize_any(Stages)
    }
}

/// A count with its noun in English: `count(1, "cluster", "clusters")` is "1 cluster",
/// `count(2, ...)` "2 clusters".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
                        joined_by: m.joined_by,
                        joined_via: m.via.map(|v| scan.docs[v as usize].id.clone()),
                    }
                })
                .collect(),
        })
        .collect();
    let assign = scan.assignment();
    let links = scan
        .links
        .iter()
        .map(|l| LinkOut {
            part: scan.docs[l.part as usize].id.clone(),
            part_cluster: assign[l.part as usize].map(|(c, _)| c),
            whole: scan.docs[l.whole as usize].id.clone(),
            whole_cluster: assign[l.whole as usize].map(|(c, _)| c),
            similarity: round4(l.similarity),
            containment: round4(l.containment),
        })
        .collect();
    let mut templates = scan.boilerplate.templates.clone();
    for t in &mut templates {
        t.position_share = round4(t.position_share);
    }
    Report {
        format: FORMAT.to_string(),
        clusters,
        links,
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
    /// Indexes of the flagged lines in the text split on `\n`, from 0.
    pub boilerplate_lines: Vec<u32>,
    /// The id of the template that flagged each line of `boilerplate_lines` (same length).
    pub templates: Vec<String>,
}

/// The annotation lines (JSONL) for every document with flagged lines, in input order.
pub fn annotations_jsonl(scan: &Scan) -> String {
    let mut out = String::new();
    let b = &scan.boilerplate;
    for (d, lines) in b.flagged_by_doc() {
        let a = Annotation {
            id: scan.docs[d].id.clone(),
            boilerplate_lines: lines.iter().map(|&(i, _)| i).collect(),
            templates: lines
                .iter()
                .map(|&(_, t)| b.templates[t as usize].id.clone())
                .collect(),
        };
        out.push_str(&serde_json::to_string(&a).expect("serializes"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_an_object_in_order_and_old_lists_still_read() {
        let run = RunInfo {
            stages: vec![("read".into(), 1.5), ("exact".into(), 0.25)],
            ..RunInfo::default()
        };
        let v = serde_json::to_value(&run).unwrap();
        assert_eq!(v["stages"], serde_json::json!({"read": 1.5, "exact": 0.25}));
        let keys: Vec<&String> = v["stages"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["read", "exact"]);
        let back: RunInfo = serde_json::from_value(v).unwrap();
        assert_eq!(back, run);
        // syndic-report/1 wrote a list of pairs.
        let old = serde_json::json!({
            "version": "0.1.0", "threads": 2, "seconds": 2.0,
            "stages": [["read", 1.5], ["exact", 0.25]]
        });
        let old: RunInfo = serde_json::from_value(old).unwrap();
        assert_eq!(old.stages, run.stages);
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count(0, "cluster", "clusters"), "0 clusters");
        assert_eq!(count(1, "cluster", "clusters"), "1 cluster");
        assert_eq!(count(2, "story", "stories"), "2 stories");
    }
}
