"""`GANOverSampler`: augmentor's class-conditional GAN on arrays in memory, for every modality, the
imbalanced-learn / SDV way.

    from augmentor import GANOverSampler

    sampler = GANOverSampler(random_state=0).fit(X, y)      # images, signals or a table
    X_new, y_new = sampler.sample({"cat": 500})              # exactly the counts asked, in X's layout
    X_res, y_res = GANOverSampler(random_state=0).fit_resample(X, y)   # imbalanced-learn's meaning
    sampler.save("model.onnx")                               # what `augmentor generate` / `serve` load

X: images as (N, H, W), (N, H, W, C) or (N, C, H, W), uint8 (0..255) or float in [0, 1]; signals as (N, L) or
(N, C, L) (`modality="signal"`; a 3-D array of square frames reads as images); a table as a DataFrame, or any
2-D array. `modality="auto"` reads a DataFrame or a 2-D array as a table, a 4-D array or a 3-D array of
square frames as images, any other 3-D array as signals. Samples come back in the caller's layout, dtype and
label values. The generator is trained with the defaults `augmentor run DATA` picks for this modality and
size (`epochs` overrides them), exported to ONNX and sampled with ONNX Runtime, so `save` then `augmentor
generate MODEL --seed S` gives the samples `sample(..., random_state=S)` gives (images as 8-bit pixels, as
written to disk).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_sampling_strategy
from sklearn.utils._param_validation import Interval, StrOptions

MODALITIES = ("auto", "image", "table", "signal")


def modality_of(X: Any, modality: str = "auto") -> str:
    """The modality arrays in memory are read as: `modality` when named, else a DataFrame or a 2-D array is a
    table, a 4-D array or a 3-D array of square frames images, any other 3-D array signals."""
    if modality not in MODALITIES:
        raise ValueError(f"modality must be auto, image, table or signal, got {modality!r}")
    if modality != "auto":
        return modality
    if hasattr(X, "iloc") or np.ndim(X) == 2:
        return "table"
    x = np.asarray(X)
    return "image" if x.ndim == 4 or x.shape[1] == x.shape[2] else "signal"


class GANOverSampler(BaseOverSampler):
    """Over-sample with a class-conditional GAN trained on (X, y); every modality, arrays in memory.

    Parameters
    ----------
    sampling_strategy : as in imbalanced-learn ("auto", "minority", "not minority", "not majority", "all",
        a float for two classes, a dict, or a callable): what `fit_resample` adds.
    modality : "auto", "image", "table" or "signal" (see the module's docstring for "auto").
    epochs : GAN training epochs; None takes the defaults `augmentor run DATA` uses for this data.
    width : the generator's and discriminator's channels; None takes those defaults (a smaller GAN trains faster).
    random_state : int for reproducible training and sampling; None is 0.
    device : "cpu", "cuda" or "auto" (training; sampling runs on ONNX Runtime's CPU provider).
    verbose : show training progress.
    """

    _sampling_type = "over-sampling"
    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "modality": [StrOptions(set(MODALITIES))],
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
        "width": [Interval(Integral, 8, None, closed="left"), None],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "verbose": ["boolean"],
    }

    def __init__(self, *, sampling_strategy="auto", modality: str = "auto", epochs: int | None = None,
                 width: int | None = None, random_state: int | None = None, device: str = "cpu",
                 verbose: bool = False) -> None:
        super().__init__(sampling_strategy=sampling_strategy)
        self.modality = modality
        self.epochs = epochs
        self.width = width
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # --- fit ------------------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> GANOverSampler:
        """Validate (X, y), train the GAN on them, export it to ONNX and keep it for `sample`."""
        self._validate_params()
        X, y, _ = self._check_X_y(X, y)
        self.sampling_strategy_ = check_sampling_strategy(self.sampling_strategy, y, self._sampling_type)
        data = self._dataset(X, y)
        self._train(data)
        return self

    def _fit_resample(self, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
        data = self._dataset(X, y)
        self._train(data)
        counts = {c: int(n) for c, n in self.sampling_strategy_.items() if n > 0}
        if not counts:
            return X, y
        new_x, new_y = self.sample(counts)
        return self._join(X, new_x), np.concatenate([y, new_y.astype(y.dtype, copy=False)])

    def _check_X_y(self, X: Any, y: Any, accept_sparse=None) -> tuple[Any, np.ndarray, bool]:  # noqa: ARG002
        """One-line errors naming the argument: X's dimensions, y's length, NaN, a single class. y as imbalanced-learn
        takes it: a vector, a one-column frame, or one-vs-all indicator columns (returned as labels, and flagged)."""
        from imblearn.utils import check_target_type

        one_vs_all = np.ndim(y) == 2 and np.isin(np.asarray(y), (0, 1)).all() and (np.asarray(y).sum(1) == 1).all()
        if np.ndim(y) == 2 and np.shape(y)[1] > 1 and not one_vs_all:
            raise ValueError(f"y must be 1-dimensional (one label per sample), got shape {np.shape(y)}")
        if np.ndim(y) not in (1, 2):
            raise ValueError(f"y must be 1-dimensional (one label per sample), got shape {np.shape(y)}")
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        y = np.asarray(y)
        if hasattr(X, "iloc"):
            n = len(X)
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        else:
            X = np.asarray(X)
            if X.ndim not in (2, 3, 4):
                raise ValueError(f"X must be 2-D (a table or signals), 3-D or 4-D (images or signals), got shape "
                                 f"{X.shape}")
            if X.dtype.kind in "fc" and not np.isfinite(X).all():
                raise ValueError(f"X holds {int((~np.isfinite(X)).sum())} NaN or infinite values; clean them first")
            n = len(X)
        if n != len(y):
            raise ValueError(f"X has {n} samples but y has {len(y)} labels; give one label per sample")
        if pd.isna(pd.Series(y)).any():
            raise ValueError("y holds missing labels (NaN or None); give every sample a label")
        if len(np.unique(y)) < 2:
            raise ValueError(f"y holds one class ({np.unique(y)[:1].tolist()}); a class-conditional GAN needs at "
                             "least 2")
        self.n_features_in_ = X.shape[1] if hasattr(X, "iloc") or X.ndim == 2 else int(np.prod(X.shape[1:]))
        return X, y, binarize_y

    def _kind(self, X: Any) -> str:
        return modality_of(X, self.modality)

    def _dataset(self, X: Any, y: np.ndarray):
        from .core.names import check_class_names
        from .registry import dataset_from_arrays

        self.classes_ = np.unique(y)
        names = tuple(str(v) for v in self.classes_)
        if len(set(names)) != len(names):
            raise ValueError(f"y's labels {self.classes_.tolist()[:5]} are not distinct as text; relabel them")
        check_class_names(names, "y")
        idx = np.searchsorted(self.classes_, y).astype(np.int64)
        kind = self.kind_ = self._kind(X)
        if kind == "table":
            frame = X.reset_index(drop=True) if hasattr(X, "iloc") else pd.DataFrame(np.asarray(X)).infer_objects()
            self.columns_, self.frame_ = list(frame.columns), hasattr(X, "iloc")
            self.dtypes_ = X.dtypes.to_dict() if hasattr(X, "iloc") else np.asarray(X).dtype
            frame.columns = [str(c) for c in frame.columns]
            cats = [c for c in frame.columns if not (pd.api.types.is_numeric_dtype(frame[c])
                                                     and not pd.api.types.is_bool_dtype(frame[c]))]
            return dataset_from_arrays("table", frame, idx, names, categorical=cats,
                                       numeric=[c for c in frame.columns if c not in cats])
        x = np.asarray(X)
        self.dtype_, self.shape_in_ = x.dtype, x.shape[1:]
        if kind == "signal":
            if x.ndim not in (2, 3):
                raise ValueError(f"X: signals are (N, L) or (N, C, L), got shape {x.shape}")
            return dataset_from_arrays("signal", x if x.ndim == 3 else x[:, None], idx, names)
        if x.ndim == 3:
            self.layout_, x = "NHW", x[:, None]
        elif x.ndim == 4 and x.shape[1] in (1, 3):
            self.layout_ = "NCHW"
        elif x.ndim == 4 and x.shape[3] in (1, 3):
            self.layout_, x = "NHWC", np.moveaxis(x, 3, 1)
        else:
            raise ValueError(f"X: images are (N, H, W), (N, H, W, C) or (N, C, H, W) with 1 or 3 channels, got "
                             f"shape {x.shape}")
        return dataset_from_arrays("image", x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x, idx, names)

    def _train(self, data) -> None:
        from .config.defaults import default_recipe
        from .config.recipe import with_overrides
        from .gan.train import train
        from .registry import export_onnx

        recipe = default_recipe("X", data)
        overrides: dict[str, Any] = {"train.seed": int(self.random_state or 0), "train.checkpoint_every": 10**9,
                                     "train.sample_every": 10**9, "train.log_every": 10**9}
        if self.epochs is not None:
            overrides["train.epochs"] = int(self.epochs)
        if self.width is not None:
            overrides["model.g_channels"] = overrides["model.d_channels"] = int(self.width)
        recipe = with_overrides(recipe, overrides)
        with tempfile.TemporaryDirectory(prefix="augmentor-sampler-") as tmp:
            train(data, Path(tmp) / "run", recipe, device=self.device, progress=self.verbose)
            path = export_onnx(Path(tmp) / "run", Path(tmp) / "generator.onnx")
            self.model_bytes_ = path.read_bytes()
        self._open()

    def _open(self) -> None:
        from .registry import open_generator

        with tempfile.TemporaryDirectory(prefix="augmentor-sampler-") as tmp:
            path = Path(tmp) / "generator.onnx"
            path.write_bytes(self.model_bytes_)
            self.generator_ = open_generator(path, spinning=False)

    # --- sample ---------------------------------------------------------------------------------------

    def sample(self, counts: int | Mapping[Any, int], random_state: int | None = None) -> tuple[Any, np.ndarray]:
        """`counts`: {label: n} in the caller's label values, or one int n for n of every class. Returns
        (X_new, y_new) in X's layout and dtype; the same `random_state` (default: the sampler's) gives the
        same samples, as `augmentor generate` does from the saved model."""
        if not hasattr(self, "generator_"):
            raise ValueError("this GANOverSampler is not fitted: call fit(X, y) or GANOverSampler.load(path)")
        if isinstance(counts, (int, np.integer)) and not isinstance(counts, bool):
            counts = {c: int(counts) for c in self.classes_}
        if not isinstance(counts, Mapping):
            raise ValueError(f"counts must be an int or a {{label: n}} dict, got {type(counts).__name__}")
        by_name = {str(c): c for c in self.classes_}
        asked: dict[str, int] = {}
        for label, n in counts.items():
            if str(label) not in by_name:
                raise ValueError(f"counts names label {label!r}, which y did not hold; labels: "
                                 f"{self.classes_.tolist()}")
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
                raise ValueError(f"counts[{label!r}] must be a whole number >= 0, got {n!r}")
            asked[str(label)] = int(n)
        seed = int(self.random_state or 0) if random_state is None else int(random_state)
        x, y = self.generator_.generate(asked, seed=seed, stored=True)
        model_classes = self.generator_.classes  # the model's own class order
        labels = np.asarray([by_name[model_classes[i]] for i in np.asarray(y)]) if len(y) else self.classes_[:0]
        return self._to_caller(x), labels

    def _to_caller(self, x: Any) -> Any:
        kind = getattr(self, "kind_", None)
        if kind == "table":
            rows = x.copy()
            rows.columns = self.columns_
            if self.frame_:
                return rows.astype(self.dtypes_)
            return rows.to_numpy().astype(self.dtypes_)
        if kind == "image":
            out = np.rint(x * 255).astype(np.uint8) if self.dtype_ == np.uint8 else x.astype(self.dtype_)
            return {"NHW": lambda a: a[:, 0], "NCHW": lambda a: a, "NHWC": lambda a: np.moveaxis(a, 1, 3)}[
                self.layout_](out)
        if kind == "signal":
            out = x.astype(self.dtype_ if self.dtype_.kind == "f" else np.float32)
            return out[:, 0] if len(self.shape_in_) == 1 else out
        return x  # a loaded model: the codec's own layout

    def _join(self, X: Any, new: Any) -> Any:
        if hasattr(X, "iloc"):
            return pd.concat([X, new.set_axis(range(len(X), len(X) + len(new)))])
        return np.concatenate([np.asarray(X), np.asarray(new, np.asarray(X).dtype)])

    # --- files ----------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the ONNX model `augmentor generate` and `augmentor serve` load (atomically)."""
        from .core.atomic import write_bytes

        if not hasattr(self, "model_bytes_"):
            raise ValueError("this GANOverSampler is not fitted: call fit(X, y) first")
        path = Path(path)
        if path.suffix != ".onnx":
            raise ValueError(f"save: name an .onnx file, got {path}")
        write_bytes(path, self.model_bytes_)
        return path

    @classmethod
    def load(cls, path: str | Path, random_state: int | None = None) -> GANOverSampler:
        """A sampler from a saved model: `sample` draws what it drew for the same seed. Labels are the
        model's class names (text); samples come in the codec's layout (images N x C x H x W in [0, 1])."""
        sampler = cls(random_state=random_state)
        sampler.model_bytes_ = Path(path).read_bytes()
        sampler._open()
        sampler.classes_ = np.asarray(sampler.generator_.classes, dtype=object)
        return sampler

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.dataframe = True
        tags.input_tags.sparse = False  # arrays in memory: images, signals and tables are dense
        tags.input_tags.allow_nan = False
        return tags


class GANResampler(GANOverSampler):
    """`GANOverSampler` for tables under its former name, kept for one release (a FutureWarning says so).

    It is the same class with `modality="table"`: `sampling_strategy`, `epochs`, `width`, `random_state`, `device`
    and `verbose` keep their meanings; the former `batch_size`, `z_dim`, `lr` and `categorical_features` are gone
    (the GAN takes the defaults `augmentor run DATA` picks for the table; categorical columns are its strings,
    booleans and pandas categories). `random_state=None` is now 0, not a fresh draw."""

    def __init__(self, *, sampling_strategy="auto", epochs: int | None = None, width: int | None = None,
                 random_state: int | None = None, device: str = "cpu", verbose: bool = False) -> None:
        import warnings

        warnings.warn("GANResampler is now GANOverSampler (every modality; modality='table' here); the old name "
                      "goes in the next release", FutureWarning, stacklevel=2)
        super().__init__(sampling_strategy=sampling_strategy, modality="table", epochs=epochs, width=width,
                         random_state=random_state, device=device, verbose=verbose)
