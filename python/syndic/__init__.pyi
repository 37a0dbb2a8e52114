"""Type stubs of syndic (the extension module syndic._native)."""

import os
from typing import Any, Iterable, Mapping, Sequence, Union, overload

__version__: str

PathLike = Union[str, "os.PathLike[str]"]

class SyndicError(Exception):
    """A scan that could not run: a record that cannot be read (the message names its file and
    line, or `<memory>:N` for the N-th record given in memory), a file that cannot be opened,
    scratch space that cannot be used."""

class Report:
    """The result of a scan: the JSON report (as `syndic scan` writes it) and one row per
    document. Pickles."""

    @property
    def clusters(self) -> list[dict[str, Any]]:
        """The clusters of copies: [{"id", "representative", "family", "size", "members"}]."""
    @property
    def links(self) -> list[dict[str, Any]]:
        """Verified copies the clusters leave apart: [{"part", "part_cluster", "whole", ...}]."""
    @property
    def boilerplate(self) -> dict[str, Any]:
        """The boilerplate found: {"status", "lines_flagged", "documents_with_flags", "templates"}."""
    @property
    def stats(self) -> dict[str, Any]:
        """Counts: documents, exact and near duplicates, clusters, kept, skipped records, ..."""
    @property
    def params(self) -> dict[str, Any]:
        """Every parameter that decided the result."""
    @property
    def run(self) -> dict[str, Any]:
        """What may differ between runs: version, threads, seconds, seconds per stage."""
    def to_json(self) -> str:
        """The JSON report, as `syndic scan` writes it."""
    def to_arrow(self) -> Any:
        """One row per document in input order, as an Arrow table exporting
        `__arrow_c_stream__` (pass it to pyarrow.table, polars.DataFrame): id,
        minhash_cluster_id (-1 outside a cluster), minhash_cluster_size (1 outside a cluster),
        duplicate_of (the kept document's id; null when kept), keep, boilerplate_lines."""
    def __len__(self) -> int:
        """The number of documents."""

class Index:
    """An incremental index on disk (`syndic index`). `Index(path)` opens it, or makes it with
    the options of `scan` that decide results as keyword arguments; options given for an index
    already there must be its own (`SyndicError` names those that differ)."""

    def __init__(self, path: PathLike, **params: Any) -> None: ...
    def add(
        self,
        data: Union[PathLike, Sequence[PathLike], Iterable[Mapping[str, Any]], Any],
        *,
        text: str = "text",
        id: str = "id",
        source: str | None = None,
        date: str | None = None,
        on_error: str = "fail",
    ) -> dict[str, Any]:
        """Adds the documents in one commit: {"added", "skipped", "results": [...]}."""
    def check(
        self,
        data: Union[PathLike, Sequence[PathLike], Iterable[Mapping[str, Any]], Any],
        *,
        text: str = "text",
        id: str = "id",
        source: str | None = None,
        date: str | None = None,
        on_error: str = "fail",
    ) -> list[dict[str, Any]]:
        """One {"id", "duplicate", "matches", "cluster"} per document, in input order."""
    def export(self) -> Report:
        """The scan's report of everything indexed."""
    def __len__(self) -> int:
        """The number of documents indexed."""

def scan(
    data: Union[PathLike, Sequence[PathLike], Iterable[Mapping[str, Any]], Any],
    *,
    text: str = "text",
    id: str = "id",
    source: str | None = None,
    date: str | None = None,
    glob: str | Sequence[str] = ...,
    on_error: str = "fail",
    shingle: int = 7,
    num_perm: int = 128,
    threshold: float = 0.5,
    bands: int | None = None,
    rows: int | None = None,
    containment: float | None = 0.7,
    no_containment: bool = False,
    min_containment_shingles: int = 100,
    dated_containment: float | None = 0.6,
    max_days: int | None = None,
    verify: str = "recheck",
    cluster: str = "pivot",
    max_bucket: int = 200,
    seed: int = 0,
    no_boilerplate: bool = False,
    boilerplate_min_docs: int = 5,
    boilerplate_min_stories: int = 5,
    boilerplate_story_ratio: float = 0.5,
    source_template_docs: int = 3,
    keep: str = "longest",
    threads: int | None = None,
    memory_limit: str | int | None = None,
) -> Report:
    """Finds exact and near-duplicate documents in `data`: a path or a list of paths (any
    input `syndic scan` reads), an iterable of dicts, or any object exporting Arrow data
    (`__arrow_c_stream__`: pyarrow Table or RecordBatchReader, polars DataFrame), whose texts
    are read in place. The keyword arguments are `syndic scan`'s options by their long names,
    checked as the command line checks them (ValueError, TypeError). Runs with the GIL
    released; Ctrl-C raises KeyboardInterrupt; a bad record raises SyndicError naming its file
    and line."""

