"""Image datasets: ImageFolder directories, `.npz` arrays and `builtin:digits`.

Every loader returns a `LabelledData` of images as float32 N x C x H x W in [0, 1] and
integer labels indexing `classes`, validated before any training; every error names the
file or class at fault and how to fix it. Pixel counts are read from the file header
before decoding; 16-bit grayscale keeps its range.
"""

from __future__ import annotations

import logging
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..core.atomic import atomic_path
from ..core.data import IMAGE_EXTENSIONS
from ..core.dataset import Dataset
from ..core.errors import InvalidDataError
from ..core.names import check_class_names

log = logging.getLogger(__name__)

GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
WIDE_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N"}  # 16-bit (and 32-bit integer) grayscale
BUILTINS = ("digits",)
# Read from the file's header before any pixel is decoded: 40 megapixels admits every
# camera photo a user is likely to point at, and refuses a decompression bomb.
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 8  # the smallest side augmentor models; a 1x1 file among 64x64 ones is a mistake, not a sample


@dataclass(frozen=True)
class LabelledData(Dataset):
    """Images (float32, N x C x H x W, values in [0, 1]) with labels indexing `classes`."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    source: str = ""
    modality: ClassVar[str] = "image"

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    def describe(self) -> str:
        c, h, w = self.shape
        return f"{self.source}: {len(self)} samples, {len(self.classes)} classes, {c}x{h}x{w}"

    def load_like(self, spec: str, **_: object) -> LabelledData:
        """Another image set at this one's size and channels, labelled by these classes."""
        from ..core.labels import align_classes

        return align_classes(load_images(spec, self.shape[1], self.shape[0]), self.classes)

    def write(self, stem: Path) -> Path:
        return write_npz(self, stem.with_suffix(".npz"))


def load_images(spec: str, image_size: int = 0, channels: int = 0) -> LabelledData:
    """An ImageFolder directory, a `.npz` or `builtin:digits`, converted and validated."""
    if spec.startswith("builtin:"):
        data = _load_builtin(spec.split(":", 1)[1])
    else:
        path = Path(spec)
        if not path.exists():
            raise InvalidDataError(f"dataset not found: {path}")
        if path.is_dir():
            data = _load_folder(path, image_size, channels)
        elif path.suffix.lower() == ".npz":
            data = _load_npz(path)
        else:
            raise InvalidDataError(
                f"{path}: unsupported dataset format '{path.suffix}'. Use a folder with one "
                "sub-folder of images per class, a .npz with arrays x and y, a .csv or .parquet "
                "table with a label column, or builtin:digits"
            )
    data = _convert(data, image_size, channels)
    validate(data)
    return data


def validate(data: LabelledData) -> None:
    """Raise InvalidDataError unless `data` can train a class-conditional model."""
    where = data.source or "dataset"
    if data.x.ndim != 4 or data.x.shape[1] not in (1, 3):
        raise InvalidDataError(
            f"{where}: images must be N x C x H x W with 1 or 3 channels, got shape {data.x.shape}"
        )
    if len(data.x) != len(data.y):
        raise InvalidDataError(f"{where}: {len(data.x)} images but {len(data.y)} labels")
    if not np.isfinite(data.x).all():
        raise InvalidDataError(f"{where}: images contain NaN or inf values; clean them first")
    if data.x.size and (data.x.min() < 0 or data.x.max() > 1):
        raise InvalidDataError(f"{where}: float pixel values must lie in [0, 1]")
    if len(data.classes) < 2:
        raise InvalidDataError(
            f"{where}: found {len(data.classes)} class ({', '.join(data.classes) or 'none'}); "
            "a class-conditional model needs at least 2 classes"
        )
    side = data.x.shape[2:]
    if min(side) < 8 or max(side) > 64:
        raise InvalidDataError(
            f"{where}: images are {side[0]}x{side[1]}; augmentor models 8 to 64 px. "
            "Set [data].image_size (or --image-size) to resize"
        )
    for name, n in data.counts().items():
        if n < 2:
            raise InvalidDataError(
                f"{where}: class '{name}' has {n} sample{'s' if n != 1 else ''}; every class needs "
                "at least 2. Add samples or remove the class"
            )


def _load_builtin(name: str) -> LabelledData:
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images.astype(np.float32) / 16.0)[:, None]
        return LabelledData(x, d.target.astype(np.int64), tuple(str(c) for c in d.target_names),
                            "builtin:digits")
    raise InvalidDataError(f"unknown builtin image dataset '{name}'. Available: {', '.join(BUILTINS)}")


