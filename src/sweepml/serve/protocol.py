"""MLflow's scoring protocol: a ``POST /invocations`` body as rows and request parameters.

``application/json`` holds exactly one of ``dataframe_split`` (pandas' split orient:
``columns`` and ``data``), ``dataframe_records`` (a list of ``{column: value}``), ``instances``
(rows: objects, or lists in the model's column order) or ``inputs`` (columns as
``{column: [values]}``, or rows as ``instances``), and optionally ``params``. ``text/csv`` is a
table with a header row. The same bodies work against ``mlflow models serve``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweepml.serve.errors import RequestError

__all__ = [
    "INPUT_KEYS",
    "Invocation",
    "json_document",
    "media_type",
    "parse_invocation",
    "proba_param",
]

INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass
class Invocation:
    """A parsed request: its rows (a table's as a DataFrame or, from ``dataframe_records``, as
    the list of records; an image model's images as one array), and whether it asks for class
    probabilities."""

    rows: Any
    proba: bool = False


def parse_invocation(
    body: bytes, content_type: str | None, query: Mapping[str, str], columns: Sequence[str]
) -> Invocation:
    """The rows and parameters of a request; ``columns`` (the model's, in order) name the
    values of rows given as lists. Raises ``RequestError`` (400 or 415) naming what is wrong."""
    media = media_type(content_type)
    if media == "application/json":
        document = json_document(body)
        rows = _json_rows(document, columns)
    elif media == "text/csv":
        document = {}
        rows = _csv(body)
    else:
        raise RequestError(
            415,
            f"Content-Type must be application/json or text/csv; got {content_type or 'none'!r}.",
        )
    return Invocation(rows, proba=proba_param(document, query))


def media_type(content_type: str | None) -> str:
    """``application/json`` of ``application/json; charset=utf-8``."""
    return (content_type or "").split(";")[0].strip().lower()


def proba_param(document: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    """The request's ``proba``: from the body's ``params`` or the query string (which wins);
    any other parameter is a 400 naming it."""
    params: dict[str, Any] = {}
    given = document.get("params", {})
    if not isinstance(given, dict):
        raise RequestError(400, f'"params" must be an object; got {_kind(given)}.')
    params.update(given)
    if "proba" in query:
        params["proba"] = query["proba"]
    unknown = sorted(set(params) - {"proba"})
    if unknown:
        raise RequestError(400, f"unknown parameters {unknown}; the one known is 'proba'.")
    return _flag("proba", params.get("proba", False))


def json_document(body: bytes) -> dict[str, Any]:
    """The JSON object of a body, or a 400 saying why it is not one."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(400, f"the body is not valid JSON: {exc}.", "MALFORMED_REQUEST") from exc
    if not isinstance(document, dict):
        raise RequestError(
            400,
            f"the JSON body must be an object with one of {list(INPUT_KEYS)}; got "
            f"{_kind(document)}.",
            "MALFORMED_REQUEST",
        )
    return document


def _json_rows(
    document: dict[str, Any], columns: Sequence[str]
) -> pd.DataFrame | list[dict[str, Any]]:
    present = [key for key in INPUT_KEYS if key in document]
    extra = sorted(set(document) - set(INPUT_KEYS) - {"params"})
    if len(present) != 1 or extra:
        found = present + extra
        raise RequestError(
            400,
            f"the JSON body must hold exactly one of {list(INPUT_KEYS)} (and optionally "
            f"'params'); it holds {found or 'none of them'}.",
            "MALFORMED_REQUEST",
        )
    key = present[0]
    value = document[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records":
        return _records(value, key)
    if key == "inputs" and isinstance(value, dict):
        return _columnar(value)
    return _instances(value, key, columns)


def _split(value: Any) -> pd.DataFrame:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise RequestError(
            400,
            '"dataframe_split" must be an object with "columns" (names) and "data" (rows as '
            "lists).",
            "MALFORMED_REQUEST",
        )
    data, names = value["data"], value.get("columns")
    if names is not None and not (isinstance(names, list) and all(_is_name(n) for n in names)):
        raise RequestError(400, '"dataframe_split" "columns" must be a list of names.')
    width = len(names) if names is not None else None
    for i, row in enumerate(data):
        if not isinstance(row, list):
            raise RequestError(400, f'"dataframe_split" row {i} is {_kind(row)}, not a list.')
        if width is not None and len(row) != width:
            raise RequestError(
                400, f'"dataframe_split" row {i} has {len(row)} values for {width} columns.'
            )
    return pd.DataFrame(data, columns=names)


def _records(value: Any, key: str) -> list[dict[str, Any]]:
    """Rows as ``{column: value}`` objects, kept as they are: a server joins the records of
    several requests into one DataFrame, cheaper than one DataFrame per request."""
    if not isinstance(value, list):
        raise RequestError(400, f'"{key}" must be a list of rows; got {_kind(value)}.')
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            raise RequestError(400, f'"{key}" row {i} is {_kind(row)}, not an object.')
    return value


def _columnar(value: dict[str, Any]) -> pd.DataFrame:
    lengths = {name: len(v) if isinstance(v, list) else None for name, v in value.items()}
    if any(n is None for n in lengths.values()) or len(set(lengths.values())) > 1:
        raise RequestError(
            400,
            f'"inputs" as an object must map each column to a list of values of one length; '
            f"got lengths {lengths}.",
        )
    return pd.DataFrame(value)


def _instances(value: Any, key: str, columns: Sequence[str]) -> pd.DataFrame | list[dict[str, Any]]:
    if not isinstance(value, list):
        raise RequestError(400, f'"{key}" must be a list of rows; got {_kind(value)}.')
    if all(isinstance(row, dict) for row in value):
        return _records(value, key)
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != len(columns):
            raise RequestError(
                400,
                f'"{key}" row {i} must be an object, or a list of {len(columns)} values in the '
                f"model's column order {list(columns)}; got {_kind(row)}.",
            )
    return pd.DataFrame(value, columns=list(columns))


def _csv(body: bytes) -> pd.DataFrame:
    if not body.strip():
        raise RequestError(400, "the CSV body is empty; it needs a header row and rows.")
    try:  # text, each column converted to its kind at fit time later (``schema.conform``)
        return pd.read_csv(io.BytesIO(body), dtype=str)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        message = f"the body is not a CSV table: {exc}."
        raise RequestError(400, message, "MALFORMED_REQUEST") from exc


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise RequestError(400, f'"{name}" must be true or false; got {value!r}.')


def _is_name(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")
