"""Tables: `.csv` / `.parquet` files with a label column, and scikit-learn's builtin tables.

The package implements the `Modality` (core/modality.py) for tables and binds it to `TableData` and
`TableCodec`; it imports only the core and generic helpers, never another modality or the registry.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.modality import Deferred, Modality, Training, bind
from .codec import TableCodec
from .data import TABLE_BUILTINS, TableData, is_table_spec, load_table, load_unlabelled, table_from_frame, write_table
from .models import TableCritic, TableGenerator, table_step
from .writer import read_table_samples, table_to_folder

__all__ = ["MODALITY", "TableCodec", "TableData", "load_table", "read_table_samples", "table_from_frame",
           "write_table"]


def _load(spec: str, label: str = "label", categorical: Sequence[str] = (), numeric: Sequence[str] = (),
          impute: str = "none", **_: object) -> TableData:
    return load_table(spec, label, categorical, numeric, impute)


def _fit_codec(data: TableData) -> TableCodec:
    return TableCodec.fit(data.x, data.categorical, data.label)


def _step(g, d, opt, x, y, z, gen, cfg, k, guide, w):
    return table_step(g, d, opt, x, y, z, gen)


def _generator(state: dict) -> TableGenerator:
    return TableGenerator(len(state["classes"]), TableCodec.from_json(state["codec"]).spans, state["z_dim"],
                          state["g_channels"])


def _models(k: int, shape: tuple, z_dim: int, g_width: int, d_width: int, codec: TableCodec) -> tuple:
    return TableGenerator(k, codec.spans, z_dim, g_width), TableCritic(k, codec.width, d_width)


def _evaluation() -> object:
    from .evaluation import TableEvaluation

    return TableEvaluation()


def _smote(*args, **options) -> tuple:
    from .evaluation import smote_tables

    return smote_tables(*args, **options)


MODALITY = bind(Modality(
    "table", claims=is_table_spec, load=_load, codec=TableCodec.from_json,
    training=Training(_fit_codec, _step, False, _generator, _models),
    writer=table_to_folder, reader=read_table_samples, smote=_smote, evaluation=Deferred(_evaluation),
    formats=("csv", "parquet"), serve_formats=("csv", "parquet"), builtins=TABLE_BUILTINS,
    unlabelled=load_unlabelled), TableData, TableCodec)
