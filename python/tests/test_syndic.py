"""Tests of the Python binding: the same report as `syndic scan` (the golden reports that
tests/golden.rs checks the command against), every kind of input, errors, pickling, the GIL
released during a scan and Ctrl-C."""

import _thread
import json
import os
import pathlib
import pickle
import random
import sys
import threading

import pyarrow as pa
import pytest

import syndic

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures"
GOLDEN = {
    "syndication/corpus.jsonl": "golden/syndication.report.json",
    "boilerplate/corpus.jsonl": "golden/boilerplate.report.json",
}


def golden(name):
    return json.loads((FIXTURES / GOLDEN[name]).read_text(encoding="utf-8"))


def records(name):
    with open(FIXTURES / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def without_run(report):
    return {k: v for k, v in report.items() if k != "run"}


@pytest.fixture
def in_fixtures(monkeypatch):
    # Relative paths, as the golden reports were made (nothing in them depends on where the
    # checkout lives).
    monkeypatch.chdir(FIXTURES)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_a_path_gives_the_command_lines_report(in_fixtures, name):
    r = syndic.scan(name)
    assert without_run(json.loads(r.to_json())) == golden(name)
    want = golden(name)
    assert r.clusters == want["clusters"]
    assert r.links == want["links"]
    assert r.boilerplate == want["boilerplate"]
    assert r.stats == want["stats"]
    assert r.params == want["params"]
    assert r.run["threads"] >= 1


def test_a_list_of_paths_and_path_objects(in_fixtures):
    name = "syndication/corpus.jsonl"
    for data in ([name], (pathlib.Path(name),), pathlib.Path(name)):
        assert syndic.scan(data).clusters == golden(name)["clusters"]


def test_csv_and_a_folder(in_fixtures):
    want = golden("syndication/corpus.jsonl")["clusters"]
    assert syndic.scan("syndication/corpus.csv").clusters == want
    # The folder holds the same records as JSONL, CSV and TSV: the glob picks one.
    assert syndic.scan("syndication", glob="*.tsv").clusters == want


def in_memory_kinds(recs):
    """The same records as every kind of in-memory input the binding takes."""
    table = pa.Table.from_pylist(recs)
    kinds = {
        "list of dicts": recs,
        "generator of dicts": (dict(r) for r in recs),
        "pyarrow Table": table,
        "pyarrow Table, several batches": pa.Table.from_batches(table.to_batches(max_chunksize=4)),
        "pyarrow RecordBatchReader": pa.RecordBatchReader.from_batches(
            table.schema, table.to_batches(max_chunksize=5)
        ),
        "large strings": table.cast(
            pa.schema([pa.field(f.name, pa.large_string()) for f in table.schema])
        ),
    }
    try:
        import polars as pl
    except ImportError:
        pass
    else:
        kinds["polars DataFrame"] = pl.DataFrame(recs)
    try:
        import pandas as pd
    except ImportError:
        pass
    else:
        if hasattr(pd.DataFrame, "__arrow_c_stream__"):
            kinds["pandas DataFrame"] = pd.DataFrame(recs)
    return kinds


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_every_in_memory_kind_gives_the_same_clusters(name):
    want = golden(name)
    for kind, data in in_memory_kinds(records(name)).items():
        r = syndic.scan(data)
        assert r.clusters == want["clusters"], kind
        assert r.boilerplate == want["boilerplate"], kind
        assert r.stats["documents"] == want["stats"]["documents"], kind


def test_renamed_columns_and_numeric_ids():
    recs = [
        {"doc": i, "body": r["text"], "site": r["source"], "day": r.get("date")}
        for i, r in enumerate(records("syndication/corpus.jsonl"))
    ]
    want = golden("syndication/corpus.jsonl")["clusters"]
    for data in (recs, pa.Table.from_pylist(recs)):
        r = syndic.scan(data, text="body", id="doc", source="site", date="day")
        sizes = [c["size"] for c in r.clusters]
        assert sizes == [c["size"] for c in want]
        assert r.clusters[0]["representative"].isdigit()
        assert r.params["fields"] == {"text": "body", "id": "doc", "source": "site", "date": "day"}


def test_to_arrow_has_one_row_per_document_in_input_order(in_fixtures):
    name = "boilerplate/corpus.jsonl"
    r = syndic.scan(name)
    t = pa.table(r.to_arrow())
    assert t.column_names == [
        "id",
        "minhash_cluster_id",
        "minhash_cluster_size",
        "duplicate_of",
        "keep",
        "boilerplate_lines",
    ]
    assert t.schema.field("keep").type == pa.bool_()
    rows = t.to_pylist()
    assert len(rows) == len(r) == r.stats["documents"]
    assert [row["id"] for row in rows] == [rec["id"] for rec in records(name)]
    assert sum(row["keep"] for row in rows) == r.stats["kept"]
    assert sum(len(row["boilerplate_lines"]) for row in rows) == r.boilerplate["lines_flagged"]
    by_id = {row["id"]: row for row in rows}
    for c in r.clusters:
        for m in c["members"]:
            row = by_id[m["id"]]
            assert row["minhash_cluster_id"] == c["id"]
            assert row["minhash_cluster_size"] == c["size"]
            kept = m["id"] == c["representative"]
            assert row["keep"] == kept
            assert row["duplicate_of"] == (None if kept else c["representative"])
    clustered = {m["id"] for c in r.clusters for m in c["members"]}
    for row in rows:
        if row["id"] not in clustered:
            assert (row["minhash_cluster_id"], row["minhash_cluster_size"]) == (-1, 1)
            assert row["keep"] and row["duplicate_of"] is None


def test_dedup_a_table_by_the_keep_column():
    recs = records("syndication/corpus.jsonl")
    table = pa.Table.from_pylist(recs)
    r = syndic.scan(table)
    kept = table.filter(pa.table(r.to_arrow())["keep"])
    assert kept.num_rows == r.stats["kept"]
    assert kept.column_names == table.column_names


def test_polars_takes_the_rows():
    pl = pytest.importorskip("polars")
    r = syndic.scan(records("syndication/corpus.jsonl"))
    df = pl.DataFrame(r.to_arrow())
    assert df.height == len(r)
    assert df["keep"].sum() == r.stats["kept"]


def test_threads_do_not_change_the_report(in_fixtures):
    name = "boilerplate/corpus.jsonl"
    one = json.loads(syndic.scan(name, threads=1).to_json())
    assert one["run"]["threads"] == 1
    assert without_run(one) == golden(name)


# Errors


def test_a_bad_record_names_its_file_and_line(in_fixtures):
    with pytest.raises(syndic.SyndicError) as e:
        syndic.scan("bad/missing_text.jsonl")
    assert str(e.value) == 'bad/missing_text.jsonl:2: no "text" field (the record has: id, body)'
    with pytest.raises(syndic.SyndicError, match=r"^bad/nul_byte.jsonl:2: NUL byte"):
        syndic.scan(["bad/nul_byte.jsonl"])
    with pytest.raises(syndic.SyndicError, match="cannot read no/such.jsonl"):
        syndic.scan("no/such.jsonl")


def test_skipped_records_are_counted(in_fixtures):
    r = syndic.scan("bad/missing_text.jsonl", on_error="skip")
    assert r.stats["documents"] == 2
    assert r.stats["skipped"]["total"] == 1
    assert r.stats["skipped"]["by_reason"] == {"missing_text": 1}


def test_bad_records_in_memory_name_their_place():
    good = {"id": "a", "text": "one"}
    with pytest.raises(syndic.SyndicError) as e:
        syndic.scan([good, {"id": "b", "body": "two"}])
    assert str(e.value) == '<memory>:2: no "text" field (the record has: id, body)'
    with pytest.raises(syndic.SyndicError, match=r'^<memory>:2: field "text" is not a string'):
        syndic.scan([good, {"id": "b", "text": 7}])
    with pytest.raises(syndic.SyndicError, match=r"^<memory>:2: the line is JSON but not an object"):
        syndic.scan([good, ["text"]])
    with pytest.raises(syndic.SyndicError, match=r'^<memory>:2: duplicate document id "a"'):
        syndic.scan([good, good])
    with pytest.raises(syndic.SyndicError, match=r'^<memory>:2: duplicate document id "a"'):
        syndic.scan(pa.Table.from_pylist([good, good]))
    with pytest.raises(syndic.SyndicError, match=r'^<memory>: no "text" field \(the record has: id, body\)'):
        syndic.scan(pa.table({"id": ["a"], "body": ["x"]}))
    with pytest.raises(syndic.SyndicError, match=r'^<memory>: field "text" is not a string'):
        syndic.scan(pa.table({"text": [1, 2]}))
    with pytest.raises(syndic.SyndicError, match=r'none of the first 1 records has the id field "key"'):
        syndic.scan(pa.table({"text": ["x"]}), id="key")
    with pytest.raises(TypeError, match="takes a path, a list of paths"):
        syndic.scan(42)


def test_params_are_checked_with_the_command_lines_messages():
    data = [{"text": "one"}]
    with pytest.raises(ValueError, match=r"^invalid parameter: threshold must be in \(0, 1\], got 1.5$"):
        syndic.scan(data, threshold=1.5)
    with pytest.raises(ValueError, match=r"invalid parameter: num_perm must be 8..=4096, got 4"):
        syndic.scan(data, num_perm=4)
    with pytest.raises(ValueError, match=r"invalid parameter: bands \(100\) x rows \(5\) must be"):
        syndic.scan(data, bands=100, rows=5)
    with pytest.raises(ValueError, match="bands and rows go together"):
        syndic.scan(data, bands=10)
    with pytest.raises(ValueError, match=r"invalid value \"best\" for keep \[possible values: first, longest, earliest\]"):
        syndic.scan(data, keep="best")
    with pytest.raises(ValueError, match=r'invalid value "4Q" for memory_limit: unknown unit "Q"'):
        syndic.scan(data, memory_limit="4Q")
    with pytest.raises(ValueError, match="shingle"):
        syndic.scan(data, shingle=-1)
    with pytest.raises(TypeError, match="threshold must be a number, got str"):
        syndic.scan(data, threshold="high")
    with pytest.raises(TypeError, match="no_boilerplate must be a bool"):
        syndic.scan(data, no_boilerplate=1)
    with pytest.raises(TypeError) as e:
        syndic.scan(data, treshold=0.5, colour="red")
    assert "treshold, colour" in str(e.value)
    assert '"treshold" (did you mean "threshold"?)' in str(e.value)


def test_params_reach_the_report():
    r = syndic.scan(
        [{"text": "one", "date": "2015-11-02"}],
        threshold=0.8,
        max_days=3,
        keep="first",
        no_containment=True,
        no_boilerplate=True,
        memory_limit="1G",
        verify="auto",
    )
    p = r.params
    assert (p["threshold"], p["max_days"], p["keep"], p["verify"]) == (0.8, 3, "first", "auto")
    assert p["containment"] is None and p["boilerplate"] is None
    assert r.run["memory_limit"] == 1 << 30
    assert syndic.scan([{"text": "one"}], containment=None).params["containment"] is None
    assert syndic.scan([{"text": "one"}]).params["dated_containment"] == 0.6
    assert (
        syndic.scan([{"text": "one"}], dated_containment=None).params["dated_containment"]
        is None
    )


# Pickling


def test_a_report_pickles():
    r = syndic.scan(records("boilerplate/corpus.jsonl"))
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(r, protocol=proto))
        assert isinstance(back, syndic.Report)
        assert back.to_json() == r.to_json()
        assert back.clusters == r.clusters
        assert pa.table(back.to_arrow()).equals(pa.table(r.to_arrow()))


