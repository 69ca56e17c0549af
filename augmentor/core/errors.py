"""The errors augmentor raises for problems the user can fix.

Every message names the file, class, column or key at fault and says how to fix it.
The CLI turns any of these into a one-line message and exit code 2.
"""


class AugmentorError(Exception):
    """Base class of every user-facing augmentor error."""


class InvalidDataError(AugmentorError, ValueError):
    """The dataset cannot be used as given (empty class, corrupt file, too few samples...)."""


class RecipeError(AugmentorError, ValueError):
    """A recipe or option is malformed: unknown key, wrong type, impossible value."""


class GapPlanError(AugmentorError, ValueError):
    """A sampling strategy cannot be applied to the class counts."""


class UnsafeArtifactError(AugmentorError):
    """A model, checkpoint or manifest is not what augmentor wrote, or does not match itself."""


class ExportError(AugmentorError):
    """The exported ONNX model failed a check (structure or parity with PyTorch)."""


class DeviceError(AugmentorError):
    """The requested device or execution provider is not available."""


class OutputExistsError(AugmentorError):
    """The output location already holds something augmentor would overwrite."""


class ResourceLimitError(AugmentorError):
    """A job would exceed a stated limit: samples, pixels, disk space."""
