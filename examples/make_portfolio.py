"""Generate examples/portfolio/: a small artist's portfolio for examples/publish.sh.

Seven small images with distinct content (so their PDQ hashes are far apart)
in PNG, JPEG, WebP and animated GIF, one in a subfolder and one carrying an
EXIF orientation tag, plus a text file that ``notrain init`` skips with a
warning.  The pixels are deterministic (fixed seeds, no clock); the encoded
bytes may differ between Pillow/libjpeg/libwebp versions, which is why the
files themselves are committed.

Run from anywhere: ``python examples/make_portfolio.py``.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent / "portfolio"
SIZE = (192, 144)


def sunset() -> Image.Image:
    """A vertical gradient sky, a sun and dark hills."""
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        t = y / SIZE[1]
        draw.line([(0, y), (SIZE[0], y)], fill=(int(255 - 60 * t), int(120 + 80 * t), int(60 + 120 * (1 - t))))
    draw.ellipse((110, 40, 160, 90), fill=(255, 230, 120))
    draw.polygon([(0, 144), (0, 100), (50, 80), (100, 110), (150, 85), (192, 105), (192, 144)], fill=(40, 30, 60))
    return image


def shapes() -> Image.Image:
    """Overlapping coloured rectangles and circles (fixed seed)."""
    rng = random.Random(11)
    image = Image.new("RGB", SIZE, (245, 240, 230))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x, y = rng.randrange(SIZE[0] - 30), rng.randrange(SIZE[1] - 30)
        w, h = rng.randrange(20, 70), rng.randrange(20, 70)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x, y, x + w, y + h), fill=colour)
    return image


def noise_field() -> Image.Image:
    """Seeded colour noise, blurred into clouds (raw noise compresses badly)."""
    data = random.Random(7).randbytes(48 * 36 * 3)
    small = Image.frombytes("RGB", (48, 36), data)
    return small.resize(SIZE, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))


def stripes() -> Image.Image:
    """Diagonal stripes whose colour drifts across the image."""
    image = Image.new("RGB", SIZE)
    pixels = image.load()
    for y in range(SIZE[1]):
        for x in range(SIZE[0]):
            band = ((x + y) // 12) % 2
            pixels[x, y] = (30 + 200 * band, int(255 * x / SIZE[0]), 180 - 150 * band)
    return image


def spiral() -> Image.Image:
    """A thick spiral on paper: the sketch in the subfolder."""
    image = Image.new("RGB", SIZE, (250, 248, 240))
    draw = ImageDraw.Draw(image)
    points = [(96 + 4 * t * math.cos(t), 72 + 4 * t * math.sin(t)) for t in (i / 10 for i in range(170))]
    draw.line(points, fill=(20, 20, 60), width=5)
    return image


def portrait() -> Image.Image:
    """A tall picture stored sideways with EXIF orientation 6: hashers must turn it upright."""
    image = Image.new("RGB", (108, 144), (70, 110, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse((24, 20, 84, 90), fill=(235, 200, 170))
    draw.rectangle((14, 96, 94, 144), fill=(150, 40, 50))
    return image.transpose(Image.Transpose.ROTATE_90)  # viewers rotate it back (orientation 6)


def blink() -> list[Image.Image]:
    """Three frames of a moving square; the first frame is what gets hashed."""
    frames = []
    for step in range(3):
        frame = Image.new("RGB", SIZE, (20, 60, 40))
        ImageDraw.Draw(frame).rectangle((20 + 50 * step, 40, 80 + 50 * step, 100), fill=(240, 200, 40))
        frames.append(frame)
    return frames


def main() -> None:
    (OUT / "sketches").mkdir(parents=True, exist_ok=True)
    sunset().save(OUT / "sunset.png", optimize=True)
    shapes().save(OUT / "shapes.png", optimize=True)
    noise_field().save(OUT / "clouds.jpg", quality=85)
    stripes().save(OUT / "stripes.webp", quality=80)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    portrait().save(OUT / "portrait.jpg", quality=85, exif=exif)
    first, *rest = blink()
    first.save(OUT / "blink.gif", save_all=True, append_images=rest, duration=400, loop=0)
    spiral().save(OUT / "sketches" / "spiral.png", optimize=True)
    (OUT / "notes.txt").write_text("Ideas for the next series. Not an image: `notrain init` skips this file.\n")


if __name__ == "__main__":
    main()