def _load_folder(root: Path, image_size: int, channels: int) -> LabelledData:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise InvalidDataError(
            f"{root}: no class sub-folders. Put each class's images in its own folder, "
            f"e.g. {root}/cat/001.png"
        )
    check_class_names([p.name for p in class_dirs], str(root), "rename the class folder")
    images: list[Image.Image] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith("."))
        kept = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        for skipped in set(files) - set(kept):
            log.warning("skipping %s: not an image file (extension %r)", skipped, skipped.suffix)
        if not kept:
            raise InvalidDataError(
                f"{class_dir}: class folder '{class_dir.name}' holds no images "
                f"({', '.join(sorted(IMAGE_EXTENSIONS))}). Add images or remove the folder"
            )
        for path in kept:
            images.append(_read_image(path))
            labels.append(label)
    if channels == 0:
        channels = 1 if all(im.mode in GRAY_MODES for im in images) else 3
    if image_size == 0:
        sizes = {im.size for im in images}
        if len(sizes) > 1:
            raise InvalidDataError(
                f"{root}: images have {len(sizes)} different sizes (e.g. {sorted(sizes)[:3]}); "
                "set [data].image_size (or --image-size) to resize them to one square size"
            )
    x = np.stack([_to_array(im, image_size, channels) for im in images])
    return LabelledData(x, np.asarray(labels, np.int64), tuple(p.name for p in class_dirs),
                        str(root))


def _read_image(path: Path) -> Image.Image:
    if path.stat().st_size == 0:
        raise InvalidDataError(f"{path}: empty file (0 bytes). Delete it or replace it")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im_ctx = Image.open(path)
        with im_ctx as im:
            w, h = im.size  # from the header: nothing decoded yet
            if w * h > MAX_IMAGE_PIXELS:
                raise InvalidDataError(f"{path}: declares {w}x{h} pixels, more than the limit of "
                                       f"{MAX_IMAGE_PIXELS}; resize it (augmentor models 8 to 64 px)")
            if min(w, h) < MIN_IMAGE_SIDE:
                raise InvalidDataError(f"{path}: {w}x{h} pixels is smaller than {MIN_IMAGE_SIDE} px on a side; "
                                       "augmentor models 8 to 64 px images: delete it or replace it")
            im.load()
            return im.copy()
    except InvalidDataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidDataError(f"{path}: refused as a decompression bomb ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InvalidDataError(
            f"{path}: unreadable or corrupt image ({e}). Delete or re-export it"
        ) from None


