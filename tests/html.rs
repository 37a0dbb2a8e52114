//! The visual report (`--html`), rendered by a real browser: Debian's `chromium`, headless, its
//! DOM dumped after the page's scripts ran (`--virtual-time-budget`), checked as text.
//!
//! Without chromium these tests say so and pass, unless `CI` is set (`.ci/run` installs it):
//! then a missing browser is a failure.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{arg, fixture, parse_json, syndic};
use serde_json::Value;

/// The browser, or `None` (with a message) when it is absent outside CI.
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
        {
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !path.is_empty() {
                return Some(PathBuf::from(path));
            }
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium is not installed, and CI is set: the HTML report tests must run (.ci/run installs it with apt-get)");
    }
    eprintln!("SKIPPED: chromium is not installed (apt-get install chromium fonts-noto-core); the HTML report is not tested in a browser");
    None
}

/// The DOM of `page` (opened at `#fragment` when given) once its scripts have run, with every
/// host name resolving to nothing, so that any network request would fail.
fn render(browser: &Path, page: &Path, fragment: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!(
        "file://{}{fragment}",
        page.canonicalize().unwrap().display()
    );
    let out = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

/// The opening tag of `<body>`.
fn body_tag(dom: &str) -> &str {
    let at = dom.find("<body").expect("a body");
    &dom[at..at + dom[at..].find('>').unwrap() + 1]
}

/// Asserts that the page rendered completely without a script error.
fn assert_ready(dom: &str) {
    let body = body_tag(dom);
    assert!(body.contains("data-ready=\"1\""), "not ready: {body}");
    assert!(body.contains("data-errors=\"0\""), "script errors: {body}");
}

/// The cluster ids of the table rows (elements of class `cluster`).
fn row_ids(dom: &str) -> Vec<u64> {
    let mut ids = Vec::new();
    for (at, _) in dom.match_indices("<a class=\"cluster") {
        let tag = &dom[at..at + dom[at..].find('>').unwrap()];
        let v = tag
            .split("data-cluster-id=\"")
            .nth(1)
            .expect("a cluster id");
        ids.push(v[..v.find('"').unwrap()].parse().unwrap());
    }
    ids
}

/// The markup of the member card of document `id` in the cluster view.
fn card<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!("data-doc-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no card for {id}"));
    let end = dom[at..].find("</article>").unwrap();
    &dom[at..at + end]
}

/// Texts of the elements `<tag>` in `html`.
fn texts_of(html: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    html.match_indices(&open)
        .map(|(at, _)| {
            let s = &html[at + open.len()..];
            s[..s.find(&close).unwrap()].to_string()
        })
        .collect()
}

/// Scans `inputs` with `--html` (and the report and annotations beside it); returns the page,
/// the report and the flagged lines per document id.
fn scan_html(dir: &Path, inputs: &[&str]) -> (PathBuf, Value, BTreeMap<String, Vec<u64>>) {
    let page = dir.join("report.html");
    let report = dir.join("report.json");
    let notes = dir.join("lines.jsonl");
    syndic()
        .arg("scan")
        .arg("-q")
        .args(inputs)
        .args(["--html", arg(&page), "-o", arg(&report)])
        .args(["--annotations", arg(&notes)])
        .assert()
        .success();
    let rep = parse_json(&std::fs::read(&report).unwrap(), "the report");
    let mut flagged = BTreeMap::new();
    for line in std::fs::read_to_string(&notes).unwrap().lines() {
        let v = parse_json(line.as_bytes(), "an annotation");
        let lines = v["boilerplate_lines"].as_array().unwrap();
        flagged.insert(
            v["id"].as_str().unwrap().to_string(),
            lines.iter().map(|n| n.as_u64().unwrap()).collect(),
        );
    }
    (page, rep, flagged)
}

fn bundled() -> Vec<String> {
    ["syndication/corpus.jsonl", "boilerplate/corpus.jsonl"]
        .iter()
        .map(|f| fixture(f).to_str().unwrap().to_string())
        .collect()
}

