//! The Python binding of syndic: `syndic.scan(data, **params) -> Report` and
//! `syndic.dedup(data, **params)`, which gives back the kept rows of what it was given (or writes
//! the kept records of files with the library's [`syndic::dedup`] writers).
//!
//! Only what Python needs is here: turning Python values into a [`syndic::Corpus`] (paths, an
//! iterable of dicts, or any object exporting Arrow data through the C stream interface, whose
//! texts are then read in place) and the command line's options into a [`syndic::Config`], running
//! [`syndic::pipeline::scan_within`] on another thread with the GIL released (the calling thread
//! wakes every few milliseconds to let Python handle Ctrl-C, which cancels the run), and holding
//! the result: the JSON report and one row per document.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{ListBuilder, UInt32Builder};
use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3_arrow::{PyRecordBatchReader, PyTable};
use serde::{Deserialize, Serialize};
use syndic::output::Output;
use syndic::read::{FolderFilter, MEMORY};
use syndic::{
    dedup as write, pipeline, report, Banding, BoilerplateOptions, Budget, Cancel, Config, Corpus,
    Document, Error, Fields, Keep, Location, Method, OnError, RecordError, VerifyMode,
};

create_exception!(
    syndic,
    SyndicError,
    PyException,
    "A scan that could not run: a record that cannot be read (the message names its file and line, \
     or `<memory>:N` for the N-th record given in memory), a file that cannot be opened, scratch \
     space that cannot be used."
);

/// A library error as a Python exception: a bad parameter is a `ValueError`, an interrupted
/// run a `KeyboardInterrupt`, anything else a `SyndicError`; the message is the command line's.
fn py_err(e: Error) -> PyErr {
    match e {
        Error::Param(_) => PyValueError::new_err(e.to_string()),
        Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        e => SyndicError::new_err(e.to_string()),
    }
}

/// The options of `syndic scan`, by their long names with `_` for `-`.
const PARAMS: &[&str] = &[
    "glob",
    "on_error",
    "shingle",
    "num_perm",
    "threshold",
    "bands",
    "rows",
    "containment",
    "no_containment",
    "min_containment_shingles",
    "dated_containment",
    "max_days",
    "verify",
    "cluster",
    "max_bucket",
    "seed",
    "no_boilerplate",
    "boilerplate_min_docs",
    "boilerplate_min_stories",
    "boilerplate_story_ratio",
    "source_template_docs",
    "keep",
    "threads",
    "memory_limit",
];

/// What a scan needs besides its corpus.
struct Run {
    cfg: Config,
    budget: Budget,
    threads: Option<usize>,
    globs: Vec<String>,
}

/// The Python type of a value, for messages.
fn type_name(v: &Bound<PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn wrong_type(name: &str, want: &str, v: &Bound<PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{name} must be {want}, got {}", type_name(v)))
}

/// A whole number >= 0 that fits `T` (not a bool).
fn whole<T: TryFrom<u64>>(name: &str, v: &Bound<PyAny>) -> PyResult<T> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(wrong_type(name, "an int", v));
    }
    v.extract::<u64>()
        .ok()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid value {} for {name}: not a whole number in range",
                v.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })
}

/// A number (an int or a float, not a bool).
fn number(name: &str, v: &Bound<PyAny>) -> PyResult<f64> {
    if v.is_instance_of::<PyBool>()
        || !(v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>())
    {
        return Err(wrong_type(name, "a number", v));
    }
    v.extract::<f64>()
}

fn flag(name: &str, v: &Bound<PyAny>) -> PyResult<bool> {
    if !v.is_instance_of::<PyBool>() {
        return Err(wrong_type(name, "a bool", v));
    }
    v.extract::<bool>()
}

