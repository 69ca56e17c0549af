"""1-D signals: sensor time series and short audio clips (WAV class folders, signal `.npz`, `.ts`,
sets that ship inside sktime).

The package implements the `Modality` (core/modality.py) for signals and binds it to `SignalData` and
`SignalCodec`; it imports only the core and generic helpers, never another modality or the registry.
"""

from __future__ import annotations

from ..core.modality import Deferred, Modality, Training, bind
from ..gan.steps import hinge_step
from .codec import SignalCodec
from .data import BUILTINS, SignalData, is_signal_spec, load_signals, load_unlabelled
from .models import SignalDiscriminator, SignalGenerator, diff_augment_1d
from .writer import read_signal_samples, signals_to_folder

__all__ = ["MODALITY", "SignalCodec", "SignalData", "load_signals", "read_signal_samples"]


def _step(g, d, opt, x, y, z, gen, cfg, k, guide, w, unlabelled=None):
    return hinge_step(g, d, opt, x, y, z, gen, cfg.diffaugment, k, cfg.lecam, augment=diff_augment_1d,
                      unlabelled=unlabelled, unlabelled_weight=cfg.unlabelled_weight)


def _generator(state: dict) -> SignalGenerator:
    return SignalGenerator(len(state["classes"]), tuple(state["shape"]), state["z_dim"], state["g_channels"])


def _models(k: int, shape: tuple, z_dim: int, g_width: int, d_width: int, codec: SignalCodec) -> tuple:
    return SignalGenerator(k, shape, z_dim, g_width), SignalDiscriminator(k, shape, d_width)


def _evaluation() -> object:
    from .learners import SignalEvaluation

    return SignalEvaluation()


def _smote(*args, **options) -> tuple:
    from ..evaluation.classifiers import smote_arrays

    return smote_arrays(*args, **options)


MODALITY = bind(Modality(
    "signal", claims=is_signal_spec, load=load_signals, codec=SignalCodec.from_json,
    training=Training(SignalCodec.fit, _step, False, _generator, _models, pooled=True),
    writer=signals_to_folder, reader=read_signal_samples, smote=_smote, evaluation=Deferred(_evaluation),
    formats=("npz", "wav"), serve_formats=("npz",), builtins=tuple(BUILTINS), unlabelled=load_unlabelled),
    SignalData, SignalCodec)
