"""augmentor: class-conditional GAN data augmentation with ONNX inference and honest reports.

    from augmentor import load_dataset, train, export_onnx, fill_gaps, load_recipe

Names are imported on first use (PEP 562), so `augmentor --help` and ONNX-only generation
never import torch.
"""

from importlib import import_module

_WHERE = {
    "AugmentorError": "core.errors", "DeviceError": "core.errors", "ExportError": "core.errors",
    "GapPlanError": "core.errors",
    "InvalidDataError": "core.errors", "OutputExistsError": "core.errors", "RecipeError": "core.errors",
    "ResourceLimitError": "core.errors", "UnsafeArtifactError": "core.errors",
    # starting from a file: the registry finds its modality
    "load_dataset": "registry", "export_onnx": "registry", "open_generator": "registry",
    "read_model_info": "registry", "fill_gaps": "registry", "generate_to_folder": "registry",
    "Modality": "core.modality", "LabelledData": "image", "write_npz": "image", "read_samples": "image",
    "TableData": "table", "load_table": "table", "read_table_samples": "table", "GANResampler": "sampler",
    "GANOverSampler": "sampler", "compare": "comparison", "Comparison": "comparison",
    "SignalData": "signal", "load_signals": "signal",
    "evaluate": "evaluation.engine", "verify_onnx": "synthesis.export", "plan_gaps": "core.gaps",
    "run_recipe": "pipeline", "evaluate_folders": "pipeline", "Recipe": "config.recipe", "load_recipe": "config.recipe",
    "with_overrides": "config.recipe",
    "write_report": "report.render", "OnnxGenerator": "synthesis.runtime", "OnlineSynthetic": "synthesis.online",
    "run_evaluation": "evaluation.stage", "read_folder": "synthesis.synthesize", "train": "gan.train",
}
__all__ = sorted(_WHERE)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'augmentor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
