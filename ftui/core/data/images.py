"""Images in a dataset: where each one is (a file, bytes in the row, a web address), and whether it is an
image at all (it exists, Pillow decodes it, its size).

A row names an image as a path (relative to the data file's folder, or absolute; a path outside that folder
is allowed and counted, so you see it), as bytes (Parquet/Arrow columns of the Hugging Face `Image` feature:
{"bytes": ..., "path": ...}), as a `data:` URI, or as an http(s) URL. URLs are fetched only when the machine
is online (HF_HUB_OFFLINE / FTUI_OFFLINE unset), with a short timeout, and after the first connection that
fails no other is tried: an offline machine gets one clear problem per row, never a hang.

Checking reads every byte of every image (that is what finds a truncated or damaged file): a PNG has
each chunk's CRC verified to its end without inflating the pixels (a third of the time of a decode), a JPEG
decodes at 1/8 scale through libjpeg's DCT scaling (which still parses all its data), anything else decodes
in full. Pillow releases the GIL while it decodes, so a thread
pool checks images on every core. Pillow's own decompression-bomb check is replaced by ftui's limit, applied
to the header's size before anything is decoded, so the report can say how big the image claims to be.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Pillow's own warning threshold (about 9,459 x 9,459): nothing a vision model trains on comes close, every
# family shrinks images far below it, and the decoded pixels of a larger one can exhaust the RAM.
MAX_PIXELS = 89_478_485
URL_TIMEOUT_S = 5.0
URL_MAX_BYTES = 32 << 20
THREADS = max(2, min(8, 2 * (os.cpu_count() or 1)))


@dataclass(frozen=True)
class ImageRef:
    """One image a row names: `kind` is path, bytes, url or pil; `given` is what to show the user."""

    kind: str
    value: Any  # the absolute path (str), the bytes, the URL, or a PIL image
    given: str
    outside: bool = False  # a path outside the data file's folder

    @property
    def key(self) -> Any:
        """What two rows naming the same image share (so it is checked once)."""
        if self.kind == "bytes":
            return ("bytes", len(self.value), hash(self.value))
        if self.kind == "pil":
            return ("pil", id(self.value))
        return (self.kind, self.value)


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str


@dataclass(frozen=True)
class ImageProblem:
    kind: str  # a PROBLEM_KINDS key: missing_image, unreadable_image, image_too_large, image_url
    detail: str


class NotAnImageRef(ValueError):
    """The value cannot name an image (a number, a list of lists, ...)."""


def image_ref(value: Any, base_dir: Path | None) -> ImageRef | None:
    """The image `value` names, or None when it names none (null, empty). Raises NotAnImageRef for a value
    that is not an image reference at all."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return ImageRef("bytes", data, f"<{len(data):,} bytes>") if data else None
    if isinstance(value, dict):
        return _ref_of_dict(value, base_dir)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        lowered = text[:16].lower()
        if lowered.startswith(("http://", "https://")):
            return ImageRef("url", text, text)
        if lowered.startswith("data:"):
            return _ref_of_data_uri(text)
        return _ref_of_path(text, base_dir)
    if type(value).__module__.startswith("PIL."):
        return ImageRef("pil", value, f"<an image {getattr(value, 'size', '')}>")
    raise NotAnImageRef(type(value).__name__)


def _ref_of_dict(value: dict, base_dir: Path | None) -> ImageRef | None:
    # The Hugging Face Image feature as stored: {"bytes": ..., "path": ...}; bytes win (the path is often
    # the original file name on someone else's disk). Also {"url": ...} and OpenAI's {"url": ...} nesting.
    data = value.get("bytes")
    if isinstance(data, bytes | bytearray) and data:
        return ImageRef("bytes", bytes(data), str(value.get("path") or f"<{len(data):,} bytes>"))
    for key in ("path", "url", "image", "image_url"):
        if value.get(key):
            return image_ref(value[key], base_dir)
    return None


def _ref_of_data_uri(text: str) -> ImageRef:
    head, _, body = text.partition(",")
    if ";base64" not in head:
        raise NotAnImageRef("a data: URI that is not base64")
    try:
        data = base64.b64decode(body, validate=False)
    except ValueError as error:
        raise NotAnImageRef("a data: URI whose base64 does not decode") from error
    return ImageRef("bytes", data, f"<data URI, {len(data):,} bytes>")


def _ref_of_path(text: str, base_dir: Path | None) -> ImageRef:
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    resolved = Path(os.path.normpath(path.absolute()))
    outside = False
    if base_dir is not None:
        outside = not resolved.is_relative_to(Path(os.path.normpath(base_dir.absolute())))
    return ImageRef("path", str(resolved), text, outside)


# --- checking ----------------------------------------------------------------------------------------


def offline() -> bool:
    return any(
        os.environ.get(flag, "").lower() in ("1", "true", "yes", "on")
        for flag in ("FTUI_OFFLINE", "HF_HUB_OFFLINE")
    )