/// One of `choices` (as the command line's `--name VALUE` takes it), as the enum it names.
fn choice<T: serde::de::DeserializeOwned>(
    name: &str,
    v: &Bound<PyAny>,
    choices: &[&str],
) -> PyResult<T> {
    let s: String = v.extract().map_err(|_| wrong_type(name, "a str", v))?;
    if !choices.contains(&s.as_str()) {
        return Err(PyValueError::new_err(format!(
            "invalid value {s:?} for {name} [possible values: {}]",
            choices.join(", ")
        )));
    }
    serde_json::from_value(serde_json::Value::String(s))
        .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

fn opt<T>(v: &Bound<PyAny>, f: impl FnOnce(&Bound<PyAny>) -> PyResult<T>) -> PyResult<Option<T>> {
    if v.is_none() {
        Ok(None)
    } else {
        f(v).map(Some)
    }
}

/// The configuration of a scan from the field names and the command line's options by name,
/// checked as the command line checks them (the ranges by the library, with its messages).
fn run_params(func: &str, fields: Fields, params: Option<&Bound<PyDict>>) -> PyResult<Run> {
    let mut b = Config::builder().fields(fields);
    let mut run = Run {
        cfg: Config::default(),
        budget: Budget::UNLIMITED,
        threads: None,
        globs: Vec::new(),
    };
    let mut bp = BoilerplateOptions::default();
    let mut no_boilerplate = false;
    let mut containment = Some(0.7);
    let mut no_containment = false;
    let (mut bands, mut rows) = (None, None);
    let mut unknown = Vec::new();
    for (k, v) in params.into_iter().flat_map(|d| d.iter()) {
        let name: String = k.extract()?;
        let n = name.as_str();
        let v = &v;
        match n {
            "glob" => {
                run.globs = if let Ok(s) = v.extract::<String>() {
                    vec![s]
                } else {
                    v.extract::<Vec<String>>()
                        .map_err(|_| wrong_type(n, "a str or a list of str", v))?
                }
            }
            "on_error" => b = b.on_error(choice::<OnError>(n, v, &["fail", "skip"])?),
            "shingle" => b = b.shingle(whole(n, v)?),
            "num_perm" => b = b.num_perm(whole(n, v)?),
            "threshold" => b = b.threshold(number(n, v)?),
            "bands" => bands = Some(whole::<usize>(n, v)?),
            "rows" => rows = Some(whole::<usize>(n, v)?),
            "containment" => containment = opt(v, |v| number(n, v))?,
            "no_containment" => no_containment = flag(n, v)?,
            "min_containment_shingles" => b = b.min_containment_shingles(whole(n, v)?),
            "dated_containment" => b = b.dated_containment(opt(v, |v| number(n, v))?),
            "max_days" => b = b.max_days(opt(v, |v| whole(n, v))?),
            "verify" => b = b.verify(choice::<VerifyMode>(n, v, &["estimate", "recheck", "auto", "exact"])?),
            "cluster" => b = b.cluster(choice::<Method>(n, v, &["pivot", "components"])?),
            "max_bucket" => b = b.max_bucket(whole(n, v)?),
            "seed" => b = b.seed(whole(n, v)?),
            "no_boilerplate" => no_boilerplate = flag(n, v)?,
            "boilerplate_min_docs" => bp.min_docs = whole(n, v)?,
            "boilerplate_min_stories" => bp.min_stories = whole(n, v)?,
            "boilerplate_story_ratio" => bp.min_story_ratio = number(n, v)?,
            "source_template_docs" => bp.source_template_docs = whole(n, v)?,
            "keep" => b = b.keep(choice::<Keep>(n, v, &["first", "longest", "earliest"])?),
            "threads" => run.threads = opt(v, |v| whole(n, v))?,
            "memory_limit" => {
                run.budget.limit = if v.is_none() {
                    None
                } else if let Ok(s) = v.extract::<String>() {
                    Some(Budget::parse_size(&s).map_err(|e| {
                        PyValueError::new_err(format!("invalid value {s:?} for memory_limit: {e}"))
                    })?)
                } else {
                    Some(whole::<u64>(n, v).map_err(|_| {
                        wrong_type(n, "a size such as \"4G\" or a number of bytes", v)
                    })?)
                }
            }
            _ => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        let close: Vec<String> = unknown
            .iter()
            .filter_map(|u| {
                PARAMS
                    .iter()
                    .find(|p| similar(u, p))
                    .map(|p| format!("{u:?} (did you mean {p:?}?)"))
            })
            .collect();
        return Err(PyTypeError::new_err(format!(
            "{func}() got unexpected parameters: {}{}; the parameters are the options of `syndic scan`: {}",
            unknown.join(", "),
            if close.is_empty() {
                String::new()
            } else {
                format!(" [{}]", close.join(", "))
            },
            PARAMS.join(", ")
        )));
    }
    if run.threads == Some(0) {
        return Err(PyValueError::new_err(
            "invalid parameter: threads must be at least 1",
        ));
    }
    b = b
        .containment((!no_containment).then_some(containment).flatten())
        .boilerplate((!no_boilerplate).then_some(bp));
    b =
        match (bands, rows) {
            (Some(bands), Some(rows)) => b.banding(Banding { bands, rows }),
            (None, None) => b,
            _ => return Err(PyValueError::new_err(
                "bands and rows go together: give both, or neither (then the threshold picks them)",
            )),
        };
    run.cfg = b.build().map_err(py_err)?;
    Ok(run)
}

/// Whether two names differ by one edit or a swap of neighbours (a typo).
fn similar(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ra, rb) = (a.len() - pre - suf, b.len() - pre - suf);
    ra.max(rb) <= 1 || (ra == 2 && rb == 2 && a[pre] == b[pre + 1] && a[pre + 1] == b[pre])
}

/// Where the documents come from.
enum Input {
    /// Files and folders, opened by the scan's thread.
    Paths(Vec<PathBuf>),
    /// Documents or Arrow rows held in memory.
    Memory(Box<Corpus>),
}

/// A path (str or os.PathLike), or `None`.
fn as_path(v: &Bound<PyAny>) -> Option<PathBuf> {
    if v.is_instance_of::<PyString>() || v.hasattr("__fspath__").unwrap_or(false) {
        v.extract::<PathBuf>().ok()
    } else {
        None
    }
}

/// A dict's value of a field that is not the text: a string, or a number written as Python
/// writes it; empty strings and None are none.
fn field_str(
    v: Option<Bound<PyAny>>,
    name: &str,
    at: &dyn Fn() -> Location,
) -> PyResult<Option<String>> {
    let Some(v) = v else { return Ok(None) };
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(s) = v.cast::<PyString>() {
        let s: String = s.extract()?;
        return Ok((!s.is_empty()).then_some(s));
    }
    if !v.is_instance_of::<PyBool>()
        && (v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>())
    {
        return Ok(Some(v.str()?.extract::<String>()?));
    }
    Err(record_err(at(), RecordError::BadField(name.to_string())))
}

fn record_err(at: Location, kind: RecordError) -> PyErr {
    py_err(Error::record(at, kind))
}

/// Documents from an iterable of dicts (or other mappings): the text a string, the id a string
/// or a number (`<memory>:N` without one), the source and date strings or numbers.
fn documents<'py>(
    data: &Bound<'py, PyAny>,
    fields: &Fields,
    mut given: Option<&mut Vec<Bound<'py, PyAny>>>,
) -> PyResult<Vec<Document>> {
    let mut docs = Vec::new();
    let func = if given.is_some() { "dedup" } else { "scan" };
    let iter = data.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{func}() takes a path, a list of paths, an iterable of dicts or an object exporting Arrow data (__arrow_c_stream__), got {}",
            type_name(data)
        ))
    })?;
    for (i, rec) in iter.enumerate() {
        let rec = rec?;
        let at = || Location {
            path: MEMORY.into(),
            line: i as u64 + 1,
        };
        if !rec.hasattr("keys").unwrap_or(false) {
            return Err(record_err(at(), RecordError::NotAnObject));
        }
        let get = |name: &str| -> PyResult<Option<Bound<PyAny>>> {
            match rec.get_item(name) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyError>(rec.py()) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let text = match get(&fields.text)? {
            Some(t) if !t.is_none() => match t.cast::<PyString>() {
                Ok(s) => s.extract::<String>()?,
                Err(_) => {
                    return Err(record_err(
                        at(),
                        RecordError::TextNotString(fields.text.clone()),
                    ))
                }
            },
            _ => {
                let keys: Vec<String> = rec
                    .call_method0("keys")?
                    .try_iter()?
                    .map(|k| k.and_then(|k| Ok(k.str()?.to_string())))
                    .collect::<PyResult<_>>()?;
                return Err(record_err(
                    at(),
                    RecordError::MissingText {
                        field: fields.text.clone(),
                        keys,
                    },
                ));
            }
        };
        docs.push(Document {
            id: field_str(get(&fields.id)?, &fields.id, &at)?,
            text,
            source: field_str(get(&fields.source)?, &fields.source, &at)?,
            date: field_str(get(&fields.date)?, &fields.date, &at)?,
        });
        if let Some(g) = given.as_deref_mut() {
            g.push(rec);
        }
    }
    Ok(docs)
}

