//! The overview's plots, as inline SVG written by hand (bars and labels; no fonts or scripts).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::escape;
use crate::pipeline::Scan;
use crate::report::Report;

const W: f64 = 560.0;
const BAR: &str = "#3b6ea8";
const BAR2: &str = "#d9822b";
const PALE: &str = "#c9d6e6";

/// A vertical bar chart: `bars` are (label, values per series); `log` draws heights on a log
/// scale.
fn columns(title: &str, series: &[(&str, &str)], bars: &[(String, Vec<u64>)], log: bool) -> String {
    let h = 220.0;
    let (left, bottom, top) = (44.0, 36.0, 28.0);
    let plot_h = h - bottom - top;
    let max = bars
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |v: u64| -> f64 {
        if v == 0 {
            0.0
        } else if log {
            ((v as f64).log10() + 1.0) / ((max as f64).log10() + 1.0) * plot_h
        } else {
            v as f64 / max as f64 * plot_h
        }
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "<figure><svg class=\"plot\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"16\" class=\"title\">{}</text>",
        escape(title)
    );
    // Axis and the largest value.
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#888\"/>",
        y = h - bottom,
        x2 = W - 8.0
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"tick\">{}</text>",
        left - 4.0,
        top + 8.0,
        max
    );
    if log {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"tick\">log</text>",
            left - 4.0,
            top + 22.0
        );
    }
    let n = bars.len().max(1) as f64;
    let slot = (W - left - 8.0) / n;
    let k = series.len().max(1) as f64;
    let bw = (slot * 0.8 / k).max(1.0);
    for (i, (label, values)) in bars.iter().enumerate() {
        let x0 = left + i as f64 * slot + slot * 0.1;
        for (j, &v) in values.iter().enumerate() {
            let bh = scale(v);
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}{}: {}</title></rect>",
                x0 + j as f64 * bw,
                h - bottom - bh,
                bw,
                bh,
                series.get(j).map_or(BAR, |s| s.1),
                escape(label),
                series.get(j).map_or(String::new(), |s| format!(" ({})", s.0)),
                v
            );
        }
        // Label every bar when there are few, else every other.
        if bars.len() <= 12 || i % 2 == 0 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
                x0 + slot * 0.4,
                h - bottom + 14.0,
                escape(label)
            );
        }
    }
    let mut lx = W - 8.0;
    for (name, color) in series.iter().rev() {
        lx -= 8.0 * name.chars().count() as f64 + 20.0;
        let _ = write!(
            s,
            "<rect x=\"{lx:.1}\" y=\"8\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"17\" class=\"tick\">{}</text>",
            lx + 14.0,
            escape(name)
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

/// Horizontal bars, one per label: `(label, value, out of)`; the `out of` bar drawn pale behind.
fn rows(
    title: &str,
    items: &[(String, u64, u64)],
    note: impl Fn(usize, u64, u64) -> String,
) -> String {
    let row = 16.0;
    let (left, top) = (150.0, 26.0);
    let h = top + row * items.len().max(1) as f64 + 8.0;
    let max = items.iter().map(|i| i.2.max(i.1)).max().unwrap_or(0).max(1) as f64;
    let width = W - left - 120.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<figure><svg class=\"plot\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    let _ = write!(
        s,
        "<text x=\"4\" y=\"16\" class=\"title\">{}</text>",
        escape(title)
    );
    if items.is_empty() {
        let _ = write!(s, "<text x=\"4\" y=\"40\" class=\"tick\">none</text>");
    }
    for (i, (label, v, of)) in items.iter().enumerate() {
        let y = top + i as f64 * row;
        let shown: String = label.chars().take(22).collect();
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tick\"><title>{}</title>{}</text>",
            left - 6.0,
            y + 11.0,
            escape(label),
            escape(&shown)
        );
        let _ = write!(
            s,
            "<rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\" fill=\"{PALE}\"/>",
            y + 2.0,
            *of as f64 / max * width,
            row - 4.0
        );
        let _ = write!(
            s,
            "<rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\" fill=\"{BAR}\"/>",
            y + 2.0,
            *v as f64 / max * width,
            row - 4.0
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>",
            left + (*of).max(*v) as f64 / max * width + 4.0,
            y + 11.0,
            escape(&note(i, *v, *of))
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

/// Size bins: 2, 3, 4-5, 6-9, 10-19, 20-49, 50-99, 100-199, ... .
fn size_bin(size: u32) -> (u32, u32) {
    let edges = [
        2u32, 3, 4, 6, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000,
    ];
    for w in edges.windows(2) {
        if size < w[1] {
            return (w[0], w[1] - 1);
        }
    }
    let mut lo = 10_000u32;
    while size >= lo.saturating_mul(10) {
        lo = lo.saturating_mul(10);
    }
    (lo, lo.saturating_mul(10) - 1)
}

const LIST: usize = 25;

/// The four plots of the overview.
pub fn plots(scan: &Scan, report: &Report) -> String {
    let mut out = String::new();

    // Cluster sizes, log scale.
    let mut bins: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for c in &report.clusters {
        *bins.entry(size_bin(c.size)).or_default() += 1;
    }
    let bars: Vec<(String, Vec<u64>)> = bins
        .into_iter()
        .map(|((lo, hi), n)| {
            let label = if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            };
            (label, vec![n])
        })
        .collect();
    out.push_str(&columns(
        "Clusters by size (members)",
        &[("clusters", BAR)],
        &bars,
        true,
    ));

    // Similarity and containment of members with their representative.
    let mut sim = [0u64; 20];
    let mut cont = [0u64; 20];
    for c in &report.clusters {
        for m in c.members.iter().skip(1) {
            sim[((m.similarity * 20.0) as usize).min(19)] += 1;
            cont[((m.containment * 20.0) as usize).min(19)] += 1;
        }
    }
    let bars: Vec<(String, Vec<u64>)> = (0..20)
        .map(|i| (format!("{:.2}", i as f64 / 20.0), vec![sim[i], cont[i]]))
        .collect();
    out.push_str(&columns(
        "Members by similarity and containment with the representative",
        &[("similarity", BAR), ("containment", BAR2)],
        &bars,
        false,
    ));

    // Per source: documents, removed duplicates, flagged lines.
    let mut per: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for (d, doc) in scan.docs.iter().enumerate() {
        let e = per
            .entry(doc.source.as_deref().unwrap_or("(no source)"))
            .or_default();
        e.0 += 1;
        e.2 += scan.boilerplate.mask.flagged(d).len() as u64;
    }
    for c in &scan.clusters {
        for m in &c.members {
            if m.doc != c.representative {
                let doc = &scan.docs[m.doc as usize];
                per.entry(doc.source.as_deref().unwrap_or("(no source)"))
                    .or_default()
                    .1 += 1;
            }
        }
    }
    let mut removed: Vec<(String, u64, u64)> = per
        .iter()
        .filter(|(_, v)| v.1 > 0)
        .map(|(k, v)| (k.to_string(), v.1, v.0))
        .collect();
    // The largest shares first: a source wiped out stands at the top.
    removed.sort_by(|a, b| {
        (b.1 * a.2)
            .cmp(&(a.1 * b.2))
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    let more = removed.len().saturating_sub(LIST);
    removed.truncate(LIST);
    let title = if more > 0 {
        format!("Duplicates removed per source (largest shares; {more} more sources)")
    } else {
        "Duplicates removed per source (largest shares first)".to_string()
    };
    out.push_str(&rows(&title, &removed, |_, v, of| {
        format!("{v} of {of} ({:.0}%)", v as f64 * 100.0 / of.max(1) as f64)
    }));

    let mut lines: Vec<(String, u64, u64)> = per
        .iter()
        .filter(|(_, v)| v.2 > 0)
        .map(|(k, v)| (k.to_string(), v.2, v.2))
        .collect();
    lines.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let more = lines.len().saturating_sub(LIST);
    lines.truncate(LIST);
    let docs_of: BTreeMap<&str, u64> = per.iter().map(|(k, v)| (*k, v.0)).collect();
    let title = if more > 0 {
        format!("Boilerplate lines per source (most first; {more} more sources)")
    } else {
        "Boilerplate lines per source".to_string()
    };
    let notes: Vec<String> = lines
        .iter()
        .map(|(k, v, _)| {
            let d = docs_of.get(k.as_str()).copied().unwrap_or(1).max(1);
            format!("{v} ({:.1} a document)", *v as f64 / d as f64)
        })
        .collect();
    out.push_str(&rows(&title, &lines, |i, _, _| notes[i].clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_bins_cover_every_size_once() {
        assert_eq!(size_bin(2), (2, 2));
        assert_eq!(size_bin(5), (4, 5));
        assert_eq!(size_bin(60), (50, 99));
        assert_eq!(size_bin(859_091), (100_000, 999_999));
        let mut last = (0, 1);
        for s in 2..30_000 {
            let b = size_bin(s);
            assert!(b.0 <= s && s <= b.1);
            assert!(b == last || b.0 == last.1 + 1, "{s}: {b:?} after {last:?}");
            last = b;
        }
    }

    #[test]
    fn labels_are_escaped() {
        let s = rows(
            "t",
            &[("<script>x</script>".to_string(), 1, 2)],
            |_, _, _| String::new(),
        );
        assert!(!s.contains("<script>") && s.contains("&lt;script&gt;"));
    }
}