def test_a_later_state_version_is_refused():
    r = syndic.scan([{"text": "one"}])
    f, (state,) = r.__reduce__()
    assert f is syndic._report_from_state
    later = json.loads(state)
    later["version"] = 99
    with pytest.raises(ValueError, match="state version 99"):
        syndic._report_from_state(json.dumps(later).encode())


# The GIL and Ctrl-C


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    """A JSONL corpus whose scan takes a while: 30,000 documents of random words, every tenth
    one a copy of another."""
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    path = tmp_path_factory.mktemp("big") / "corpus.jsonl"
    texts = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(30000):
            if i % 10 == 9:
                text = texts[rng.randrange(len(texts))] + " " + rng.choice(words)
            else:
                text = " ".join(rng.choice(words) for _ in range(150))
            texts.append(text)
            f.write(json.dumps({"id": str(i), "text": text}) + "\n")
    return str(path)


class Counter(threading.Thread):
    """Counts while nothing stops it, from the moment `go` is set; sleeps (releasing the GIL)
    between counts."""

    def __init__(self, on_first=None):
        super().__init__(daemon=True)
        self.count = 0
        self.go = threading.Event()
        self.stop = threading.Event()
        self.on_first = on_first

    def run(self):
        self.go.wait()
        while not self.stop.is_set():
            self.count += 1
            if self.count == 1 and self.on_first:
                self.on_first()
            self.stop.wait(0.001)