/// The records given in memory, as given: what `dedup` returns the kept ones of.
enum Given<'py> {
    /// Paths, or nothing kept (`scan`).
    Nothing,
    /// The Arrow stream's schema and batches (the corpus reads the same arrays).
    Arrow(SchemaRef, Vec<RecordBatch>),
    /// The dicts (or other mappings), in order.
    Dicts(Vec<Bound<'py, PyAny>>),
}

/// The corpus `data` stands for (and, with `keep`, the records given in memory).
fn input<'py>(
    data: &Bound<'py, PyAny>,
    fields: &Fields,
    keep: bool,
) -> PyResult<(Input, Given<'py>)> {
    if let Some(p) = as_path(data) {
        return Ok((Input::Paths(vec![p]), Given::Nothing));
    }
    if data.is_instance_of::<PyList>() || data.is_instance_of::<PyTuple>() {
        let items: Vec<Bound<PyAny>> = data.try_iter()?.collect::<PyResult<_>>()?;
        let paths: Vec<PathBuf> = items.iter().filter_map(as_path).collect();
        if !items.is_empty() && paths.len() == items.len() {
            return Ok((Input::Paths(paths), Given::Nothing));
        }
        if !paths.is_empty() {
            return Err(PyTypeError::new_err(format!(
                "{}() takes a list of paths or a list of dicts, not a mix",
                if keep { "dedup" } else { "scan" }
            )));
        }
    }
    if data.hasattr("__arrow_c_stream__")? {
        let reader: PyRecordBatchReader = data.extract()?;
        let reader = reader.into_reader()?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<RecordBatch>, _>>()
            .map_err(|e| {
                SyndicError::new_err(format!("{MEMORY}: cannot read the Arrow stream: {e}"))
            })?;
        // Cloning batches clones pointers to their arrays, not the data.
        let given = if keep {
            Given::Arrow(schema.clone(), batches.clone())
        } else {
            Given::Nothing
        };
        let corpus = Corpus::from_arrow(&schema, batches, fields).map_err(py_err)?;
        return Ok((Input::Memory(Box::new(corpus)), given));
    }
    let mut dicts = Vec::new();
    let docs = documents(data, fields, keep.then_some(&mut dicts))?;
    let given = if keep {
        Given::Dicts(dicts)
    } else {
        Given::Nothing
    };
    Ok((Input::Memory(Box::new(Corpus::from_documents(docs))), given))
}

/// One row per document, in input order: what `Report.to_arrow` returns.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Rows {
    id: Vec<String>,
    cluster: Vec<i64>,
    size: Vec<i64>,
    duplicate_of: Vec<Option<String>>,
    keep: Vec<bool>,
    boilerplate_lines: Vec<Vec<u32>>,
}

