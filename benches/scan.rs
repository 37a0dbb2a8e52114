//! The whole pipeline over the committed 2,000-document fixture, as `syndic scan` runs it
//! (reading and gunzipping the file included; the rayon pool uses every core).
//!
//!     cargo bench --bench scan

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use syndic::pipeline::{self, Config, Quiet};
use syndic::read::Corpus;
use syndic::report::{self, RunInfo};

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

fn scan(c: &mut Criterion) {
    // In test mode, a smaller copy of the fixture keeps the unoptimized run short.
    let small;
    let path = if common::bench_mode() {
        common::fixture_path()
    } else {
        small = tempfile::Builder::new()
            .suffix(".jsonl")
            .tempfile()
            .expect("temporary file");
        let mut lines = String::new();
        let corpus = Corpus::open(&[common::fixture_path()]).expect("open the bench fixture");
        let fields = syndic::read::Fields::default();
        for e in corpus
            .records(&fields, syndic::read::OnError::Fail)
            .take(common::TEST_MODE_DOCS)
        {
            if let syndic::read::Entry::Doc(r) = e.expect("read the bench fixture") {
                let v = serde_json::json!({"id": r.id, "source": r.source, "text": r.text});
                lines.push_str(&v.to_string());
                lines.push('\n');
            }
        }
        std::fs::write(small.path(), lines).expect("write the test-mode fixture");
        small.path().to_path_buf()
    };
    let corpus = Corpus::open(&[&path]).expect("open the bench fixture");
    let text_bytes: u64 = common::texts().iter().map(|t| t.len() as u64).sum();

    let mut g = c.benchmark_group("scan");
    // Iterations take a good part of a second: equal-sized samples, not criterion's linear ramp.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(text_bytes));
    let cfg = Config::default();
    g.bench_function("ingest", |b| {
        b.iter(|| black_box(pipeline::ingest_all(&corpus, &cfg, &Quiet).expect("ingest")))
    });
    g.bench_function("scan_default", |b| {
        b.iter(|| black_box(pipeline::scan(&corpus, &cfg, &Quiet).expect("scan")))
    });
    g.bench_function("scan_and_report_json", |b| {
        b.iter(|| {
            let s = pipeline::scan(&corpus, &cfg, &Quiet).expect("scan");
            black_box(report::build(&s, &cfg, RunInfo::default()).to_json())
        })
    });
    let no_boiler = Config {
        boilerplate: None,
        ..Config::default()
    };
    g.bench_function("scan_no_boilerplate", |b| {
        b.iter(|| black_box(pipeline::scan(&corpus, &no_boiler, &Quiet).expect("scan")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = scan
}
criterion_main!(benches);
