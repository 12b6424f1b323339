"""Adapters for outside formats: one module per format, pure functions and typed records.

Only the modules in this package know a platform's column names, encodings and quirks; the rest
of tracework sees the records they produce. Nothing here touches the database or pseudonyms.
The tabular readers (:mod:`~tracework.formats.mturk`, :mod:`~tracework.formats.qualtrics`)
share :mod:`~tracework.formats.csvio`, a streaming reader made for broken and hostile files.

Submodules are imported on demand, so reading one format never loads another.
"""