impl Rows {
    fn of(scan: &pipeline::Scan) -> Rows {
        let n = scan.docs.len();
        let mut rows = Rows {
            id: scan.docs.iter().map(|d| d.id.clone()).collect(),
            cluster: vec![-1; n],
            size: vec![1; n],
            duplicate_of: vec![None; n],
            keep: vec![true; n],
            boilerplate_lines: vec![Vec::new(); n],
        };
        for (d, a) in scan.assignment().into_iter().enumerate() {
            if let Some((c, rep)) = a {
                rows.cluster[d] = c as i64;
                rows.size[d] = scan.clusters[c as usize].members.len() as i64;
                if rep as usize != d {
                    rows.keep[d] = false;
                    rows.duplicate_of[d] = Some(scan.docs[rep as usize].id.clone());
                }
            }
        }
        for (d, lines) in scan.boilerplate.flagged_by_doc() {
            rows.boilerplate_lines[d] = lines.into_iter().map(|(l, _)| l).collect();
        }
        rows
    }

    fn batch(&self) -> RecordBatch {
        let mut lines = ListBuilder::new(UInt32Builder::new());
        for l in &self.boilerplate_lines {
            lines.values().append_slice(l);
            lines.append(true);
        }
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("id", Arc::new(StringArray::from_iter_values(&self.id))),
            (
                "minhash_cluster_id",
                Arc::new(Int64Array::from(self.cluster.clone())),
            ),
            (
                "minhash_cluster_size",
                Arc::new(Int64Array::from(self.size.clone())),
            ),
            (
                "duplicate_of",
                Arc::new(StringArray::from(self.duplicate_of.clone())),
            ),
            ("keep", Arc::new(BooleanArray::from(self.keep.clone()))),
            ("boilerplate_lines", Arc::new(lines.finish())),
        ];
        RecordBatch::try_from_iter(cols).expect("columns of one length")
    }
}

/// Version of the pickled state of a [`Report`]; a later syndic reads older versions.
const STATE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct State {
    version: u32,
    report: String,
    rows: Rows,
}

/// The result of a scan: the JSON report (as `syndic scan` writes it) and one row per document.
///
/// `clusters`, `links`, `boilerplate`, `stats`, `params` and `run` are the report's sections as plain
/// Python values (lists, dicts, str, int, float, bool, None); `to_json()` is the report's text;
/// `to_arrow()` the rows. A Report pickles.
#[pyclass(module = "syndic", frozen)]
struct Report {
    json: String,
    rows: Rows,
    parsed: PyOnceLock<Py<PyDict>>,
}

impl Report {
    fn new(json: String, rows: Rows) -> Report {
        Report {
            json,
            rows,
            parsed: PyOnceLock::new(),
        }
    }

    fn section<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let parsed = self
            .parsed
            .get_or_try_init(py, || -> PyResult<Py<PyDict>> {
                let v = py.import("json")?.call_method1("loads", (&self.json,))?;
                Ok(v.cast_into::<PyDict>()?.unbind())
            })?;
        parsed
            .bind(py)
            .get_item(name)?
            .ok_or_else(|| PyValueError::new_err(format!("the report has no {name}")))
    }
}

#[pymethods]
impl Report {
    /// The clusters of copies: `[{"id", "representative", "family", "size", "members": [...]}]`.
    #[getter]
    fn clusters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, "clusters")
    }

    /// Verified copies the clusters leave apart (a story printed inside a roundup of another
    /// cluster): `[{"part", "part_cluster", "whole", "whole_cluster", "similarity",
    /// "containment"}]`.
    #[getter]
    fn links<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, "links")
    }

    /// The boilerplate found: `{"status", "lines_flagged", "documents_with_flags", "templates"}`.
    #[getter]
    fn boilerplate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, "boilerplate")
    }

    /// Counts: documents, exact and near duplicates, clusters, kept, skipped records, ...
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, "stats")
    }

    /// Every parameter that decided the result.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, "params")
    }

    /// What may differ between runs: version, threads, seconds, seconds per stage.
    #[getter]
    fn run<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.section(py, "run")
    }

    /// The JSON report, as `syndic scan` writes it.
    fn to_json(&self) -> &str {
        &self.json
    }

    /// One row per document, in input order (records skipped under `on_error="skip"` have
    /// none), as an Arrow table (it exports `__arrow_c_stream__`: `pyarrow.table(t)`,
    /// `polars.DataFrame(t)` take it): `id` (string), `minhash_cluster_id` (int64, -1 outside a
    /// cluster), `minhash_cluster_size` (int64, 1 outside a cluster), `duplicate_of` (string, the
    /// id of the document kept for its cluster; null for kept documents), `keep` (bool),
    /// `boilerplate_lines` (list of uint32: indexes of the flagged lines in the text split on
    /// "\n", from 0).
    fn to_arrow(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let batch = self.rows.batch();
        let table = PyTable::try_new(vec![batch.clone()], batch.schema())?;
        Ok(Bound::new(py, table)?.into_any().unbind())
    }

    fn __len__(&self) -> usize {
        self.rows.id.len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let stats = self.section(py, "stats")?;
        Ok(format!(
            "<syndic.Report: {} documents, {} clusters, {} kept>",
            stats.get_item("documents")?,
            stats.get_item("clusters")?,
            stats.get_item("kept")?
        ))
    }

    /// Pickling: `syndic._report_from_state(state)`, the state versioned bytes.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let state = State {
            version: STATE_VERSION,
            report: self.json.clone(),
            rows: self.rows.clone(),
        };
        let bytes = serde_json::to_vec(&state).expect("a state serializes");
        let f = py.import("syndic")?.getattr("_report_from_state")?;
        Ok((f, (PyBytes::new(py, &bytes),)))
    }

    /// A Report from the state `__reduce__` gives.
    #[staticmethod]
    fn _from_state(state: &[u8]) -> PyResult<Report> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_slice(state)
            .map_err(|e| PyValueError::new_err(format!("not a pickled syndic.Report: {e}")))?;
        if v.version > STATE_VERSION {
            return Err(PyValueError::new_err(format!(
                "a Report pickled by a later syndic (state version {}; this one reads up to {STATE_VERSION})",
                v.version
            )));
        }
        let s: State = serde_json::from_slice(state)
            .map_err(|e| PyValueError::new_err(format!("not a pickled syndic.Report: {e}")))?;
        Ok(Report::new(s.report, s.rows))
    }
}