#[test]
fn one_row_per_cluster_and_no_script_error() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let inputs = bundled();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let (page, rep, _) = scan_html(dir.path(), &inputs);
    let dom = render(&browser, &page, "");
    assert_ready(&dom);
    let clusters: Vec<u64> = rep["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert!(clusters.len() >= 3);
    assert_eq!(row_ids(&dom), clusters);
    // The boilerplate view lists every template.
    let templates = rep["boilerplate"]["templates"].as_array().unwrap();
    assert!(!templates.is_empty());
    let table = &dom[dom.find("class=\"templates\"").expect("a template table")..];
    assert_eq!(
        table[..table.find("</table>").unwrap()]
            .matches("<tr")
            .count(),
        templates.len() + 1
    );
}

#[test]
fn a_deep_link_opens_the_cluster_with_word_diffs_and_boilerplate_marked() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let inputs = bundled();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let (page, rep, flagged) = scan_html(dir.path(), &inputs);
    let cluster = &rep["clusters"][0];
    assert_eq!(cluster["representative"], "a-wrapped");
    let dom = render(&browser, &page, "#c0");
    assert_ready(&dom);
    assert!(
        dom.contains("id=\"view\" data-cluster-id=\"0\""),
        "cluster 0 not open"
    );

    // a-retitled has its own title where the representative has a site header and a date.
    let retitled = card(&dom, "a-retitled");
    let ins = texts_of(retitled, "ins").join(" ");
    let del = texts_of(retitled, "del").join(" ");
    assert!(ins.contains("كيري: رحيل الأسد هو الطريق الوحيد"), "{ins}");
    assert!(del.contains("الرئيسية | أخبار عربية ودولية"), "{del}");
    // The body they share is not marked.
    assert!(!ins.contains("اعتبر وزير الخارجية"), "{ins}");
    // A truncated copy only lacks text.
    let trunc = card(&dom, "a-trunc");
    assert!(texts_of(trunc, "ins").is_empty(), "{trunc}");
    assert!(!texts_of(trunc, "del").is_empty(), "{trunc}");

    // Every flagged line of every member, and only those, is greyed.
    let expected: usize = cluster["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| flagged.get(m["id"].as_str().unwrap()).map_or(0, Vec::len))
        .sum();
    assert!(expected > 0, "the fixture's cluster 0 has flagged lines");
    assert_eq!(dom.matches("class=\"line boilerplate\"").count(), expected);
    // The representative's own flagged lines are its furniture lines.
    let rep_card = card(&dom, "a-wrapped");
    let grey: Vec<&str> = rep_card
        .match_indices("class=\"line boilerplate\" dir=\"auto\">")
        .map(|(at, m)| {
            let s = &rep_card[at + m.len()..];
            &s[..s.find("</div>").unwrap()]
        })
        .collect();
    assert_eq!(grey.len(), flagged["a-wrapped"].len());
}

#[test]
fn spelling_variants_are_not_shown_as_edits() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let inputs = bundled();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let (page, rep, _) = scan_html(dir.path(), &inputs);
    let c = rep["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == "b-variant")
        })
        .expect("b-variant is in a cluster");
    let dom = render(&browser, &page, &format!("#c{}", c["id"]));
    assert_ready(&dom);
    // b-variant is story B with orthographic variants in every word, under its own header line:
    // only the header is an edit.
    let ins = texts_of(card(&dom, "b-variant"), "ins").join(" ");
    assert!(ins.contains("شبكة الأخبار اليومية"), "{ins}");
    assert!(
        ins.split_whitespace().count() <= 8,
        "variants marked: {ins}"
    );
}

const HOSTILE: &str = "</script><script>document.body.setAttribute('data-pwned','1')</script><img src=x onerror=\"document.body.setAttribute('data-pwned','2')\"><!-- <b>bold</b>";

