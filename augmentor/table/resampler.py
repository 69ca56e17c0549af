"""`GANResampler`: augmentor's tabular GAN as an imbalanced-learn over-sampler.

    from imblearn.pipeline import make_pipeline
    from augmentor.table.resampler import GANResampler

    model = make_pipeline(GANResampler(epochs=300, random_state=0), LogisticRegression())

`fit_resample(X, y)` validates X and y, plans the counts to add (`sampling_strategy_`,
imbalanced-learn's meanings), trains the class-conditional table GAN on (X, y) and appends
exactly that many generated rows per class. NumPy arrays, lists and DataFrames go in; the
same kind comes out, in the input's dtypes. Within an imblearn Pipeline it runs on the
training folds only, as every sampler does.

The generator runs in process (PyTorch) with the same noise as the ONNX runtime; to keep a
model for batch inference, train and export it with `augmentor train` / `augmentor export`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..config.recipe import recipe_from_dict
from ..synthesis.runtime import noise_stream
from .codec import TableCodec
from .data import table_from_frame


class GANResampler(BaseOverSampler):
    """Over-sample by drawing rows from a class-conditional GAN trained on (X, y).

    Parameters
    ----------
    sampling_strategy : as in imbalanced-learn ("auto", "minority", "not minority",
        "not majority", "all", a float for two classes, a dict, or a callable).
    epochs : training epochs of the GAN (an epoch is ceil(n_samples / batch_size) steps).
    batch_size, z_dim, width, lr : GAN training settings.
    categorical_features : column names (DataFrame) or indices to treat as categorical;
        None detects them (strings, booleans and pandas categories).
    random_state : int for reproducible training and sampling; None draws one.
    """

    _sampling_type = "over-sampling"
    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "z_dim": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 8, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "categorical_features": [list, tuple, None],
        "random_state": ["random_state"],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
    }

    def __init__(self, *, sampling_strategy="auto", epochs: int = 300, batch_size: int = 64,
                 z_dim: int = 64, width: int = 256, lr: float = 1e-3, categorical_features=None,
                 random_state=None, device: str = "cpu") -> None:
        super().__init__(sampling_strategy=sampling_strategy)
        self.epochs = epochs
        self.batch_size = batch_size
        self.z_dim = z_dim
        self.width = width
        self.lr = lr
        self.categorical_features = categorical_features
        self.random_state = random_state
        self.device = device

    def _check_X_y(self, X, y):
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if not hasattr(X, "iloc"):
            X = np.asarray(X)
            if X.ndim != 2:
                raise ValueError(f"X must be 2-dimensional (n_samples, n_features), got shape {X.shape}")
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        self.n_features_in_ = X.shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return X, y, binarize_y

    def _fit_resample(self, X, y):
        from ..gan.train import train

        frame = X.reset_index(drop=True) if hasattr(X, "iloc") else pd.DataFrame(X).infer_objects()
        columns = list(frame.columns)
        frame.columns = [str(c) for c in columns]
        cats = self._categorical(frame, columns)
        data = table_from_frame(frame, y, "fit_resample X", categorical=cats,
                                numeric=[c for c in frame.columns if c not in cats])
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        recipe = recipe_from_dict({
            "model": {"z_dim": self.z_dim, "g_channels": self.width, "d_channels": self.width},
            "train": {"epochs": self.epochs, "batch_size": min(self.batch_size, len(data)), "seed": seed,
                      "lr_g": self.lr, "lr_d": self.lr, "beta1": 0.5, "beta2": 0.9,
                      "checkpoint_every": 10**9, "log_every": 10**9, "sample_every": 10**9},
        })
        trained = train(data, None, recipe, device=self.device, progress=False)  # models only, no files
        g, state = trained.generator.cpu(), trained.state
        codec = TableCodec.from_json(state["codec"])
        by_name = {str(v): v for v in np.unique(y)}
        counts = {str(c): int(n) for c, n in self.sampling_strategy_.items() if n > 0}
        new_x, new_y = [], []
        for name, n in counts.items():
            label = data.classes.index(name)
            z = noise_stream(seed, label, g.z_dim)(n)  # the same per-class stream as ONNX generation
            with torch.no_grad():
                out = g(torch.from_numpy(z), torch.full((n,), label, dtype=torch.int64)).numpy()
            new_x.append(codec.decode(out))
            new_y.append(np.full(n, by_name[name], dtype=y.dtype))
        if not new_x:
            return X, y
        rows = pd.concat(new_x, ignore_index=True)
        rows.columns = columns
        if hasattr(X, "iloc"):
            rows = rows.astype(X.dtypes.to_dict())
            return pd.concat([X, rows.set_axis(range(len(X), len(X) + len(rows)))]), np.concatenate([y, *new_y])
        return np.concatenate([X, rows.to_numpy().astype(X.dtype)]), np.concatenate([y, *new_y])

    def _categorical(self, frame: pd.DataFrame, columns: list) -> list[str]:
        if self.categorical_features is None:
            return [c for c in frame.columns if not (pd.api.types.is_numeric_dtype(frame[c])
                                                     and not pd.api.types.is_bool_dtype(frame[c]))]
        names = []
        for f in self.categorical_features:
            if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
                if not 0 <= f < len(columns):
                    raise ValueError(f"categorical_features index {f} is out of range for "
                                     f"{len(columns)} columns")
                names.append(str(frame.columns[f]))
            elif str(f) in frame.columns:
                names.append(str(f))
            else:
                raise ValueError(f"categorical_features names unknown column {f!r}; "
                                 f"columns: {list(frame.columns)}")
        return names

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.dataframe = True
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags
