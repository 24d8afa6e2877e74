"""Turning cells of any source into plain text, so one parser serves CSV, xlsx, parquet and SQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def decode_csv_bytes(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; Windows-1252 when the bytes are not valid UTF-8.

    Windows-1252 is what Excel's "CSV" save writes on UK machines; trying UTF-8 first is safe
    because cp1252 text with accented letters is almost never valid UTF-8.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def column_to_text(values: pd.Series) -> pd.Series:
    """Render a typed column (dates, numbers, text) as text; missing stays missing.

    Dates become ISO text so that an Excel date cell, a parquet date and a SQL date all reach
    the same date parser as a CSV's ``2025-04-01``. Whole floats lose their ``.0`` (Excel stores
    every number as a float, and an ID of ``1234.0`` is ``1234``).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%d")
        return text.astype("str")
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "1", False: "0"}).astype("str")
    if pd.api.types.is_integer_dtype(values):
        return values.astype("Int64").astype("str").mask(values.isna())
    if pd.api.types.is_float_dtype(values):
        whole = values.notna() & np.isfinite(values) & (values == np.floor(values))
        text = values.astype("str")
        as_int = values.where(whole).astype("Int64").astype("str")
        return text.mask(whole, as_int).mask(values.isna())
    if values.dtype == object:
        return _objects_to_text(values)
    return values.astype("str")


def _objects_to_text(values: pd.Series) -> pd.Series:
    # Mixed cells (an xlsx column or a SQL column of several types): convert by kind of value.
    def one(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return np.nan
        if isinstance(value, dt.datetime | pd.Timestamp):
            return value.strftime("%Y-%m-%d") if not _has_time(value) else value.isoformat(sep=" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    # One conversion per distinct value, not per row: extracts repeat codes and dates heavily.
    uniques = pd.unique(values.to_numpy(dtype=object))
    lookup = {u: one(u) for u in uniques if u is not None and u == u}
    return values.map(lookup).astype("str")


def _has_time(value: dt.datetime) -> bool:
    return (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0)