def _to_array(im: Image.Image, image_size: int, channels: int) -> np.ndarray:
    """An image as float32 C x H x W in [0, 1]. 16-bit grayscale keeps its full range
    (`convert("L")` would clip every value above 255 to white)."""
    if im.mode in WIDE_MODES:
        a = np.asarray(im).astype(np.float64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise InvalidDataError(f"{getattr(im, 'filename', '') or 'image'}: integer pixels outside "
                                   "0..65535; save it as 8- or 16-bit")
        im = Image.fromarray((a / 65535.0).astype(np.float32), mode="F")
        if image_size:
            im = im.resize((image_size, image_size), Image.Resampling.BILINEAR)
        g = np.clip(np.asarray(im, dtype=np.float32), 0, 1)[None]
        return np.repeat(g, 3, axis=0) if channels == 3 else g
    im = im.convert("L" if channels == 1 else "RGB")
    if image_size:
        im = im.resize((image_size, image_size), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.uint8)
    return (a[None] if a.ndim == 2 else a.transpose(2, 0, 1)).astype(np.float32) / 255.0


def _load_npz(path: Path) -> LabelledData:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise InvalidDataError(f"{path}: cannot read as .npz ({e})") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise InvalidDataError(
            f"{path}: missing array(s) {', '.join(missing)}; found {', '.join(arrays) or 'none'}. "
            "Save with np.savez(path, x=images, y=labels)"
        )
    x, y = arrays["x"], arrays["y"]
    if len(x) != len(y):
        raise InvalidDataError(f"{path}: x has {len(x)} images but y has {len(y)} labels")
    y, classes = _labels(path, y, arrays.get("classes"))
    return LabelledData(_pixels(path, x), y, classes, str(path))


def _pixels(path: Path, x: np.ndarray) -> np.ndarray:
    """A .npz's x as float32 N x C x H x W in [0, 1] (uint8 scaled), or one line saying what to fix."""
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise InvalidDataError(
            f"{path}: x must be N x H x W or N x C x H x W with C = 1 or 3, got {x.shape}. "
            "If channels are last, save x.transpose(0, 3, 1, 2)"
        )
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise InvalidDataError(f"{path}: x contains NaN or inf; clean it first")
        if x.size and (x.min() < 0 or x.max() > 1):
            raise InvalidDataError(
                f"{path}: float x must lie in [0, 1] (found {x.min():.3g}..{x.max():.3g}); "
                "scale it or save uint8"
            )
    else:
        raise InvalidDataError(f"{path}: x must be uint8 or float, got {x.dtype}")
    return x


def load_unlabelled(spec: str, like: LabelledData, **_: object) -> LabelledData:
    """Unlabelled images for `like`'s classes (every label 0, never read as a class): a .npz with an array
    x (any labels in it are not read), or a folder of image files (sub-folders included; names not read as
    classes), converted to `like`'s size and channels."""
    path = Path(spec)
    if not path.exists():
        raise InvalidDataError(f"data.unlabelled: {path} not found; name a .npz with an array x or a folder of "
                               "images")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise InvalidDataError(f"data.unlabelled: {path} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        x = np.stack([_to_array(_read_image(p), like.shape[1], like.shape[0]) for p in files])
    elif path.suffix.lower() == ".npz":
        from ..core.data import pool_array

        x = _pixels(path, pool_array(path, "images"))
    else:
        raise InvalidDataError(f"data.unlabelled: {path}: use a .npz with an array x or a folder of images")
    data = _convert(LabelledData(x, np.zeros(len(x), np.int64), like.classes, str(path)), like.shape[1],
                    like.shape[0])
    if data.shape != like.shape:
        raise InvalidDataError(f"data.unlabelled: {path}: images are {data.shape}, the training images "
                               f"{like.shape}; save them at that size or set [data].image_size")
    if len(data) == 0:
        raise InvalidDataError(f"data.unlabelled: {path} holds no images")
    return data


def _labels(path: Path, y: np.ndarray, classes: np.ndarray | None) -> tuple[np.ndarray, tuple]:
    if y.ndim != 1:
        raise InvalidDataError(f"{path}: y must be one label per image, got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype.kind in "US"):
        raise InvalidDataError(
            f"{path}: labels y must be integers or strings, got {y.dtype} (e.g. {y[:3].tolist()}); "
            "float labels are ambiguous (is 0.5 a class?) and NaN is no class. Save y.astype(int) "
            "or class names")
    if classes is not None:
        if classes.ndim != 1 or classes.dtype.kind not in "US":
            raise InvalidDataError(f"{path}: `classes` must be a 1-D array of names, got {classes.dtype} "
                                   f"{classes.shape}")
        names = check_class_names([_text(c) for c in classes.tolist()], str(path))
        if not np.issubdtype(y.dtype, np.integer) or (len(y) and (y.min() < 0 or y.max() >= len(names))):
            raise InvalidDataError(
                f"{path}: with `classes` given, y must hold integers 0..{len(names) - 1}"
            )
        return y.astype(np.int64), names
    values, inverse = np.unique(y, return_inverse=True)
    return inverse.astype(np.int64), check_class_names([_text(v) for v in values.tolist()], str(path))


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _convert(data: LabelledData, image_size: int, channels: int) -> LabelledData:
    x = data.x
    if channels and x.shape[1] != channels:
        if channels == 3:
            x = np.repeat(x, 3, axis=1)
        elif channels == 1:
            x = (x * np.array([0.299, 0.587, 0.114], np.float32)[None, :, None, None]).sum(1, keepdims=True)
        else:
            raise InvalidDataError(f"channels must be 1 or 3, got {channels}")
    if image_size and x.shape[2:] != (image_size, image_size):
        import torch
        import torch.nn.functional as F

        t = F.interpolate(torch.from_numpy(np.ascontiguousarray(x)), size=(image_size, image_size),
                          mode="bilinear", antialias=True, align_corners=False)
        x = t.clamp_(0, 1).numpy()
    if x is data.x:
        return data
    return LabelledData(np.ascontiguousarray(x, np.float32), data.y, data.classes, data.source)


def write_npz(data: LabelledData, path: str | os.PathLike) -> Path:
    """Write `data` as a .npz (x float32 N x C x H x W, y, classes), atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, x=data.x.astype(np.float32), y=data.y.astype(np.int64),
                 classes=np.array(data.classes, dtype=str))
    return Path(path)
