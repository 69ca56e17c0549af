"""Tabular datasets: `.csv` / `.parquet` with a label column, and scikit-learn's tables.

`load_table` returns a `TableData`: the feature columns as a DataFrame in their original
dtypes, integer labels indexing `classes`, and which columns are categorical or integer.
Validation happens here, before any training; every error names the file, column or
class at fault, with row counts, and says how to fix it. The user's file is only read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from ..core.atomic import atomic_path
from ..core.dataset import Dataset
from ..core.errors import InvalidDataError
from ..core.names import check_class_names

log = logging.getLogger(__name__)
TABLE_EXTENSIONS = (".csv", ".parquet", ".pq")
TABLE_BUILTINS = ("breast_cancer", "wine")
IMPUTE = ("none", "median")


@dataclass(frozen=True)
class TableData(Dataset):
    """Feature columns (original dtypes) with labels indexing `classes`."""

    x: pd.DataFrame
    y: np.ndarray
    classes: tuple[str, ...]
    source: str = ""
    label: str = "label"
    categorical: tuple[str, ...] = ()
    modality: ClassVar[str] = "table"

    @property
    def shape(self) -> tuple[int]:
        return (self.x.shape[1],)

    @property
    def integer(self) -> tuple[str, ...]:
        return tuple(c for c in self.x.columns
                     if c not in self.categorical and pd.api.types.is_integer_dtype(self.x[c]))

    def _take_x(self, idx: np.ndarray) -> pd.DataFrame:
        return self.x.iloc[np.asarray(idx)].reset_index(drop=True)

    def _join_x(self, other: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([self.x, other], ignore_index=True)

    def _cast_x(self, x: pd.DataFrame) -> pd.DataFrame:
        return x

    def content_bytes(self) -> bytes:
        """Column names, kinds and values, for the training-data fingerprint."""
        import json

        return (json.dumps([list(map(str, self.x.columns)), list(self.categorical)]).encode()
                + self.x.to_csv(index=False).encode())

    def describe(self) -> str:
        kind = {**{col: "numeric" for col in self.x.columns}, **{col: "integer" for col in self.integer},
                **{col: "categorical" for col in self.categorical}}
        kinds = ", ".join(f"{col} ({k})" for col, k in kind.items())
        return f"{self.source}: {len(self)} rows, {len(self.classes)} classes in '{self.label}'; columns: {kinds}"

    def load_like(self, spec: str, *, numeric: Sequence[str] = (), impute: str = "none", **_: object) -> TableData:
        """Another table with this one's label and categorical columns, labelled by these classes;
        its feature columns must be this table's."""
        from ..core.labels import align_classes

        other = load_table(spec, self.label, self.categorical, numeric, impute)
        if list(other.x.columns) != list(self.x.columns):
            raise InvalidDataError(f"{spec}: columns {list(other.x.columns)} differ from the training "
                                   f"table's {list(self.x.columns)}")
        return align_classes(other, self.classes)

    def write(self, stem: Path) -> Path:
        return write_table(self, stem.with_suffix(".csv"))

    def frame(self, source: str | None = None) -> pd.DataFrame:
        """Features plus the label column (class names), and a `source` column if given."""
        df = self.x.copy()
        df[self.label] = np.asarray(self.classes, dtype=object)[self.y]
        if source is not None:
            df["source"] = source
        return df


def is_table_spec(spec: str) -> bool:
    if spec.startswith("builtin:"):
        return spec.split(":", 1)[1] in TABLE_BUILTINS
    return Path(spec).suffix.lower() in TABLE_EXTENSIONS


def load_table(spec: str | os.PathLike, label: str = "label", categorical: Sequence[str] = (),
               numeric: Sequence[str] = (), impute: str = "none") -> TableData:
    """Load a `.csv` / `.parquet` file with a label column, or `builtin:breast_cancer|wine`.

    Column kinds are detected (strings, booleans and pandas categories are categorical;
    numbers are numeric, integer columns stay integer); `categorical` / `numeric` override
    the detection by name. Missing values are an error naming the columns and row counts,
    unless `impute="median"` (numeric: median, categorical: most frequent value).
    """
    spec = str(spec)
    if spec.startswith("builtin:"):
        df, label, where = _builtin(spec.split(":", 1)[1]), "label", spec
    else:
        path = Path(spec)
        df, where = _read(path), str(path)
    if impute not in IMPUTE:
        raise InvalidDataError(f"impute must be one of {IMPUTE}, got {impute!r}")
    if label not in df.columns:
        raise InvalidDataError(
            f"{where}: no label column '{label}'. Its columns are: {', '.join(map(str, df.columns))}. "
            "Pass --label-column NAME (recipe: [data].label)"
        )
    df.columns = [str(c) for c in df.columns]
    return table_from_frame(df.drop(columns=[label]), df[label], where, label, categorical, numeric, impute)