/// What a scan gives back: the JSON report, the rows, and for each document the index of the
/// record it came from among those given in memory (records skipped under `on_error="skip"`
/// have no document).
struct Done {
    json: String,
    rows: Rows,
    record: Vec<usize>,
}

/// The scan itself, off the GIL: opens the paths, runs the pipeline (on a pool of `threads`
/// when given), builds the report and the rows; with `out`, writes the records `opts` asks for
/// there (atomically: nothing is left there unless the whole output was written).
fn work(
    input: &Input,
    run: &Run,
    cancel: &Cancel,
    out: Option<(&Path, &write::Options)>,
) -> syndic::Result<Done> {
    let t0 = Instant::now();
    let opened;
    let corpus = match input {
        Input::Paths(p) => {
            opened = Corpus::open_with(p, &FolderFilter::new(&run.globs)?)?;
            &opened
        }
        Input::Memory(c) => c,
    };
    if let Some((path, opts)) = out {
        // Before the scan: an output the input cannot be written as fails at once.
        write::check(corpus, opts, path, None)?;
    }
    let go = || -> syndic::Result<Done> {
        let scan = pipeline::scan_within(corpus, &run.cfg, run.budget, cancel)?;
        if let Some((path, opts)) = out {
            let mut file = Output::create(path)?;
            write::write(corpus, &scan, &run.cfg.fields, opts, &mut file)?;
            file.commit()?;
        }
        let info = report::RunInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            threads: rayon::current_num_threads(),
            seconds: t0.elapsed().as_secs_f64(),
            stages: scan.timings.clone(),
            memory_limit: run.budget.limit,
            spilled: scan.spilled.clone(),
        };
        let rep = report::build(&scan, &run.cfg, info);
        Ok(Done {
            json: rep.to_json(),
            rows: Rows::of(&scan),
            record: scan
                .docs
                .iter()
                .map(|d| d.at.line.saturating_sub(1) as usize)
                .collect(),
        })
    };
    match run.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::Param(format!("cannot start {n} threads: {e}")))?
            .install(go),
        None => go(),
    }
}

