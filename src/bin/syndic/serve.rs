//! `syndic serve`: an HTTP JSON service over an index (tokio + axum). Readers answer from the
//! last commit while an add runs; adds run one at a time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context, Result};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use syndic::index::{CheckResult, Checker, Index};
use syndic::read::{Corpus, Document, OnError};

pub const EXAMPLES: &str = "Examples:
  syndic serve news.idx --listen 127.0.0.1:8080
  syndic serve news.idx --listen 0.0.0.0:8080 --token-file token.txt
  curl -s localhost:8080/check -d '{\"documents\": [{\"id\": \"q1\", \"text\": \"...\"}]}'";

#[derive(clap::Args)]
pub struct Args {
    /// The index folder (made with `syndic index create`).
    dir: PathBuf,
    /// Address and port to listen on (port 0: any free port; the address taken is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A file holding the bearer token that POST /add, /delete and /expire need
    /// (`Authorization: Bearer TOKEN`). Required when listening on anything but loopback.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Largest request body, in bytes (e.g. 16M); a larger one gets 413.
    #[arg(long, value_name = "SIZE", default_value = "16M", value_parser = parse_size)]
    max_body: u64,
    /// Worker threads for checks and adds (default: all cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    syndic::Budget::parse_size(s)
}

struct App {
    /// The last commit: readers clone it (cheap) and answer from it.
    current: RwLock<Index>,
    /// One change at a time.
    writer: tokio::sync::Mutex<()>,
    token: Option<String>,
    max_body: usize,
}

impl App {
    fn snapshot(&self) -> Index {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A JSON error: `{"error": message}` with a status.
fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

/// The library's errors as HTTP answers: the request's fault (4xx) or the server's (500).
fn lib_error(e: syndic::Error) -> Response {
    use syndic::error::RecordError;
    match &e {
        syndic::Error::Record {
            kind: RecordError::DuplicateId { .. },
            ..
        } => error(StatusCode::CONFLICT, e.to_string()),
        syndic::Error::Record { .. } | syndic::Error::Param(_) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        syndic::Error::Index { .. } if e.to_string().contains("LOCK") => {
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocIn {
    id: String,
    text: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Documents {
    documents: Vec<DocIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireIn {
    before: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteIn {
    ids: Vec<String>,
}

/// Reads a JSON body of at most `max_body` bytes.
async fn body<T: DeserializeOwned>(app: &App, req: Request) -> Result<T, Response> {
    parse(&raw_body(app, req).await?)
}

/// The bytes of a body of at most `max_body` bytes.
async fn raw_body(app: &App, req: Request) -> Result<axum::body::Bytes, Response> {
    to_bytes(req.into_body(), app.max_body).await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than {} bytes (--max-body)",
                app.max_body
            ),
        )
    })
}

/// A JSON body's value.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    serde_json::from_str(utf8(bytes)?)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

/// A body's text. UTF-8 is checked once over the whole body (simdutf8), not string by string
/// as `serde_json::from_slice` would: a large batch's parse took a tenth of its check.
fn utf8(bytes: &[u8]) -> Result<&str, Response> {
    simdutf8::compat::from_utf8(bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("bad request body: not UTF-8 ({e})"),
        )
    })
}

/// Whether the request carries the service's token (always, without one).
fn authorized(app: &App, req: &Request) -> Result<(), Response> {
    let Some(token) = &app.token else {
        return Ok(());
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(token.as_str()) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "this needs the service's token: Authorization: Bearer TOKEN",
        ))
    }
}

fn document(d: DocIn) -> Document {
    Document {
        id: Some(d.id),
        text: d.text,
        source: d.source,
        date: d.date,
    }
}

fn corpus(docs: Vec<DocIn>) -> Corpus {
    Corpus::from_documents(docs.into_iter().map(document))
}

/// Runs `f` on the blocking pool, mapping a panic to a 500.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Response> + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")))
}

/// The body `{"results": [...]}` of `/check`, each result serialized on the pool and the
/// parts joined (serialized on one thread, a large batch's answer took a tenth of its time;
/// a `serde_json::Value` tree of it cost more than the check's lookups).
fn results_body(results: &[CheckResult]) -> Result<Vec<u8>, Response> {
    use rayon::prelude::*;
    // A few results are serialized here: the pool's round trip would cost more.
    let parts: Result<Vec<Vec<u8>>, serde_json::Error> = if results.len() < 64 {
        results.iter().map(serde_json::to_vec).collect()
    } else {
        results.par_iter().map(serde_json::to_vec).collect()
    };
    let parts = parts.map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut body = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 16);
    body.extend_from_slice(b"{\"results\":[");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(p);
    }
    body.extend_from_slice(b"]}");
    Ok(body)
}

