//! `syndic eval`: score a report (or `id<TAB>cluster` lines) against ground truth.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{json, Value};
use syndic::eval::{self, ClusterScores, LineScores, PairLabel, PairScores, Scores};

pub const EXAMPLES: &str = "Examples:
  syndic eval report.json --truth truth.jsonl        # story labels: pairwise P/R/F1, ARI
  syndic eval report.json --truth pairs.jsonl        # labelled pairs
  syndic eval annotations.jsonl --truth lines.jsonl  # labelled boilerplate lines";

const KEYS: &str = "\
Truth, auto-detected from the keys of its first line:
  story labels    {\"id\": .., \"story\": ..} per line, every document of the corpus (gen_news.py's
                  truth.jsonl); a predicted id that is not labelled is an error
  labelled pairs  {\"a\": id, \"b\": id, \"label\": \"copy\" | \"rewrite\" | \"different\"} per line
  labelled lines  {\"id\": id, \"line\": index, \"label\": \"furniture\" | \"content\"} per line; REPORT
                  is then the annotations file of `syndic scan --annotations`
Other fields are ignored. Documents the report does not name are singletons.

With story labels a pair of documents is predicted when both sit in one cluster, true when both
tell one story; the numbers are those of shared/bench/score.py.

--json prints one object. With story labels:
  mode                \"labels\"
  report, truth       the files
  docs                labelled documents
  pred_clusters       predicted groups among them (clusters, and each document in none)
  true_stories        distinct stories
  pred_pairs          pairs in one predicted cluster
  true_pairs          pairs of one story
  tp_pairs            pairs both predicted and true
  precision, recall   tp_pairs / pred_pairs (1 if none), tp_pairs / true_pairs (1 if none)
  f1                  their harmonic mean (0 if both are 0)
  ari                 Adjusted Rand Index (1 if its denominator is 0)
  missing_from_pred   labelled documents in no cluster
With labelled pairs:
  mode                \"pairs\"
  report, truth       the files
  labels              {\"copy\", \"rewrite\", \"different\", \"all\"}: each {\"pairs\", \"clustered\" (both in
                      one cluster), \"linked\" (in different clusters that the report's links
                      join: a story printed in a roundup), \"missing\" (neither, and one id or
                      both in no cluster)}; a pair clustered or linked is found
  precision           found copy and rewrite pairs / all found pairs (1 if none)
  recall_copy         found copy pairs / copy pairs (1 if none)
  recall_copy_rewrite found copy and rewrite pairs / copy and rewrite pairs (1 if none)
  f1                  harmonic mean of precision and recall_copy_rewrite
With labelled lines:
  mode                \"lines\"
  furniture, content  labelled lines of each kind; furniture_flagged, content_flagged: of those,
                      the lines flagged as boilerplate
  precision, recall   flagged furniture / flagged labelled lines, / furniture (1 if none)
  f1                  their harmonic mean";

#[derive(clap::Args)]
#[command(after_long_help = format!("{EXAMPLES}\n\n{KEYS}"))]
pub struct Args {
    /// The clusters to score: a syndic report (JSON), or `id<TAB>cluster` lines (TSV); with
    /// labelled lines, an annotations file (`--annotations`). Gzip and zstd are read too.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// Ground truth (JSONL): story labels or labelled pairs (see below).
    #[arg(long, value_name = "TRUTH.jsonl")]
    pub truth: PathBuf,
    /// Print one JSON object (keys below) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let scores = eval::evaluate(&a.report, &a.truth)?;
    let files = (
        a.report.display().to_string(),
        a.truth.display().to_string(),
    );
    if a.json {
        let mut v = match &scores {
            Scores::Labels(s) => with_mode("labels", s),
            Scores::Pairs(s) => pairs_json(s),
            Scores::Lines(s) => with_mode("lines", s),
        };
        let obj = v.as_object_mut().expect("an object");
        obj.insert("report".into(), files.0.into());
        obj.insert("truth".into(), files.1.into());
        crate::print_stdout(&(serde_json::to_string(&v)? + "\n"))?;
    } else {
        let mut out = String::new();
        match &scores {
            Scores::Labels(s) => {
                outln!(out, "{} against story labels in {}\n", files.0, files.1);
                out.push_str(&labels_table(s));
            }
            Scores::Pairs(s) => {
                outln!(out, "{} against labelled pairs in {}\n", files.0, files.1);
                out.push_str(&pairs_table(s));
            }
            Scores::Lines(s) => {
                outln!(out, "{} against labelled lines in {}\n", files.0, files.1);
                out.push_str(&lines_table(s));
            }
        }
        crate::print_stdout(&out)?;
    }
    if let Scores::Pairs(s) = &scores {
        let t = s.total();
        if t.pairs > 0 && t.missing == t.pairs {
            eprintln!(
                "syndic: note: no labelled pair has both documents in the report's clusters; \
                 are the report and the truth from the same corpus?"
            );
        }
    }
    Ok(())
}

