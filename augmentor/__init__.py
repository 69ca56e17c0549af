"""augmentor: class-conditional GAN data augmentation with ONNX inference and honest reports.

    from augmentor import load_dataset, train, export_onnx, fill_gaps, load_recipe

Names are imported on first use (PEP 562), so `augmentor --help` and ONNX-only generation
never import torch.
"""

from importlib import import_module

_WHERE = {
    "AugmentorError": "errors", "DeviceError": "errors", "ExportError": "errors", "GapPlanError": "errors",
    "InvalidDataError": "errors", "OutputExistsError": "errors", "RecipeError": "errors",
    "ResourceLimitError": "errors", "UnsafeArtifactError": "errors",
    # starting from a file: the registry finds its modality
    "load_dataset": "modalities", "export_onnx": "modalities", "open_generator": "modalities",
    "read_model_info": "modalities", "fill_gaps": "modalities", "generate_to_folder": "modalities",
    "Modality": "modality", "LabelledData": "image", "write_npz": "image", "read_samples": "image",
    "TableData": "table", "load_table": "table", "read_table_samples": "table", "GANResampler": "table.resampler",
    "SignalData": "signal", "load_signals": "signal",
    "evaluate": "evaluate", "verify_onnx": "export", "plan_gaps": "gaps", "run_recipe": "pipeline",
    "evaluate_folders": "pipeline", "Recipe": "recipe", "load_recipe": "recipe", "with_overrides": "recipe",
    "write_report": "report", "OnnxGenerator": "runtime", "OnlineSynthetic": "online",
    "run_evaluation": "study", "read_folder": "synthesize", "train": "train",
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
