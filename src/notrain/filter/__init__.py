"""The dataset filter: decide rows of URL/caption datasets before anything is downloaded.

:class:`BatchFilter` turns an Arrow record batch into decision columns, with the
same :func:`~notrain.core.decision.decide` the crawler uses; ``notrain filter``
(:mod:`notrain.filter.run`) streams parquet, CSV and JSONL files through it.
"""

from .batch import BatchFilter, Columns, FilterError

__all__ = ["BatchFilter", "Columns", "FilterError"]