@overload
def dedup(
    data: Union[PathLike, Sequence[PathLike]],
    *,
    text: str = "text",
    id: str = "id",
    source: str | None = None,
    date: str | None = None,
    annotate: bool = False,
    output: PathLike,
    glob: str | Sequence[str] = ...,
    on_error: str = "fail",
    shingle: int = 7,
    num_perm: int = 128,
    threshold: float = 0.5,
    bands: int | None = None,
    rows: int | None = None,
    containment: float | None = 0.7,
    no_containment: bool = False,
    min_containment_shingles: int = 100,
    dated_containment: float | None = 0.6,
    max_days: int | None = None,
    verify: str = "recheck",
    cluster: str = "pivot",
    max_bucket: int = 200,
    seed: int = 0,
    no_boilerplate: bool = False,
    boilerplate_min_docs: int = 5,
    boilerplate_min_stories: int = 5,
    boilerplate_story_ratio: float = 0.5,
    source_template_docs: int = 3,
    keep: str = "longest",
    threads: int | None = None,
    memory_limit: str | int | None = None,
) -> Report: ...
@overload
def dedup(
    data: Iterable[Mapping[str, Any]],
    *,
    text: str = "text",
    id: str = "id",
    source: str | None = None,
    date: str | None = None,
    annotate: bool = False,
    glob: str | Sequence[str] = ...,
    on_error: str = "fail",
    shingle: int = 7,
    num_perm: int = 128,
    threshold: float = 0.5,
    bands: int | None = None,
    rows: int | None = None,
    containment: float | None = 0.7,
    no_containment: bool = False,
    min_containment_shingles: int = 100,
    dated_containment: float | None = 0.6,
    max_days: int | None = None,
    verify: str = "recheck",
    cluster: str = "pivot",
    max_bucket: int = 200,
    seed: int = 0,
    no_boilerplate: bool = False,
    boilerplate_min_docs: int = 5,
    boilerplate_min_stories: int = 5,
    boilerplate_story_ratio: float = 0.5,
    source_template_docs: int = 3,
    keep: str = "longest",
    threads: int | None = None,
    memory_limit: str | int | None = None,
) -> list[dict[str, Any]]: ...
@overload
def dedup(
    data: Any,
    *,
    text: str = "text",
    id: str = "id",
    source: str | None = None,
    date: str | None = None,
    annotate: bool = False,
    glob: str | Sequence[str] = ...,
    on_error: str = "fail",
    shingle: int = 7,
    num_perm: int = 128,
    threshold: float = 0.5,
    bands: int | None = None,
    rows: int | None = None,
    containment: float | None = 0.7,
    no_containment: bool = False,
    min_containment_shingles: int = 100,
    dated_containment: float | None = 0.6,
    max_days: int | None = None,
    verify: str = "recheck",
    cluster: str = "pivot",
    max_bucket: int = 200,
    seed: int = 0,
    no_boilerplate: bool = False,
    boilerplate_min_docs: int = 5,
    boilerplate_min_stories: int = 5,
    boilerplate_story_ratio: float = 0.5,
    source_template_docs: int = 3,
    keep: str = "longest",
    threads: int | None = None,
    memory_limit: str | int | None = None,
) -> Any:
    """Deduplicates `data`, giving back what it was given without the duplicates: for Arrow
    data (`__arrow_c_stream__`) an Arrow table exporting `__arrow_c_stream__` of the kept rows
    with every column as given; for an iterable of dicts a list of the kept dicts. The rows kept
    are those whose `keep` is true in `scan(data).to_arrow()`. `annotate=True` keeps every row
    and adds minhash_cluster_id (-1 outside a cluster), minhash_cluster_size (1 outside a
    cluster) and duplicate_of (None when kept); data that already has one of them raises
    SyndicError. For paths, `output` (required: ValueError without it) receives what `syndic
    dedup -o OUTPUT` writes (JSONL, or Parquet from Parquet input), and the Report is returned.
    The other keyword arguments are `scan`'s."""

def _report_from_state(state: bytes) -> Report: ...
