//! `syndic serve`: the real binary on a free loopback port, real HTTP requests: checks, adds,
//! bad bodies, the token rule, readers answering while an add runs.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{arg, fixture, read_jsonl, syndic};
use serde_json::{json, Value};

/// A running service, stopped when dropped.
struct Service {
    child: Child,
    url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `syndic serve DIR --listen 127.0.0.1:0 ARGS...` and reads the address it took.
fn serve(dir: &Path, args: &[&str]) -> Service {
    let mut child = Command::new(env!("CARGO_BIN_EXE_syndic"))
        .args(["serve", arg(dir), "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Service { child, url }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Sends a request; returns the status and the JSON body.
fn send(method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> (u16, Value) {
    let a = agent();
    let mut resp = match (method, body) {
        ("GET", _) => {
            let mut r = a.get(url);
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.call().unwrap()
        }
        (_, b) => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.send(b.unwrap_or("")).unwrap()
        }
    };
    let status = resp.status().as_u16();
    let mut text = String::new();
    resp.body_mut()
        .as_reader()
        .read_to_string(&mut text)
        .unwrap();
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {url}: {status} not JSON ({e}): {text}"));
    (status, v)
}

fn documents(path: &Path) -> Vec<Value> {
    read_jsonl(path)
        .into_iter()
        .map(|v| json!({"id": v["id"], "text": v["text"], "source": v["source"]}))
        .collect()
}

fn index_with(dir: &Path, input: &Path) {
    syndic()
        .args(["index", "create", arg(dir), "-q"])
        .assert()
        .success();
    syndic()
        .args(["index", "add", arg(dir), arg(input), "-q"])
        .assert()
        .success();
}

/// Checks answer as `index check` does; adds need the token; bad bodies, oversized bodies and
/// unknown paths get 4xx JSON errors that say what is wrong; the service keeps answering.
#[test]
fn check_add_and_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    let corpus = fixture("syndication/corpus.jsonl");
    index_with(&idx, &corpus);
    let token = tmp.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let s = serve(&idx, &["--token-file", arg(&token), "--max-body", "256K"]);
    let u = |p: &str| format!("{}{p}", s.url);

    let (st, v) = send("GET", &u("/healthz"), None, None);
    assert_eq!((st, v["status"].as_str()), (200, Some("ok")));

    // The same answers as the command line's check.
    let docs = documents(&corpus);
    let body = json!({"documents": docs}).to_string();
    let (st, v) = send("POST", &u("/check"), Some(&body), None);
    assert_eq!(st, 200, "{v}");
    let cli = syndic()
        .args(["index", "check", arg(&idx), arg(&corpus), "-q"])
        .assert()
        .success();
    let lines: Vec<Value> = String::from_utf8(cli.get_output().stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v["results"].as_array().unwrap(), &lines);

    // Bad bodies.
    for (body, want) in [
        ("{not json", "bad request body"),
        (r#"{"documents": [{"id": "x"}]}"#, "missing field `text`"),
        (r#"{"documents": [{"text": "x"}]}"#, "missing field `id`"),
        (r#"{"docs": []}"#, "unknown field `docs`"),
        ("{}", "missing field `documents`"),
        (r#"{"documents": [], "documents": []}"#, "duplicate field"),
        (
            r#"{"documents": [{"id": "x", "text": "y"}]} z"#,
            "trailing characters",
        ),
        (r#"{"documents": {"id": "x"}}"#, "invalid type"),
        (r#"{"documents": [{"id": 3, "text": "x"}]}"#, "invalid type"),
        (
            r#"{"documents": [{"id": "x", "text": "a\u0000b"}]}"#,
            "NUL byte",
        ),
    ] {
        let (st, v) = send("POST", &u("/check"), Some(body), None);
        assert_eq!(st, 400, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(want), "{body}: {v}");
    }
    let mut resp = agent()
        .post(u("/check"))
        .send(&b"{\"documents\": [{\"id\": \"x\", \"text\": \"caf\xe9\"}]}"[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("not UTF-8"), "{v}");
    let big = json!({"documents": [{"id": "big", "text": "word ".repeat(60_000)}]}).to_string();
    let (st, v) = send("POST", &u("/check"), Some(&big), None);
    assert_eq!(st, 413, "{v}");
    assert!(v["error"].as_str().unwrap().contains("262144 bytes"));
    let (st, v) = send("GET", &u("/nope"), None, None);
    assert_eq!(st, 404);
    assert!(v["error"].as_str().unwrap().contains("/nope"));

    // Adds need the token.
    let one = json!({"documents": [{"id": "new1", "text": docs[0]["text"]}]}).to_string();
    let (st, v) = send("POST", &u("/add"), Some(&one), None);
    assert_eq!(st, 401, "{v}");
    let (st, _) = send("POST", &u("/add"), Some(&one), Some("wrong"));
    assert_eq!(st, 401);
    let (st, v) = send("POST", &u("/add"), Some(&one), Some("s3cret"));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["added"], 1);
    assert_eq!(v["results"][0]["duplicate"], true, "{v}");
    let (st, v) = send("POST", &u("/add"), Some(&one), Some("s3cret"));
    assert_eq!(st, 409, "{v}");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("duplicate document id"));
    let (_, v) = send("GET", &u("/stats"), None, None);
    assert_eq!(v["documents"], docs.len() + 1);

    // Deletion and expiry need it too; deleted documents leave the answers.
    let del = json!({"ids": ["new1"]}).to_string();
    assert_eq!(send("POST", &u("/delete"), Some(&del), None).0, 401);
    let (st, v) = send("POST", &u("/delete"), Some(&del), Some("s3cret"));
    assert_eq!((st, v["deleted"].as_u64()), (200, Some(1)));
    let (_, v) = send("POST", &u("/check"), Some(&one), None);
    assert!(!v.to_string().contains("new1\",\"similarity"), "{v}");
    let exp = json!({"before": "yesterday"}).to_string();
    let (st, v) = send("POST", &u("/expire"), Some(&exp), Some("s3cret"));
    assert_eq!(st, 400, "{v}");
    let (st, _) = send("GET", &u("/healthz"), None, None);
    assert_eq!(st, 200, "still serving");
}

/// Off loopback, the service does not start without a token file.
#[test]
fn off_loopback_needs_a_token() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    index_with(&idx, &fixture("syndication/corpus.jsonl"));
    syndic()
        .args(["serve", arg(&idx), "--listen", "0.0.0.0:0"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("needs --token-file"));
}

/// Readers keep answering while a large add runs: every check succeeds and sees either the
/// commit before the add or the one after it, never an error.
#[test]
fn readers_answer_during_an_add() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    let corpus = fixture("syndication/corpus.jsonl");
    index_with(&idx, &corpus);
    let s = serve(&idx, &[]);
    let url = s.url.clone();
    let probe = json!({"documents": documents(&corpus)[..3]}).to_string();
    let (_, before) = send("POST", &format!("{url}/check"), Some(&probe), None);

    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture("bench/news2k.jsonl.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let batch: Vec<Value> = text
        .lines()
        .take(1500)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            json!({"id": v["id"], "text": v["text"], "source": v["source"]})
        })
        .collect();
    let big = json!({"documents": batch}).to_string();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (url, probe, done, before) =
                (url.clone(), probe.clone(), done.clone(), before.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) || seen.is_empty() {
                    let (st, v) = send("POST", &format!("{url}/check"), Some(&probe), None);
                    assert_eq!(st, 200, "{v}");
                    let (st, h) = send("GET", &format!("{url}/healthz"), None, None);
                    assert_eq!(st, 200);
                    let docs = h["documents"].as_u64().unwrap();
                    assert!(docs == 23 || docs == 1523, "{h}");
                    if docs == 23 && seen.is_empty() {
                        assert_eq!(v, before);
                    }
                    seen.push(v);
                }
                seen
            })
        })
        .collect();
    let (st, v) = send("POST", &format!("{url}/add"), Some(&big), None);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["added"], 1500);
    // The batch holds none of the probe's documents, but it makes lines furniture that the
    // probe's texts print: each answer is the one of the commit before or the one after.
    let (_, after) = send("POST", &format!("{url}/check"), Some(&probe), None);
    for r in readers {
        let seen = r.join().unwrap();
        assert!(!seen.is_empty());
        for v in seen {
            assert!(v == before || v == after, "{v}");
        }
    }
    let (_, h) = send("GET", &format!("{url}/healthz"), None, None);
    assert_eq!(h["documents"], 1523);
}

/// Eight clients sending checks at once all get answers, and the same answers as one client.
#[test]
fn concurrent_clients_get_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    let corpus = fixture("syndication/corpus.jsonl");
    index_with(&idx, &corpus);
    let s = serve(&idx, &[]);
    let docs = documents(&corpus);
    let bodies: Vec<String> = docs
        .iter()
        .map(|d| json!({"documents": [d]}).to_string())
        .collect();
    let want: Vec<Value> = bodies
        .iter()
        .map(|b| send("POST", &format!("{}/check", s.url), Some(b), None).1)
        .collect();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (url, bodies, want) = (s.url.clone(), bodies.clone(), want.clone());
            std::thread::spawn(move || {
                for i in 0..60 {
                    let k = (c * 7 + i) % bodies.len();
                    let (st, v) = send("POST", &format!("{url}/check"), Some(&bodies[k]), None);
                    assert_eq!(st, 200, "{v}");
                    assert_eq!(v, want[k]);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}