def table_from_frame(x: pd.DataFrame, y: pd.Series | np.ndarray, where: str, label: str = "label",
                     categorical: Sequence[str] = (), numeric: Sequence[str] = (),
                     impute: str = "none") -> TableData:
    """Detect column kinds, check values and labels, and build a validated `TableData`."""
    x = x.copy()
    x.columns = [str(c) for c in x.columns]
    features = list(x.columns)
    if not features:
        raise InvalidDataError(f"{where}: only the label column '{label}'; a table needs feature columns")
    if len(set(features)) != len(features):
        dupes = sorted({c for c in features if features.count(c) > 1})
        raise InvalidDataError(f"{where}: duplicate column names {dupes}; rename them")
    for name in (*categorical, *numeric):
        if name not in features:
            raise InvalidDataError(f"{where}: column '{name}' (named in categorical/numeric) is not a "
                                   f"feature column; feature columns: {', '.join(features)}")
    for name in features:
        _check_flat(x[name], name, where)
    y_raw = pd.Series(np.asarray(y)) if not isinstance(y, pd.Series) else y.reset_index(drop=True)
    _check_flat(y_raw, label, where)
    if y_raw.isna().any():
        rows = np.flatnonzero(y_raw.isna().to_numpy())
        raise InvalidDataError(f"{where}: label column '{label}' is empty in {len(rows)} row(s) "
                               f"(first: data row {rows[0] + 1}); label every row or drop those rows")
    cats = [c for c in features if c in categorical or (c not in numeric and _looks_categorical(x[c]))]
    for c in features:
        if c not in cats:
            x[c] = _numeric_column(x[c], c, where)
    x = _handle_missing(x, cats, impute, where)
    y_idx, classes = _encode_labels(y_raw)
    classes = check_class_names(classes, f"{where}: label column '{label}'", "rename the label value")
    data = TableData(x.reset_index(drop=True), y_idx, classes, where, label, tuple(cats))
    validate_table(data)
    return data


def load_unlabelled(spec: str, like: TableData, *, numeric: Sequence[str] = (), impute: str = "none",
                    **_: object) -> TableData:
    """Unlabelled rows for `like`'s classes (every label 0, never read as a class): a `.csv` / `.parquet`
    table with `like`'s feature columns; its label column, if it has one, is not read. Column kinds are
    `like`'s (its categorical columns stay categorical, the others must be numbers); missing values as
    `[data].impute` says."""
    path = Path(spec)
    where = f"data.unlabelled: {path}"
    if path.suffix.lower() not in TABLE_EXTENSIONS:
        raise InvalidDataError(f"{where}: use a table ({', '.join(TABLE_EXTENSIONS)}) with the training table's "
                               "feature columns")
    if not path.is_file():
        raise InvalidDataError(f"{where} not found; name a table with the training table's feature columns")
    df = _read(path)
    df.columns = [str(c) for c in df.columns]
    features = list(like.x.columns)
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise InvalidDataError(f"{where}: no column(s) {', '.join(map(repr, missing))}; the pool needs the training "
                               f"table's feature columns: {', '.join(features)}")
    extra = [c for c in df.columns if c not in features and c != like.label]
    if extra:
        raise InvalidDataError(f"{where}: column(s) {', '.join(map(repr, extra))} are not in the training table; "
                               "drop them (the pool holds the feature columns, and optionally the label column, "
                               "which is not read)")
    if not len(df):
        raise InvalidDataError(f"{where} holds no rows")
    x = df[features].copy()
    for name in features:
        _check_flat(x[name], name, where)
        if name not in like.categorical:
            x[name] = _numeric_column(x[name], name, where)
    x = _handle_missing(x, list(like.categorical), impute, where)
    return TableData(x.reset_index(drop=True), np.zeros(len(x), np.int64), like.classes, str(path), like.label,
                     like.categorical)


def validate_table(data: TableData) -> None:
    where = data.source or "table"
    if len(data.classes) < 2:
        raise InvalidDataError(
            f"{where}: found {len(data.classes)} class ({', '.join(data.classes) or 'none'}) in column "
            f"'{data.label}'; a class-conditional model needs at least 2 classes"
        )
    for name, n in data.counts().items():
        if n < 2:
            raise InvalidDataError(f"{where}: class '{name}' has {n} sample{'s' if n != 1 else ''}; "
                                   "every class needs at least 2. Add rows or remove the class")