async fn check(State(app): State<Arc<App>>, req: Request) -> Response {
    let bytes = match raw_body(&app, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let index = app.snapshot();
    // Parsed off the async threads (which keep serving other requests), each document handed
    // to the check as it is read: the first are signed while the rest are parsed.
    let got = blocking(move || {
        let mut checker = index.checker();
        parse_documents(&bytes, &mut checker)?;
        let c = checker.finish().map_err(lib_error)?;
        results_body(&c.results)
    })
    .await;
    match got {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(r) => r,
    }
}

/// Parses a body `{"documents": [...]}` as [`Documents`] would be, pushing each document into
/// `checker` as soon as it is read.
fn parse_documents(bytes: &[u8], checker: &mut Checker) -> Result<(), Response> {
    use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    /// The body's object: the one field `documents`.
    struct Body<'c>(&'c mut Checker, &'c mut Option<syndic::Error>);
    /// Its array of documents.
    struct Docs<'c>(&'c mut Checker, &'c mut Option<syndic::Error>);

    impl<'de> DeserializeSeed<'de> for Body<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Body<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(r#"an object {"documents": [...]}"#)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = false;
            while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
                if key != "documents" {
                    return Err(A::Error::unknown_field(&key, &["documents"]));
                }
                if seen {
                    return Err(A::Error::duplicate_field("documents"));
                }
                seen = true;
                map.next_value_seed(Docs(&mut *self.0, &mut *self.1))?;
            }
            if !seen {
                return Err(A::Error::missing_field("documents"));
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Docs<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Docs<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of documents")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(d) = seq.next_element::<DocIn>()? {
                if let Err(e) = self.0.push(document(d)) {
                    *self.1 = Some(e);
                    return Err(A::Error::custom("a document was refused"));
                }
            }
            Ok(())
        }
    }

    let text = utf8(bytes)?;
    let mut refused = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Body(checker, &mut refused)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match (parsed, refused) {
        (_, Some(e)) => Err(lib_error(e)),
        (Err(e), None) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("bad request body: {e}"),
        )),
        (Ok(()), None) => Ok(()),
    }
}

/// Runs a change under the writer lock and publishes the new commit.
async fn change<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Index) -> syndic::Result<(Index, T)> + Send + 'static,
) -> Result<(Index, T), Response> {
    let _w = app.writer.lock().await;
    let index = app.snapshot();
    let (next, out) = blocking(move || {
        let got = f(&index).map_err(lib_error);
        // The pages the change mapped (merges read whole segments) leave the service's
        // resident memory.
        index.release_pages();
        if let Ok((next, _)) = &got {
            next.release_pages();
        }
        got
    })
    .await?;
    *app.current.write().unwrap_or_else(|p| p.into_inner()) = next.clone();
    Ok((next, out))
}

async fn add(State(app): State<Arc<App>>, req: Request) -> Response {
    if let Err(r) = authorized(&app, &req) {
        return r;
    }
    let docs: Documents = match body(&app, req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match change(&app, move |i| {
        i.add(&corpus(docs.documents), &Default::default(), OnError::Fail)
    })
    .await
    {
        Ok((next, added)) => Json(json!({
            "results": added.results,
            "added": added.added,
            "documents": next.len(),
            "generation": next.generation(),
        }))
        .into_response(),
        Err(r) => r,
    }
}

async fn expire(State(app): State<Arc<App>>, req: Request) -> Response {
    if let Err(r) = authorized(&app, &req) {
        return r;
    }
    let x: ExpireIn = match body(&app, req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match change(&app, move |i| i.expire(&x.before)).await {
        Ok((next, n)) => Json(json!({"expired": n, "documents": next.len()})).into_response(),
        Err(r) => r,
    }
}

async fn delete(State(app): State<Arc<App>>, req: Request) -> Response {
    if let Err(r) = authorized(&app, &req) {
        return r;
    }
    let x: DeleteIn = match body(&app, req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match change(&app, move |i| i.delete(&x.ids)).await {
        Ok((next, n)) => Json(json!({"deleted": n, "documents": next.len()})).into_response(),
        Err(r) => r,
    }
}

async fn stats(State(app): State<Arc<App>>) -> Response {
    Json(app.snapshot().stats()).into_response()
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let i = app.snapshot();
    Json(json!({"status": "ok", "documents": i.len(), "generation": i.generation()}))
        .into_response()
}

async fn not_found(req: Request<Body>) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {} {} (POST /check, /add, /delete, /expire; GET /stats, /healthz)",
            req.method(),
            req.uri().path()
        ),
    )
}

pub fn run(a: Args) -> Result<()> {
    let index = Index::open(&a.dir)?;
    let token = match &a.token_file {
        Some(p) => {
            let t = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the token file {}", p.display()))?
                .trim()
                .to_string();
            if t.is_empty() {
                bail!("the token file {} is empty", p.display());
            }
            Some(t)
        }
        None if !a.listen.ip().is_loopback() => bail!(
            "listening on {} (not loopback) needs --token-file: adds and deletions must be authorized",
            a.listen
        ),
        None => None,
    };
    if let Some(n) = a.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    let app = Arc::new(App {
        current: RwLock::new(index),
        writer: tokio::sync::Mutex::new(()),
        token,
        max_body: a.max_body as usize,
    });
    let router = Router::new()
        .route("/check", post(check))
        .route("/add", post(add))
        .route("/delete", post(delete))
        .route("/expire", post(expire))
        .route("/stats", get(stats))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(app);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        eprintln!(
            "syndic: serving {} on http://{}",
            a.dir.display(),
            listener.local_addr()?
        );
        axum::serve(listener, router).await?;
        Ok(())
    })
}
