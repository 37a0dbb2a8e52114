"""Tests of syndic.Index: batches added give the scan's report on export, checks answer as
`syndic index check` does, ids are refused as the command refuses them, parameters are fixed."""

import json
import os
import pathlib
import shutil
import subprocess

import pytest

import syndic

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures"
CORPUS = FIXTURES / "syndication/corpus.jsonl"


def records():
    with open(CORPUS, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def without_run(report_json):
    r = json.loads(report_json)
    r.pop("run")
    return r


def test_batches_export_the_scan(tmp_path):
    docs = records()
    index = syndic.Index(tmp_path / "idx")
    assert len(index) == 0
    first = index.add(docs[:10])
    assert first["added"] == 10 and first["skipped"] == 0
    assert [r["id"] for r in first["results"]] == [d["id"] for d in docs[:10]]
    second = index.add(docs[10:])
    assert second["added"] == len(docs) - 10
    assert len(index) == len(docs)
    # The export is the scan of the same documents, whatever the batches (an index verifies on
    # the signatures, as `verify="estimate"`).
    scan = syndic.scan(docs, verify="estimate")
    assert without_run(index.export().to_json()) == without_run(scan.to_json())
    # Opened again (no parameters): the same index.
    again = syndic.Index(str(tmp_path / "idx"))
    assert len(again) == len(docs)


def test_check_answers_as_the_command(tmp_path):
    docs = records()
    index = syndic.Index(tmp_path / "idx")
    index.add(docs[5:])
    got = index.check(docs[:5])
    assert [r["id"] for r in got] == [d["id"] for d in docs[:5]]
    for r in got:
        assert r["duplicate"] == bool(r["matches"])
        assert set(r) == {"id", "duplicate", "matches", "cluster"}
    assert any(r["duplicate"] for r in got)
    # A path is read as the command reads it; nothing is added by a check.
    assert len(index.check(str(CORPUS))) == len(docs)
    assert len(index) == len(docs) - 5
    exe = os.environ.get("SYNDIC_BIN") or shutil.which("syndic")
    if not exe:
        pytest.skip("no syndic command (set SYNDIC_BIN)")
    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps(d) + "\n" for d in docs[:5]), encoding="utf-8")
    out = subprocess.run([exe, "index", "check", str(tmp_path / "idx"), str(queries), "-q"],
                         check=True, capture_output=True, text=True).stdout
    assert [json.loads(line) for line in out.splitlines()] == got


def test_ids_and_parameters(tmp_path):
    docs = records()
    index = syndic.Index(tmp_path / "idx", threshold=0.6)
    index.add(docs[:3])
    with pytest.raises(syndic.SyndicError, match="duplicate document id"):
        index.add(docs[2:4])
    assert len(index) == 3
    skipped = index.add(docs[2:4], on_error="skip")
    assert (skipped["added"], skipped["skipped"]) == (1, 1)
    with pytest.raises(syndic.SyndicError, match="threshold"):
        syndic.Index(tmp_path / "idx", threshold=0.8)
    assert len(syndic.Index(tmp_path / "idx", threshold=0.6)) == 4
    with pytest.raises(ValueError, match="on_error"):
        index.check(docs[:1], on_error="ignore")
    with pytest.raises(TypeError, match="unexpected parameters"):
        syndic.Index(tmp_path / "other", treshold=0.5)