@pytest.fixture
def long_switch_interval():
    # With a switch interval far longer than a scan, the interpreter does not take the GIL from
    # the thread that holds it: another thread runs only when the holder releases it.
    old = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    yield
    sys.setswitchinterval(old)


def test_the_gil_is_released_during_a_scan(big_corpus, long_switch_interval):
    counter = Counter()
    counter.start()
    counter.go.set()
    # The counter can run only if the scan releases the GIL (a path: nothing before the scan
    # itself releases it).
    r = syndic.scan(big_corpus)
    during = counter.count
    counter.stop.set()
    counter.join()
    assert r.stats["documents"] == 30000
    assert during > 0


def test_ctrl_c_stops_a_scan(big_corpus, long_switch_interval):
    # The interrupt is sent by a thread that runs only once the scan has released the GIL.
    counter = Counter(on_first=_thread.interrupt_main)
    counter.start()
    counter.go.set()
    with pytest.raises(KeyboardInterrupt):
        syndic.scan(big_corpus)
    counter.stop.set()
    counter.join()
    assert counter.count > 0
    # The module still works afterwards.
    assert syndic.scan([{"text": "one"}]).stats["documents"] == 1


def test_scans_run_in_several_threads_at_once(in_fixtures):
    name = "boilerplate/corpus.jsonl"
    results = [None] * 4

    def one(i):
        results[i] = without_run(json.loads(syndic.scan(name).to_json()))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [golden(name)] * 4


def test_module_documents_its_names():
    for obj in (syndic.scan, syndic.Report, syndic.SyndicError, syndic.Report.to_arrow):
        assert obj.__doc__, obj
    assert syndic.__version__
    assert os.path.exists(pathlib.Path(syndic.__file__).with_name("__init__.pyi"))