#[test]
fn markup_in_the_corpus_is_shown_as_text_and_runs_nothing() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let story = "The ministers met in Vienna on Monday to discuss the ceasefire and the \
                 humanitarian corridors that both sides had promised to open before winter.";
    let mut corpus = String::new();
    for (i, extra) in ["", " They will meet again next week."].iter().enumerate() {
        let rec = serde_json::json!({
            "id": format!("{HOSTILE}-{i}"),
            "source": HOSTILE,
            "text": format!("{HOSTILE}\n{story}{extra}\n{HOSTILE}"),
        });
        corpus.push_str(&rec.to_string());
        corpus.push('\n');
    }
    let input = dir.path().join("hostile.jsonl");
    std::fs::write(&input, corpus).unwrap();
    let (page, rep, _) = scan_html(dir.path(), &[arg(&input)]);
    assert_eq!(rep["clusters"].as_array().unwrap().len(), 1);
    let written = std::fs::read(&page).unwrap();
    let dom = render(&browser, &page, "#c0");
    assert_ready(&dom);
    assert!(dom.contains("id=\"view\" data-cluster-id=\"0\""));
    // Nothing the corpus holds ran or became an element.
    assert!(!body_tag(&dom).contains("pwned"), "{}", body_tag(&dom));
    assert!(!dom.contains("<img"), "an img element");
    assert!(!dom.contains("<b>bold"), "a b element");
    let scripts = |s: &[u8]| {
        String::from_utf8_lossy(s)
            .to_lowercase()
            .matches("<script")
            .count()
    };
    assert_eq!(scripts(dom.as_bytes()), scripts(&written));
    // It is shown as text: in the table row, in the cluster view, as ids and sources.
    let shown =
        "&lt;/script&gt;&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;";
    assert!(dom.matches(shown).count() >= 4, "{dom}");
    assert!(dom.contains("&lt;!-- &lt;b&gt;bold&lt;/b&gt;"));
}

#[test]
fn nothing_is_requested_from_the_network() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let inputs = bundled();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let (page, _, _) = scan_html(dir.path(), &inputs);
    let html = String::from_utf8_lossy(&std::fs::read(&page).unwrap()).into_owned();
    // A policy that forbids every source but the page's own inline script and style.
    let csp = html
        .split("http-equiv=\"Content-Security-Policy\" content=\"")
        .nth(1)
        .expect("a CSP meta tag");
    let csp = &csp[..csp.find('"').unwrap()];
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    // No attribute of the rendered page points at the network.
    let dom = render(&browser, &page, "#c1");
    assert_ready(&dom);
    for attr in ["src=", "href=", "action=", "srcset="] {
        for (at, _) in dom.match_indices(attr) {
            let v = &dom[at + attr.len()..(at + attr.len() + 12).min(dom.len())];
            assert!(
                !v.contains("http") && !v.contains("//"),
                "{attr}{v}... points outside the page"
            );
        }
    }
}

#[test]
fn the_seeds_render_too() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let seeds = common::root().join("seeds");
    let (page, rep, _) = scan_html(dir.path(), &[arg(&seeds)]);
    let dom = render(&browser, &page, "");
    assert_ready(&dom);
    assert_eq!(
        row_ids(&dom).len(),
        rep["clusters"].as_array().unwrap().len()
    );
}

#[test]
fn dedup_writes_the_page_too() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("dedup.html");
    syndic()
        .args(["dedup", "-q", arg(&fixture("syndication/corpus.jsonl"))])
        .args(["-o", arg(&dir.path().join("clean.jsonl"))])
        .args(["--html", arg(&page)])
        .assert()
        .success();
    let dom = render(&browser, &page, "#c0");
    assert_ready(&dom);
    assert!(dom.contains("id=\"view\" data-cluster-id=\"0\""));
}

#[test]
fn an_html_target_in_a_missing_folder_fails_before_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("no/such/folder/report.html");
    let out = syndic()
        .args(["scan", "-q", arg(&fixture("syndication/corpus.jsonl"))])
        .args(["--html", arg(&page)])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("report.html") && err.contains("does not exist"),
        "{err}"
    );
    assert!(
        out.get_output().stdout.is_empty(),
        "no report when an output cannot be written"
    );
}