/// `{"mode": mode}` followed by the fields of `scores`.
fn with_mode(mode: &str, scores: &impl serde::Serialize) -> Value {
    let mut v = json!({ "mode": mode });
    let scores = serde_json::to_value(scores).expect("scores serialize");
    v.as_object_mut()
        .expect("an object")
        .extend(scores.as_object().expect("an object").clone());
    v
}

fn pairs_json(s: &PairScores) -> Value {
    let mut labels = serde_json::Map::new();
    for l in PairLabel::ALL {
        labels.insert(l.name().into(), json!(s.counts(l)));
    }
    labels.insert("all".into(), json!(s.total()));
    json!({
        "mode": "pairs",
        "labels": labels,
        "precision": s.precision,
        "recall_copy": s.recall_copy,
        "recall_copy_rewrite": s.recall_copy_rewrite,
        "f1": s.f1,
    })
}

fn lines_table(s: &LineScores) -> String {
    let n = |x: u64| x.to_string();
    let f = |x: f64| format!("{x:.4}");
    aligned(&[
        ("furniture lines", n(s.furniture), ""),
        ("  flagged", n(s.furniture_flagged), ""),
        ("content lines", n(s.content), ""),
        ("  flagged", n(s.content_flagged), ""),
        (
            "precision",
            f(s.precision),
            "flagged furniture / flagged lines",
        ),
        ("recall", f(s.recall), "flagged furniture / furniture"),
        ("F1", f(s.f1), ""),
    ])
}

/// Rows of (name, value, note), the values right-aligned in one column.
fn aligned(rows: &[(&str, String, &str)]) -> String {
    let name_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let val_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, value, note) in rows {
        let line = format!("{name:<name_w$}  {value:>val_w$}  {note}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn labels_table(s: &ClusterScores) -> String {
    let n = |x: u64| x.to_string();
    let f = |x: f64| format!("{x:.4}");
    aligned(&[
        ("documents", n(s.docs), ""),
        ("in no cluster", n(s.missing_from_pred), "(singletons)"),
        (
            "predicted clusters",
            n(s.pred_clusters),
            "(singletons included)",
        ),
        ("true stories", n(s.true_stories), "(singletons included)"),
        ("predicted pairs", n(s.pred_pairs), ""),
        ("true pairs", n(s.true_pairs), ""),
        ("correct pairs", n(s.tp_pairs), ""),
        ("precision", f(s.precision), "correct / predicted pairs"),
        ("recall", f(s.recall), "correct / true pairs"),
        ("F1", f(s.f1), ""),
        ("ARI", f(s.ari), "adjusted Rand index"),
    ])
}

fn pairs_table(s: &PairScores) -> String {
    let mut out = format!(
        "{:<10} {:>9} {:>10} {:>7} {:>11}\n",
        "label", "pairs", "clustered", "linked", "missing id"
    );
    let total = s.total();
    let rows = PairLabel::ALL
        .into_iter()
        .map(|l| (l.name(), s.counts(l)))
        .chain([("all", &total)]);
    for (name, c) in rows {
        out += &format!(
            "{name:<10} {:>9} {:>10} {:>7} {:>11}\n",
            c.pairs, c.clustered, c.linked, c.missing
        );
    }
    out.push('\n');
    let f = |x: f64| format!("{x:.4}");
    out += &aligned(&[
        (
            "precision",
            f(s.precision),
            "found copy+rewrite / all found (clustered or linked) pairs",
        ),
        ("recall (copy)", f(s.recall_copy), "found / copy pairs"),
        (
            "recall (copy+rewrite)",
            f(s.recall_copy_rewrite),
            "found / copy+rewrite pairs",
        ),
        ("F1", f(s.f1), "precision and recall (copy+rewrite)"),
    ]);
    out
}