/// Runs [`work`] on another thread while this one waits off the GIL, back on it every 50 ms
/// to let Python handle signals: Ctrl-C cancels the run and raises `KeyboardInterrupt`.
fn run_detached(
    py: Python<'_>,
    input: &Input,
    run: &Run,
    out: Option<(&Path, &write::Options)>,
) -> PyResult<Done> {
    let cancel = Cancel::new();
    let (tx, rx) = mpsc::channel();
    let got: PyResult<syndic::Result<Done>> = std::thread::scope(|s| {
        let cancel = &cancel;
        s.spawn(move || {
            let _ = tx.send(work(input, run, cancel, out));
        });
        let mut rx = rx;
        loop {
            // Off the GIL while the scan runs; back on it now and then for Ctrl-C.
            let (got, back) = py.detach(move || {
                let got = rx.recv_timeout(Duration::from_millis(50));
                (got, rx)
            });
            rx = back;
            match got {
                // A Ctrl-C that came while the run was finishing still interrupts the call.
                Ok(r) => {
                    py.check_signals()?;
                    return Ok(r);
                }
                // The thread panicked: the scope raises its panic on leaving.
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(Err(Error::Interrupted)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Err(e) = py.check_signals() {
                cancel.cancel();
                // The run stops at its next check; wait for it (off the GIL), then raise.
                py.detach(move || {
                    let _ = rx.recv();
                });
                return Err(e);
            }
        }
    });
    got?.map_err(py_err)
}

/// The fields named by `scan`'s and `dedup`'s arguments.
fn fields_of(text: &str, id: &str, source: Option<&str>, date: Option<&str>) -> Fields {
    let d = Fields::default();
    Fields {
        text: text.to_string(),
        id: id.to_string(),
        source: source.map_or(d.source, str::to_string),
        date: date.map_or(d.date, str::to_string),
    }
}

/// Finds exact and near-duplicate documents; returns a `Report`.
///
/// `data` is a path or a list of paths (any input `syndic scan` reads: JSONL, CSV, TSV, Parquet,
/// text files, folders, gzip or zstd), an iterable of dicts, or any object exporting Arrow data
/// through `__arrow_c_stream__` (a pyarrow Table or RecordBatchReader, a polars DataFrame, a
/// Hugging Face dataset's `with_format("arrow")[:]`), whose texts are read in place.
///
/// `text`, `id`, `source` and `date` name the fields (columns); `source` and `date` default to
/// "source" and "date", used when present. The other keyword arguments are the options of
/// `syndic scan` by their long names (`threshold=0.5`, `max_days=3`, `memory_limit="4G"`,
/// `keep="earliest"`, `no_boilerplate=True`, `threads=4`, ...), checked as the command line checks
/// them: `ValueError` for a value out of range, `TypeError` for a wrong type or an unknown name.
///
/// The scan runs on all cores (or `threads`) with the GIL released; Ctrl-C stops it with
/// `KeyboardInterrupt`. A record that cannot be read raises `SyndicError` naming its file and
/// line (`<memory>:N` for the N-th record given in memory).
#[pyfunction]
#[pyo3(signature = (data, *, text="text", id="id", source=None, date=None, **params))]
fn scan(
    py: Python<'_>,
    data: &Bound<PyAny>,
    text: &str,
    id: &str,
    source: Option<&str>,
    date: Option<&str>,
    params: Option<&Bound<PyDict>>,
) -> PyResult<Report> {
    let fields = fields_of(text, id, source, date);
    let run = run_params("scan", fields.clone(), params)?;
    let (input, _) = input(data, &fields, false)?;
    let done = run_detached(py, &input, &run, None);
    // The corpus (Arrow arrays a Python object may own) is dropped here, with the GIL.
    drop(input);
    let done = done?;
    Ok(Report::new(done.json, done.rows))
}

/// The names of the columns (keys) `annotate=True` adds, as `syndic dedup --annotate` does.
const ANNOTATIONS: [&str; 3] = [
    write::FIELDS[0], // minhash_cluster_id
    write::FIELDS[1], // minhash_cluster_size
    write::FIELDS[2], // duplicate_of
];

/// Per record given: the cluster (-1 outside), its size (1 outside), the kept document's id
/// (None when kept) and whether it is kept. A record that is no document (skipped under
/// `on_error="skip"`) is outside any cluster and not kept.
struct Fates {
    cluster: Vec<i64>,
    size: Vec<i64>,
    duplicate_of: Vec<Option<String>>,
    keep: Vec<bool>,
}

impl Fates {
    fn of(done: &Done, records: usize) -> Fates {
        let mut f = Fates {
            cluster: vec![-1; records],
            size: vec![1; records],
            duplicate_of: vec![None; records],
            keep: vec![false; records],
        };
        for (d, &r) in done.record.iter().enumerate() {
            f.cluster[r] = done.rows.cluster[d];
            f.size[r] = done.rows.size[d];
            f.duplicate_of[r] = done.rows.duplicate_of[d].clone();
            f.keep[r] = done.rows.keep[d];
        }
        f
    }
}

/// The kept rows of `batches` (every row with the annotation columns appended, when
/// `annotate`), as an Arrow table: arrow's filter kernel over the arrays given.
fn arrow_out(
    py: Python<'_>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    fates: &Fates,
    annotate: bool,
) -> PyResult<Py<PyAny>> {
    let arrow_err = |e: arrow_schema::ArrowError| SyndicError::new_err(e.to_string());
    let mut out = Vec::with_capacity(batches.len());
    let mut from = 0;
    let schema = if annotate {
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(ANNOTATIONS[0], DataType::Int64, false));
        fields.push(Field::new(ANNOTATIONS[1], DataType::Int64, false));
        fields.push(Field::new(ANNOTATIONS[2], DataType::Utf8, true));
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
    } else {
        schema
    };
    for batch in batches {
        let to = from + batch.num_rows();
        out.push(if annotate {
            let mut cols = batch.columns().to_vec();
            cols.push(Arc::new(Int64Array::from(fates.cluster[from..to].to_vec())));
            cols.push(Arc::new(Int64Array::from(fates.size[from..to].to_vec())));
            cols.push(Arc::new(StringArray::from(
                fates.duplicate_of[from..to].to_vec(),
            )));
            RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err)?
        } else {
            let keep = BooleanArray::from(fates.keep[from..to].to_vec());
            arrow_select::filter::filter_record_batch(&batch, &keep).map_err(arrow_err)?
        });
        from = to;
    }
    let table = PyTable::try_new(out, schema)?;
    Ok(Bound::new(py, table)?.into_any().unbind())
}

/// The kept dicts as given (every dict, copied with the annotation keys added, when
/// `annotate`).
fn dicts_out(
    py: Python<'_>,
    dicts: Vec<Bound<'_, PyAny>>,
    fates: &Fates,
    annotate: bool,
) -> PyResult<Py<PyAny>> {
    let out = PyList::empty(py);
    for (r, rec) in dicts.into_iter().enumerate() {
        if annotate {
            let d = PyDict::new(py);
            d.call_method1("update", (&rec,))?;
            d.set_item(ANNOTATIONS[0], fates.cluster[r])?;
            d.set_item(ANNOTATIONS[1], fates.size[r])?;
            d.set_item(ANNOTATIONS[2], fates.duplicate_of[r].as_deref())?;
            out.append(d)?;
        } else if fates.keep[r] {
            out.append(rec)?;
        }
    }
    Ok(out.into_any().unbind())
}

/// The error `syndic dedup --annotate` gives for a record that already has a field it adds.
fn field_exists(line: u64, field: &str) -> PyErr {
    py_err(Error::FieldExists {
        at: Location {
            path: MEMORY.into(),
            line,
        },
        field: field.to_string(),
    })
}