class UrlFetcher:
    """Fetches image URLs with a timeout; after the first failed connection it tries no more (offline)."""

    def __init__(self) -> None:
        self._down: str | None = (
            "the machine is offline (HF_HUB_OFFLINE or FTUI_OFFLINE is set)" if offline() else None
        )
        self._lock = threading.Lock()

    def fetch(self, url: str) -> bytes | ImageProblem:
        import urllib.error
        import urllib.request

        if self._down is not None:
            return _url_problem(url, self._down)
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "ftui"})
            with urllib.request.urlopen(request, timeout=URL_TIMEOUT_S) as response:  # noqa: S310 - http(s) only, checked above
                data = response.read(URL_MAX_BYTES + 1)
        except urllib.error.HTTPError as error:  # the server answered: the network is fine, this image is not
            return _url_problem(url, f"the server answered {error.code}")
        except (OSError, ValueError) as error:  # no route, no DNS, refused, timed out: the network is down
            reason = getattr(error, "reason", error)
            with self._lock:
                self._down = f"it could not be reached ({str(reason)[:60]})"
            return _url_problem(url, self._down)
        if len(data) > URL_MAX_BYTES:
            return _url_problem(url, f"it is over {URL_MAX_BYTES >> 20} MB")
        return data


def _url_problem(url: str, why: str) -> ImageProblem:
    return ImageProblem("image_url", f"the image {_short(url)} is a web address and {why}")


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pillow():
    from PIL import Image

    # ftui applies MAX_PIXELS to the header's size itself, before decoding (see the module docstring).
    Image.MAX_IMAGE_PIXELS = None
    return Image


def open_image(ref: ImageRef, fetcher: UrlFetcher | None = None):
    """The image as a PIL image, opened lazily (header read, pixels not yet decoded), or an ImageProblem."""
    Image = _pillow()
    if ref.kind == "pil":
        return ref.value
    if ref.kind == "path":
        path = Path(ref.value)
        if not path.exists():
            return ImageProblem("missing_image", f"the image {_short(ref.given)} does not exist")
        if not path.is_file():
            return ImageProblem("unreadable_image", f"the image {_short(ref.given)} is a folder, not a file")
        if path.stat().st_size == 0:
            return ImageProblem("unreadable_image", f"the image {_short(ref.given)} is an empty file")
        source: Any = str(path)
    elif ref.kind == "url":
        data = (fetcher or UrlFetcher()).fetch(ref.value)
        if isinstance(data, ImageProblem):
            return data
        source = io.BytesIO(data)
    else:
        source = io.BytesIO(ref.value)
    try:
        return Image.open(source)
    except Exception as error:  # Pillow: UnidentifiedImageError, OSError, SyntaxError... all mean "not one"
        return _undecodable(ref, error)


def _undecodable(ref: ImageRef, error: Exception) -> ImageProblem:
    reason = str(error).split("\n")[0][:60] or type(error).__name__
    return ImageProblem(
        "unreadable_image",
        f"the image {_short(ref.given)} cannot be decoded ({reason}): it is cut short, damaged or not an image",
    )


def check_image(ref: ImageRef, fetcher: UrlFetcher | None = None) -> ImageInfo | ImageProblem:
    """Open, size-check and decode one image."""
    image = open_image(ref, fetcher)
    if isinstance(image, ImageProblem):
        return image
    try:
        width, height = image.size
        if width < 1 or height < 1:
            return ImageProblem("unreadable_image", f"the image {_short(ref.given)} has no pixels")
        if width * height > MAX_PIXELS:
            decoded = width * height * len(image.getbands()) / 1e9
            return ImageProblem(
                "image_too_large",
                f"the image {_short(ref.given)} is {width:,} x {height:,} pixels (about {decoded:.1f} GB decoded), "
                f"over ftui's limit of {MAX_PIXELS / 1e6:.0f} megapixels; resize it (the model shrinks it anyway)",
            )
        format = image.format or ""
        if ref.kind != "pil":
            if format == "PNG":
                image.verify()  # every chunk's CRC, to the end of the file, without inflating the pixels
            else:
                if format == "JPEG":
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
        return ImageInfo(width, height, format)
    except Exception as error:  # a decoder error: truncated data, a bad checksum, an unsupported mode
        return _undecodable(ref, error)
    finally:
        if ref.kind != "pil":
            image.close()


def check_images(
    refs: Iterable[ImageRef], fetcher: UrlFetcher | None = None
) -> list[ImageInfo | ImageProblem]:
    """check_image for each, on a thread pool, in the order given; an image named twice is checked once."""
    refs = list(refs)
    fetcher = fetcher or UrlFetcher()
    unique: dict[Any, ImageRef] = {}
    for ref in refs:
        unique.setdefault(ref.key, ref)
    if len(unique) <= 1:
        results = {key: check_image(ref, fetcher) for key, ref in unique.items()}
    else:
        with ThreadPoolExecutor(min(THREADS, len(unique))) as pool:
            checked = pool.map(lambda ref: check_image(ref, fetcher), unique.values())
            results = dict(zip(unique, checked, strict=True))
    return [results[ref.key] for ref in refs]


def load_image(ref: ImageRef, fetcher: UrlFetcher | None = None):
    """The decoded RGB image the trainer feeds the processor; raises ValueError with the problem's detail."""
    image = open_image(ref, fetcher)
    if isinstance(image, ImageProblem):
        raise ValueError(image.detail)
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)  # as `datasets` and Unsloth's collator do
    return image.convert("RGB")
