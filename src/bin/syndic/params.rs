//! `syndic params`: the LSH banding a scan would use, and its S-curve.

use anyhow::Result;
use serde_json::json;
use syndic::Banding;

const CANDIDATE_FACTOR: f64 = Banding::CANDIDATE_FACTOR;
use syndic::pipeline::Config;
use syndic::report::count;

pub const EXAMPLES: &str = "Examples:
  syndic params
  syndic params --threshold 0.8
  syndic params --bands 20 --rows 5";

const KEYS: &str = "\
A pair of documents with Jaccard similarity s becomes a candidate (and is then verified) with
probability 1 - (1 - s^rows)^bands.

--json prints one object:
  threshold, num_perm   as given (or the defaults)
  bands, rows           the banding
  chosen                \"threshold\" (from --threshold, as scan chooses) or \"given\" (--bands/--rows)
  curve_at              where the S-curve was placed (0.6 x threshold), when chosen
  knee                  the similarity where the curve is steepest, about (1/bands)^(1/rows)
  p_at_threshold        the probability at the threshold
  curve                 [{\"similarity\", \"probability\"}] at similarity 0, 0.05, ..., 1
  reaches               [{\"probability\", \"similarity\"}]: the similarity at which the probability
                        reaches 0.5, 0.9 and 0.99";

/// The probabilities whose similarity is printed.
const LEVELS: [f64; 3] = [0.5, 0.9, 0.99];
/// Curve points: similarity 0, 1/STEPS, ..., 1.
const STEPS: u32 = 20;
/// Width of the bar of probability 1.
const BAR: f64 = 40.0;

#[derive(clap::Args)]
#[command(after_long_help = format!("{EXAMPLES}\n\n{KEYS}"))]
pub struct Args {
    /// Jaccard similarity at which two documents are copies; picks bands x rows as `syndic scan`
    /// does (the S-curve placed at 0.6 x threshold).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// MinHash signature length.
    #[arg(long, default_value_t = 128)]
    pub num_perm: usize,
    /// Number of LSH bands (instead of the choice made from --threshold; needs --rows).
    #[arg(long, requires = "rows")]
    pub bands: Option<usize>,
    /// Rows per LSH band (instead of the choice made from --threshold; needs --bands).
    #[arg(long, requires = "bands")]
    pub rows: Option<usize>,
    /// Print one JSON object (keys below) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The similarity at which the candidate probability of `b` reaches `p` (0 < p < 1).
fn similarity_at(b: &Banding, p: f64) -> f64 {
    (1.0 - (1.0 - p).powf(1.0 / b.bands as f64)).powf(1.0 / b.rows as f64)
}

/// The banding of the arguments, checked as `syndic scan` checks it.
fn banding(a: &Args) -> syndic::Result<Banding> {
    let given = a
        .bands
        .zip(a.rows)
        .map(|(bands, rows)| Banding { bands, rows });
    let mut cfg = Config {
        threshold: a.threshold,
        num_perm: a.num_perm,
        banding: given.unwrap_or(Banding { bands: 1, rows: 1 }),
        ..Config::default()
    };
    cfg.validate()?;
    if given.is_none() {
        cfg.banding = Banding::for_verification(a.threshold, a.num_perm);
        cfg.validate()?;
    }
    Ok(cfg.banding)
}

pub fn run(a: Args) -> Result<()> {
    let b = banding(&a)?;
    let chosen = a.bands.is_none();
    let curve: Vec<(f64, f64)> = (0..=STEPS)
        .map(|i| {
            let s = f64::from(i) / f64::from(STEPS);
            (s, b.probability(s))
        })
        .collect();
    let reaches: Vec<(f64, f64)> = LEVELS.iter().map(|&p| (p, similarity_at(&b, p))).collect();
    if a.json {
        let v = json!({
            "threshold": a.threshold,
            "num_perm": a.num_perm,
            "bands": b.bands,
            "rows": b.rows,
            "chosen": if chosen { "threshold" } else { "given" },
            "curve_at": chosen.then_some(CANDIDATE_FACTOR * a.threshold),
            "knee": b.knee(),
            "p_at_threshold": b.probability(a.threshold),
            "curve": curve
                .iter()
                .map(|&(s, p)| json!({"similarity": s, "probability": p}))
                .collect::<Vec<_>>(),
            "reaches": reaches
                .iter()
                .map(|&(p, s)| json!({"probability": p, "similarity": s}))
                .collect::<Vec<_>>(),
        });
        return crate::print_stdout(&(serde_json::to_string(&v)? + "\n"));
    }
    let mut out = String::new();
    outln!(
        out,
        "banding     {} x {} = {} of {} MinHash values",
        count(b.bands as u64, "band", "bands"),
        count(b.rows as u64, "row", "rows"),
        b.bands * b.rows,
        a.num_perm
    );
    if chosen {
        outln!(out,
            "            chosen for --threshold {}: S-curve placed at {CANDIDATE_FACTOR} x {} = {:.3}",
            a.threshold,
            a.threshold,
            CANDIDATE_FACTOR * a.threshold
        );
    } else {
        outln!(out, "            as given (--bands, --rows)");
    }
    outln!(
        out,
        "knee        {:.3}  (steepest point of the S-curve)",
        b.knee()
    );
    outln!(
        out,
        "threshold   {}: P(candidate) = {:.4}",
        a.threshold,
        b.probability(a.threshold)
    );
    outln!(out, "\nsimilarity  P(candidate)");
    for (s, p) in &curve {
        let bar = "#".repeat((p * BAR).round() as usize);
        let line = format!("{s:>10.2}  {p:>12.4}  {bar}");
        outln!(out, "{}", line.trim_end());
    }
    outln!(out);
    for (p, s) in &reaches {
        outln!(out, "P(candidate) reaches {p:<4} at similarity {s:.3}");
    }
    crate::print_stdout(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_at_inverts_the_s_curve() {
        for b in [
            Banding { bands: 37, rows: 3 },
            Banding { bands: 25, rows: 5 },
            Banding { bands: 1, rows: 1 },
            Banding { bands: 9, rows: 14 },
        ] {
            for p in [0.01, 0.5, 0.9, 0.99] {
                let s = similarity_at(&b, p);
                assert!((0.0..=1.0).contains(&s), "{b:?} {p}: {s}");
                assert!((b.probability(s) - p).abs() < 1e-9, "{b:?} {p}: {s}");
            }
        }
    }
}