/// Deduplicates `data`, giving back what it was given without the duplicates.
///
/// For an object exporting Arrow data (`__arrow_c_stream__`: a pyarrow Table, a polars
/// DataFrame, ...) it returns an Arrow table (it exports `__arrow_c_stream__`: pass it to
/// `pyarrow.table`, `polars.DataFrame`) of the rows kept, in input order, with every column as
/// given (names, types, order). For an iterable of dicts it returns a list of the dicts kept
/// (the same objects). The rows kept are those whose `keep` is true in
/// `scan(data, ...).to_arrow()`: one per cluster, and every document outside a cluster.
///
/// With `annotate=True` every row is returned, with `minhash_cluster_id` (int64, -1 outside a
/// cluster), `minhash_cluster_size` (int64, 1 outside a cluster) and `duplicate_of` (string, the
/// id of the document kept for its cluster; None for kept documents) added (as new dicts, the
/// given ones untouched); data that already has one of these columns or keys raises
/// `SyndicError`, as `syndic dedup --annotate` does. Records that are no document (skipped under
/// `on_error="skip"`) are dropped, or with `annotate=True` kept outside any cluster.
///
/// For a path or a list of paths, the records are written to `output` as `syndic dedup -o
/// OUTPUT` writes them (JSONL, compressed for .gz or .zst; Parquet with every column for
/// .parquet from Parquet input), atomically, and the `Report` is returned; `output` is
/// required then (ValueError without it) and refused for data in memory.
///
/// The other arguments are `scan`'s. To get both the kept rows and the report, call `scan` and
/// filter on the `keep` column of `Report.to_arrow()`.
#[pyfunction]
#[pyo3(signature = (data, *, text="text", id="id", source=None, date=None, annotate=false, output=None, **params))]
#[allow(clippy::too_many_arguments)]
fn dedup(
    py: Python<'_>,
    data: &Bound<PyAny>,
    text: &str,
    id: &str,
    source: Option<&str>,
    date: Option<&str>,
    annotate: bool,
    output: Option<&Bound<PyAny>>,
    params: Option<&Bound<PyDict>>,
) -> PyResult<Py<PyAny>> {
    let fields = fields_of(text, id, source, date);
    let run = run_params("dedup", fields.clone(), params)?;
    let output = output
        .filter(|o| !o.is_none())
        .map(|o| as_path(o).ok_or_else(|| wrong_type("output", "a path (str or os.PathLike)", o)))
        .transpose()?;
    let (input, given) = input(data, &fields, true)?;
    if let Input::Paths(_) = input {
        let Some(path) = output else {
            return Err(PyValueError::new_err(
                "dedup() of files writes the records kept to a file: pass output=\"clean.jsonl\" \
                 (.jsonl.gz, .jsonl.zst, or .parquet from Parquet input); to get the kept rows in \
                 memory, give the data itself (a pyarrow Table, a list of dicts)",
            ));
        };
        syndic::output::check_target(&path).map_err(py_err)?;
        let opts = write::Options {
            annotate,
            ..write::Options::default()
        };
        let done = run_detached(py, &input, &run, Some((&path, &opts)))?;
        return Ok(Bound::new(py, Report::new(done.json, done.rows))?
            .into_any()
            .unbind());
    }
    if output.is_some() {
        return Err(PyValueError::new_err(
            "output= is for files: dedup() of data in memory returns the rows kept",
        ));
    }
    if annotate {
        match &given {
            Given::Arrow(schema, _) => {
                if let Some(f) = ANNOTATIONS
                    .iter()
                    .find(|f| schema.field_with_name(f).is_ok())
                {
                    return Err(field_exists(0, f));
                }
            }
            Given::Dicts(dicts) => {
                for (i, rec) in dicts.iter().enumerate() {
                    for f in ANNOTATIONS {
                        if rec.contains(f)? {
                            return Err(field_exists(i as u64 + 1, f));
                        }
                    }
                }
            }
            Given::Nothing => {}
        }
    }
    let done = run_detached(py, &input, &run, None);
    // The corpus (Arrow arrays a Python object may own) is dropped here, with the GIL.
    drop(input);
    let done = done?;
    match given {
        Given::Arrow(schema, batches) => {
            let records = batches.iter().map(|b| b.num_rows()).sum();
            arrow_out(py, schema, batches, &Fates::of(&done, records), annotate)
        }
        Given::Dicts(dicts) => {
            let fates = Fates::of(&done, dicts.len());
            dicts_out(py, dicts, &fates, annotate)
        }
        Given::Nothing => unreachable!("data in memory is kept"),
    }
}

/// Runs `f` over the corpus an [`Input`] stands for (paths are opened here, off the GIL).
fn with_corpus<T>(
    input: &Input,
    f: impl FnOnce(&Corpus) -> syndic::Result<T>,
) -> syndic::Result<T> {
    match input {
        Input::Paths(p) => f(&Corpus::open_with(
            p,
            &FolderFilter::new(&Vec::<String>::new())?,
        )?),
        Input::Memory(c) => f(c),
    }
}

