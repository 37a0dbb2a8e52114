"""Tests of syndic.dedup: it gives back the kind of data it was given, the rows whose `keep` is
true in scan(...).to_arrow() with every column kept, annotated as to_arrow says with
annotate=True; for files it writes what `syndic dedup` writes."""

import datetime
import json
import os
import pathlib
import shutil
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import syndic

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures"
CORPUS = "syndication/corpus.jsonl"
ANNOTATIONS = ["minhash_cluster_id", "minhash_cluster_size", "duplicate_of"]


def records(name=CORPUS):
    with open(FIXTURES / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def wide_table():
    """The fixture's records with extra columns of several types, in several batches."""
    recs = records()
    n = len(recs)
    table = pa.table(
        {
            "n": pa.array(range(n), pa.int32()),
            "text": pa.array([r["text"] for r in recs], pa.large_string()),
            "score": pa.array([i / 7 if i % 5 else None for i in range(n)], pa.float64()),
            "id": pa.array([r["id"] for r in recs], pa.string()),
            "tags": pa.array([[f"t{i}"] * (i % 3) for i in range(n)], pa.list_(pa.string())),
            "flag": pa.array([i % 2 == 0 for i in range(n)]),
            "day": pa.array([datetime.date(2024, 1, 1 + i % 28) for i in range(n)]),
            "meta": pa.array([{"k": i, "s": str(i)} for i in range(n)]),
        },
        metadata={"origin": "test"},
    )
    return pa.Table.from_batches(table.to_batches(max_chunksize=5))


def test_an_arrow_table_keeps_every_column_and_the_kept_rows():
    table = wide_table()
    keep = pa.table(syndic.scan(table).to_arrow())["keep"]
    got = pa.table(syndic.dedup(table))
    assert got.schema == table.schema
    assert got.schema.metadata == table.schema.metadata
    want = table.filter(keep)
    assert 0 < got.num_rows < table.num_rows
    assert got.to_pylist() == want.to_pylist()


def test_annotate_gives_every_row_with_to_arrows_values():
    table = wide_table()
    rows = pa.table(syndic.scan(table, threshold=0.4).to_arrow())
    got = pa.table(syndic.dedup(table, annotate=True, threshold=0.4))
    assert got.column_names == table.column_names + ANNOTATIONS
    assert got.select(table.column_names).to_pylist() == table.to_pylist()
    assert [got.schema.field(c).type for c in ANNOTATIONS] == [pa.int64(), pa.int64(), pa.string()]
    for c in ANNOTATIONS:
        assert got[c].to_pylist() == rows[c].to_pylist(), c
    assert any(d is not None for d in got["duplicate_of"].to_pylist())


def test_a_record_batch_reader_and_renamed_columns():
    table = wide_table().rename_columns(["n", "body", "score", "key", "tags", "flag", "day", "meta"])
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    got = pa.table(syndic.dedup(reader, text="body", id="key"))
    keep = pa.table(syndic.scan(table, text="body", id="key").to_arrow())["keep"]
    assert got.to_pylist() == table.filter(keep).to_pylist()


def test_dicts_in_dicts_out():
    recs = records()
    for r in recs:
        r["extra"] = {"nested": [1, 2]}
    keep = pa.table(syndic.scan(recs).to_arrow())["keep"].to_pylist()
    got = syndic.dedup(iter(recs))
    assert isinstance(got, list)
    want = [r for r, k in zip(recs, keep) if k]
    assert got == want
    # The same objects, as given.
    assert all(a is b for a, b in zip(got, want))


def test_dicts_annotated():
    recs = records()
    rows = pa.table(syndic.scan(recs).to_arrow()).to_pylist()
    got = syndic.dedup(recs, annotate=True)
    assert len(got) == len(recs)
    for g, r, row in zip(got, recs, rows):
        assert {k: g[k] for k in r} == r
        assert {k: g[k] for k in ANNOTATIONS} == {k: row[k] for k in ANNOTATIONS}
        # The dicts given are left as they were.
        assert not set(ANNOTATIONS) & set(r)


def test_polars_in_arrow_out():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame(records())
    got = pl.DataFrame(syndic.dedup(df))
    assert got.columns == df.columns
    assert got.height == syndic.scan(df).stats["kept"]


def test_an_existing_annotation_column_is_refused():
    recs = records()
    recs[2]["duplicate_of"] = "x"
    with pytest.raises(syndic.SyndicError, match=r'<memory>:3: .*"duplicate_of"'):
        syndic.dedup(recs, annotate=True)
    table = pa.Table.from_pylist(records()).append_column("minhash_cluster_id", pa.array([0] * len(recs)))
    with pytest.raises(syndic.SyndicError, match=r'"minhash_cluster_id", which annotating'):
        syndic.dedup(table, annotate=True)
    # Without annotate=True, the column is just a column.
    assert pa.table(syndic.dedup(table)).column_names == table.column_names


def test_paths_need_output(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    with pytest.raises(ValueError, match=r"pass output="):
        syndic.dedup(CORPUS)
    with pytest.raises(ValueError, match=r"output= is for files"):
        syndic.dedup(records(), output="clean.jsonl")
    with pytest.raises(TypeError, match=r"^dedup\(\) takes a path, a list of paths"):
        syndic.dedup(42)
    with pytest.raises(TypeError, match=r"dedup\(\) got unexpected parameters: treshold"):
        syndic.dedup(records(), treshold=0.5)


def cli():
    exe = os.environ.get("SYNDIC_BIN") or shutil.which("syndic")
    if not exe or not os.path.exists(exe):
        pytest.skip("no syndic command (set SYNDIC_BIN)")
    return exe


@pytest.mark.parametrize("annotate", [False, True])
def test_a_path_with_output_writes_what_the_command_writes(tmp_path, monkeypatch, annotate):
    exe = cli()
    monkeypatch.chdir(FIXTURES)
    flags = ["--annotate"] if annotate else []
    subprocess.run([exe, "dedup", CORPUS, "-o", str(tmp_path / "cli.jsonl"), "-q", *flags], check=True)
    r = syndic.dedup(CORPUS, output=tmp_path / "py.jsonl", annotate=annotate)
    assert isinstance(r, syndic.Report)
    assert r.stats["kept"] < r.stats["documents"]
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["cli.jsonl", "py.jsonl"]


def test_parquet_in_parquet_out_as_the_command(tmp_path):
    exe = cli()
    src = tmp_path / "in.parquet"
    pq.write_table(wide_table(), src)
    subprocess.run([exe, "dedup", str(src), "-o", str(tmp_path / "cli.parquet"), "-q"], check=True)
    r = syndic.dedup(str(src), output=str(tmp_path / "py.parquet"))
    py, want = pq.read_table(tmp_path / "py.parquet"), pq.read_table(tmp_path / "cli.parquet")
    assert py.num_rows == r.stats["kept"]
    assert py.equals(want)
    assert py.to_pylist() == pa.table(syndic.dedup(wide_table())).to_pylist()


def test_rows_skipped_under_on_error_skip():
    recs = records()
    ids = [r["id"] for r in recs]
    ids[1] = ids[0]
    table = pa.table({"text": [r["text"] for r in recs], "id": ids, "n": range(len(recs))})
    with pytest.raises(syndic.SyndicError, match=r"<memory>:2: duplicate document id"):
        syndic.dedup(table)
    r = syndic.scan(table, on_error="skip")
    assert len(r) == len(recs) - 1
    got = pa.table(syndic.dedup(table, on_error="skip"))
    assert got.num_rows == r.stats["kept"]
    assert 1 not in got["n"].to_pylist()
    # Annotated, every row stays, the skipped one outside any cluster.
    got = pa.table(syndic.dedup(table, on_error="skip", annotate=True)).to_pylist()
    assert len(got) == len(recs)
    assert [got[1][c] for c in ANNOTATIONS] == [-1, 1, None]
    kept = [g["id"] for i, g in enumerate(got) if i != 1 and g["duplicate_of"] is None]
    assert len(kept) == r.stats["kept"]


def test_dedup_is_documented():
    assert "annotate" in syndic.dedup.__doc__
    assert "dedup" in syndic.__all__


def test_a_hugging_face_dataset_as_the_readme_says():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(records())
    report = syndic.scan(ds.with_format("arrow")[:])
    keep = pa.table(report.to_arrow())["keep"].to_pylist()
    kept = ds.filter(lambda _, i: keep[i], with_indices=True)
    assert len(kept) == report.stats["kept"] < len(ds)
    assert kept.to_list() == pa.table(syndic.dedup(ds.with_format("arrow")[:])).to_pylist()
