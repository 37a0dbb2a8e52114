//! The library as another crate uses it: documents from memory, the config builder, the report
//! and dedup writing, without the command line.

mod common;

use common::*;
use serde_json::Value;
use syndic::read::{Corpus, Document};
use syndic::{dedup, pipeline, report, Config};

/// The records of a JSONL fixture as documents in memory.
fn documents(rel: &str) -> Vec<Document> {
    read_jsonl(&fixture(rel))
        .into_iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().map(str::to_string);
            Document {
                id: s("id"),
                text: s("text").unwrap(),
                source: s("source"),
                date: s("date"),
            }
        })
        .collect()
}

fn report_json(corpus: &Corpus, cfg: &Config) -> Value {
    let scan = pipeline::scan(corpus, cfg, &pipeline::Quiet).unwrap();
    let rep = report::build(&scan, cfg, Default::default());
    without_run(serde_json::from_str(&rep.to_json()).unwrap())
}

/// Documents given in memory give the report that the same records give as a file (outside
/// `run` and the list of files read).
#[test]
fn documents_from_memory_give_the_file_report() {
    let cfg = Config::builder().build().unwrap();
    for rel in ["syndication/corpus.jsonl", "boilerplate/corpus.jsonl"] {
        let from_file = report_json(&Corpus::open(&[fixture(rel)]).unwrap(), &cfg);
        let from_memory = report_json(&Corpus::from_documents(documents(rel)), &cfg);
        let strip = |mut v: Value| {
            let stats = v["stats"].as_object_mut().unwrap();
            stats.remove("files_read");
            stats.remove("files_skipped");
            v
        };
        assert!(
            !from_file["clusters"].as_array().unwrap().is_empty(),
            "{rel} has clusters"
        );
        assert_eq!(strip(from_memory), strip(from_file), "{rel}");
    }
}

/// Ids default to the place in memory; an empty text is a document; dedup writes the kept
/// documents as records.
#[test]
fn memory_ids_empty_texts_and_dedup() {
    let mut docs = documents("syndication/corpus.jsonl");
    for d in docs.iter_mut().take(3) {
        d.id = None;
    }
    docs.push(Document::new("blank", "  \n "));
    let n = docs.len();
    let corpus = Corpus::from_documents(docs);
    let cfg = Config::builder().threshold(0.5).build().unwrap();
    let scan = pipeline::scan(&corpus, &cfg, &pipeline::Quiet).unwrap();
    assert_eq!(scan.docs[0].id, "<memory>:1");
    assert_eq!(scan.docs[2].id, "<memory>:3");
    assert_eq!(scan.stats.empty_documents, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("annotated.jsonl.gz");
    let mut out = syndic::output::Output::create(&path).unwrap();
    let opts = dedup::Options {
        annotate: true,
        ..Default::default()
    };
    let done = dedup::write(&corpus, &scan, &cfg.fields, &opts, &mut out).unwrap();
    out.commit().unwrap();
    assert_eq!(done.written as usize, n, "annotated: every document");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()),
        &mut text,
    )
    .unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), n);
    assert_eq!(
        rows[0]["id"],
        Value::Null,
        "no id given: null in the record"
    );
    assert_eq!(rows[n - 1]["id"], "blank");
    assert_eq!(rows[n - 1]["minhash_cluster_id"], -1);
    let clustered = rows
        .iter()
        .filter(|r| r["minhash_cluster_id"] != -1)
        .count();
    assert_eq!(clustered as u64, scan.stats.documents_in_clusters);
}

/// A NUL byte in a text from memory is a record error located in memory.
#[test]
fn memory_errors_are_located() {
    let corpus = Corpus::from_documents(vec![
        Document::new("a", "fine text"),
        Document::new("b", "bad\0text"),
    ]);
    let err = pipeline::scan(&corpus, &Config::default(), &pipeline::Quiet)
        .err()
        .expect("an error");
    assert!(err.to_string().starts_with("<memory>:2:"), "{err}");
}