/// A value serialized by serde as the Python value `json.loads` makes of it.
fn to_py<'py>(py: Python<'py>, v: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| SyndicError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// An incremental index on disk, as `syndic index` keeps it: add documents batch by batch, ask
/// whether new ones are copies of indexed ones, export the report a scan of everything indexed
/// gives.
///
/// `Index(path)` opens the index in `path`, or makes it there when there is none, with the
/// options of `syndic scan` that decide results as keyword arguments (`threshold=0.5`,
/// `max_days=3`, ...). Options given for an index already there must be its own: others raise
/// `SyndicError` naming those that differ. Each `add` is one commit, which other processes
/// (`syndic serve`, `syndic index check`) see once it is done.
#[pyclass(module = "syndic", frozen)]
struct Index {
    /// The last commit this object made or opened.
    current: std::sync::Mutex<syndic::index::Index>,
}

impl Index {
    fn now(&self) -> syndic::index::Index {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `f` over the last commit and the corpus `data` stands for, off the GIL (`add` and
    /// `check`).
    fn over<T: Send>(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        fields: Fields,
        on_error: &str,
        f: impl FnOnce(&syndic::index::Index, &Corpus, &Fields, OnError) -> syndic::Result<T> + Send,
    ) -> PyResult<syndic::Result<T>> {
        let on_error =
            choice::<OnError>("on_error", &PyString::new(py, on_error), &["fail", "skip"])?;
        let (input, _) = input(data, &fields, false)?;
        let base = self.now();
        Ok(py.detach(|| with_corpus(&input, |c| f(&base, c, &fields, on_error))))
    }
}

#[pymethods]
impl Index {
    #[new]
    #[pyo3(signature = (path, **params))]
    fn new(py: Python<'_>, path: PathBuf, params: Option<&Bound<PyDict>>) -> PyResult<Index> {
        let given = params.is_some_and(|p| !p.is_empty());
        let index = if path.join("MANIFEST").exists() && !given {
            py.detach(|| syndic::index::Index::open(&path))
        } else {
            let run = run_params("Index", Fields::default(), params)?;
            py.detach(|| syndic::index::Index::create(&path, &run.cfg))
        }
        .map_err(py_err)?;
        Ok(Index {
            current: std::sync::Mutex::new(index),
        })
    }

    /// Adds the documents of `data` (what `scan` takes) in one commit. An id already indexed,
    /// or repeated in `data`, raises `SyndicError` naming the record (with `on_error="skip"`:
    /// left out and counted). Returns `{"added": n, "skipped": n, "results": [...]}`, a result
    /// per added document as `check` gives it (against the index and the batch's earlier
    /// documents).
    #[pyo3(signature = (data, *, text="text", id="id", source=None, date=None, on_error="fail"))]
    #[allow(clippy::too_many_arguments)]
    fn add<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        text: &str,
        id: &str,
        source: Option<&str>,
        date: Option<&str>,
        on_error: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let got = self.over(
            py,
            data,
            fields_of(text, id, source, date),
            on_error,
            |i, c, f, e| i.add(c, f, e),
        )?;
        let (next, added) = got.map_err(py_err)?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = next;
        to_py(
            py,
            &serde_json::json!({
                "added": added.added,
                "skipped": added.skipped.total,
                "results": added.results,
            }),
        )
    }

    /// Checks the documents of `data` against the index; adds nothing. Returns one dict per
    /// document, in input order, as `syndic index check` writes them:
    /// `{"id", "duplicate", "matches": [{"id", "similarity", "containment"}], "cluster"}`.
    #[pyo3(signature = (data, *, text="text", id="id", source=None, date=None, on_error="fail"))]
    #[allow(clippy::too_many_arguments)]
    fn check<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        text: &str,
        id: &str,
        source: Option<&str>,
        date: Option<&str>,
        on_error: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let got = self.over(
            py,
            data,
            fields_of(text, id, source, date),
            on_error,
            |i, c, f, e| i.check(c, f, e),
        )?;
        to_py(py, &got.map_err(py_err)?.results)
    }

    /// The report of everything indexed, as `scan` gives it over the same documents (the
    /// scan's stages run again over the stored texts).
    fn export(&self, py: Python<'_>) -> PyResult<Report> {
        let base = self.now();
        let (json, rows) = py
            .detach(|| -> syndic::Result<(String, Rows)> {
                let t0 = Instant::now();
                let scan = base.export(Budget::UNLIMITED, &Cancel::new())?;
                let info = report::RunInfo {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    threads: rayon::current_num_threads(),
                    seconds: t0.elapsed().as_secs_f64(),
                    stages: scan.timings.clone(),
                    memory_limit: None,
                    spilled: scan.spilled.clone(),
                };
                let rep = report::build(&scan, base.params(), info);
                Ok((rep.to_json(), Rows::of(&scan)))
            })
            .map_err(py_err)?;
        Ok(Report::new(json, rows))
    }

    /// The number of documents indexed.
    fn __len__(&self) -> usize {
        self.now().len() as usize
    }

    fn __repr__(&self) -> String {
        let i = self.now();
        format!(
            "<syndic.Index {} ({} documents)>",
            i.dir().display(),
            i.len()
        )
    }
}

/// syndic finds exact and near-duplicate documents (syndicated copies of one story) in large
/// text corpora and flags the boilerplate lines that wrap them.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(dedup, m)?)?;
    m.add_class::<Report>()?;
    m.add_class::<Index>()?;
    m.add("SyndicError", m.py().get_type::<SyndicError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
