"""syndic finds exact and near-duplicate documents (syndicated copies of one story) in large text
corpora and flags the boilerplate lines that wrap them.

    import pyarrow.parquet as pq, syndic
    table = pq.read_table("shard.parquet")
    report = syndic.scan(table, threshold=0.5)
    rows = pyarrow.table(report.to_arrow())   # id, minhash_cluster_id, ..., keep
    clean = pyarrow.table(syndic.dedup(table))  # the kept rows, every column
"""

from ._native import Index, Report, SyndicError, __version__, dedup, scan

__all__ = ["Index", "Report", "SyndicError", "dedup", "scan", "__version__"]


def _report_from_state(state: bytes) -> Report:
    """Unpickles a Report (what Report.__reduce__ names)."""
    return Report._from_state(state)
