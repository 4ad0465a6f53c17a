"""Digit images for inference: 28x28 grayscale from PGM, PNG and ``.npy`` files.

What the built-in MNIST models expect, and so what these functions return:

- **Size**: exactly 28x28 pixels. Nothing is resized or cropped (MNIST digits are
  also centred by their centre of mass in a 20x20 box, which a resize would not do):
  any other size is an error saying so. Prepare images with, e.g., Pillow:
  ``Image.open(p).convert("L").resize((28, 28)).save("digit.png")``.
- **Scale**: float32 in [0, 1]: 8-bit values divided by 255 (by ``maxval`` for PGM).
- **Polarity**: white digit (1.0) on a black background (0.0), as MNIST. A dark digit
  on light paper must be inverted: pass ``invert=True`` (``x -> 1 - x``).
- **Colour**: RGB becomes luma ``(0.299 R + 0.587 G + 0.114 B) / 255`` (ITU-R 601-2,
  as Pillow's ``convert("L")``, unrounded). Transparent pixels are background: alpha
  blends over black, or over white with ``invert=True``, so they end up black.

Files are recognised by content, not by name: 8-bit PGM (``P2`` plain or ``P5``
binary); PNG, 8 bits per channel, grayscale, grayscale+alpha, RGB or RGBA,
non-interlaced, decoded with the standard library's ``zlib`` and PNG's five row
filters; ``.npy`` arrays (read with ``allow_pickle=False``) of shape (N, 28, 28) or
(N, 784), or one image (28, 28) or (784,), uint8 in 0..255 or float in [0, 1].
Anything else is an `ImageFormatError` suggesting a conversion.
"""

from tinynet.images.common import SIZE, ImageFormatError
from tinynet.images.load import load_image, load_images
from tinynet.images.predict import Prediction, predict_images

__all__ = [
    "SIZE",
    "ImageFormatError",
    "Prediction",
    "load_image",
    "load_images",
    "predict_images",
]
