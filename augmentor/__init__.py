"""augmentor: class-conditional GAN data augmentation with ONNX inference and honest reports.

    from augmentor import load_dataset, train, export_onnx, fill_gaps, load_recipe
"""

from .data import LabelledData, load_dataset, write_npz
from .errors import (
    AugmentorError,
    DeviceError,
    ExportError,
    GapPlanError,
    InvalidDataError,
    OutputExistsError,
    RecipeError,
    UnsafeArtifactError,
)
from .evaluate import evaluate
from .export import export_onnx, verify_onnx
from .gaps import plan_gaps
from .pipeline import run_recipe
from .recipe import Recipe, load_recipe, with_overrides
from .report import write_report
from .resampler import GANResampler
from .runtime import OnnxGenerator, read_model_info
from .study import run_evaluation
from .synthesize import fill_gaps, generate_to_folder, read_samples, read_table_samples
from .tables import TableData, load_table
from .train import train

__all__ = [
    "AugmentorError", "DeviceError", "ExportError", "GANResampler", "GapPlanError",
    "InvalidDataError", "LabelledData", "OnnxGenerator", "OutputExistsError", "Recipe",
    "RecipeError", "TableData", "UnsafeArtifactError", "evaluate", "export_onnx",
    "fill_gaps", "generate_to_folder", "load_dataset", "load_recipe", "load_table", "plan_gaps",
    "read_model_info", "read_samples", "read_table_samples", "run_evaluation", "run_recipe", "train",
    "verify_onnx",
    "with_overrides", "write_npz", "write_report",
]
__version__ = "0.1.0"