MAX_COLUMNS = 10_000  # a wider table is refused from its header, before any row is parsed


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InvalidDataError(f"dataset not found: {path}")
    try:
        csv = path.suffix.lower() == ".csv"
        if csv:
            with path.open("rb") as f:  # count the header's fields without parsing rows (or a huge line)
                header = f.readline(64 << 20)
            n = header.count(b",") + 1
        else:
            import pyarrow.parquet as pq

            n = len(pq.read_schema(path).names)
        if n > MAX_COLUMNS:
            raise InvalidDataError(f"{path}: {n:,} columns, more than the {MAX_COLUMNS:,} augmentor handles; "
                                   "select the feature columns you need (and the label) into a narrower table")
        if csv:
            return pd.read_csv(path, low_memory=False)
        return pd.read_parquet(path)
    except InvalidDataError:
        raise
    except pd.errors.EmptyDataError:
        raise InvalidDataError(f"{path}: the file is empty; expected a header row and data rows") from None
    except UnicodeDecodeError as e:
        raise InvalidDataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); "
                               "save the table as UTF-8 CSV") from None
    except (pd.errors.ParserError, ValueError, OSError, ImportError) as e:
        kind = "CSV" if path.suffix.lower() == ".csv" else "parquet"
        raise InvalidDataError(f"{path}: cannot read as {kind} ({str(e).splitlines()[0] if str(e) else e!r})"
                               ) from None
    except Exception as e:  # pyarrow raises its own ArrowInvalid / ArrowTypeError for bad parquet
        if type(e).__module__.startswith("pyarrow"):
            raise InvalidDataError(f"{path}: cannot read as parquet ({e})") from None
        raise


def _builtin(name: str) -> pd.DataFrame:
    from sklearn import datasets

    loaders = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}
    if name not in loaders:
        raise InvalidDataError(f"unknown builtin table '{name}'. Available: {', '.join(TABLE_BUILTINS)}")
    bunch = loaders[name](as_frame=True)
    df = bunch.data.copy()
    df["label"] = np.asarray(bunch.target_names, dtype=object)[bunch.target.to_numpy()]
    return df


def _check_flat(col: pd.Series, name: str, where: str) -> None:
    """Cells must be scalars: parquet list/struct/map columns (and objects) are refused."""
    if col.dtype != object:
        return
    nested = col.map(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray, bytes))).to_numpy()
    if nested.any():
        first = int(np.flatnonzero(nested)[0])
        raise InvalidDataError(f"{where}: column '{name}' holds nested values (e.g. data row {first + 1}: "
                               f"{type(col.iloc[first]).__name__}); flatten list/struct columns into "
                               "scalar columns first")


def _looks_categorical(col: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))


def _numeric_column(col: pd.Series, name: str, where: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        out = col
    else:
        out = pd.to_numeric(col, errors="coerce")
        bad = out.isna() & col.notna()
        if bad.any():
            raise InvalidDataError(
                f"{where}: column '{name}' is declared numeric but {int(bad.sum())} value(s) are not "
                f"numbers (e.g. {col[bad].iloc[0]!r}); fix them or declare the column categorical"
            )
    values = out.to_numpy(dtype=np.float64, na_value=np.nan)
    inf = np.isinf(values)
    if inf.any():
        raise InvalidDataError(f"{where}: column '{name}' holds inf in {int(inf.sum())} row(s) "
                               f"(first: data row {np.flatnonzero(inf)[0] + 1}); replace or drop them")
    return out


def _handle_missing(x: pd.DataFrame, cats: list[str], impute: str, where: str) -> pd.DataFrame:
    missing = {c: int(n) for c, n in x.isna().sum().items() if n}
    if not missing:
        return x
    if impute == "none":
        listed = ", ".join(f"'{c}' ({n} row{'s' if n != 1 else ''})" for c, n in missing.items())
        raise InvalidDataError(f"{where}: missing values in column(s) {listed}. Clean them, or set "
                               "[data].impute = \"median\" (numeric: median, categorical: most frequent)")
    x = x.copy()
    for c in missing:
        if c in cats:
            x[c] = x[c].fillna(x[c].mode(dropna=True).iloc[0])
        else:
            fill = x[c].median()
            if pd.api.types.is_integer_dtype(x[c]) or _integral(x[c]):
                x[c] = x[c].fillna(round(fill))
                if _integral(x[c]):
                    x[c] = x[c].astype(np.int64)
            else:
                x[c] = x[c].fillna(fill)
        log.warning("%s: imputed %d missing value(s) in column '%s'", where, missing[c], c)
    return x


def _integral(col: pd.Series) -> bool:
    v = col.dropna().to_numpy(dtype=np.float64)
    return bool(len(v)) and bool(np.all(v == np.round(v)))


def _encode_labels(y: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    values = y.to_numpy()
    try:
        uniq, inverse = np.unique(values, return_inverse=True)
    except TypeError:  # mixed types (e.g. ints and strings): compare as text
        uniq, inverse = np.unique(values.astype(str), return_inverse=True)
    return inverse.astype(np.int64).ravel(), tuple(str(v) for v in uniq.tolist())


def write_table(data: TableData, path: str | os.PathLike) -> Path:
    """Write features + label as CSV or parquet (by suffix), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        frame = data.frame()
        if path.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    return path
