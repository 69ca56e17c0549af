"""augmentor: class-conditional GAN data augmentation with ONNX inference and honest reports.

    from augmentor import load_dataset, train, export_onnx, fill_gaps, load_recipe

Names are imported on first use (PEP 562), so `augmentor --help` and ONNX-only generation
never import torch.
"""

from importlib import import_module

_WHERE = {
    "LabelledData": "data", "load_dataset": "data", "write_npz": "data",
    "AugmentorError": "errors", "DeviceError": "errors", "ExportError": "errors", "GapPlanError": "errors",
    "InvalidDataError": "errors", "OutputExistsError": "errors", "RecipeError": "errors",
    "ResourceLimitError": "errors", "UnsafeArtifactError": "errors",
    "evaluate": "evaluate", "export_onnx": "export", "verify_onnx": "export", "plan_gaps": "gaps",
    "run_recipe": "pipeline", "Recipe": "recipe", "load_recipe": "recipe", "with_overrides": "recipe",
    "write_report": "report", "GANResampler": "resampler", "OnnxGenerator": "runtime", "OnlineSynthetic": "online",
    "read_model_info": "runtime", "run_evaluation": "study", "fill_gaps": "synthesize",
    "generate_to_folder": "synthesize", "read_samples": "synthesize", "read_table_samples": "synthesize",
    "TableData": "tables", "load_table": "tables", "train": "train",
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
