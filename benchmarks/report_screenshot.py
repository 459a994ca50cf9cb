"""A screenshot of a `zoo report` page in headless Chromium, to look at it as a person would.

    python benchmarks/report_screenshot.py report.html -o docs/img/report.png [--width 1280] [--height 2000]

Runs `chromium --headless --screenshot=PNG --window-size=W,H file://REPORT` (with --no-sandbox when
run as root, which Chromium requires there), then with Pillow (when installed) crops the empty
space below the page and, if the PNG is larger than --max-kb, reduces it to a 256-colour palette
and, if need be, scales it down. Debian: `apt-get install chromium`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser(given: str | None) -> str:
    for name in ([given] if given else BROWSERS):
        path = shutil.which(name) if name else None
        if path:
            return path
    raise SystemExit("no Chromium found: install it (Debian: apt-get install chromium) or pass --browser PATH")


def screenshot(page: Path, png: Path, width: int, height: int, browser: str, timeout: float = 120) -> None:
    cmd = [browser, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", "--force-device-scale-factor=1",
           f"--screenshot={png}", f"--window-size={width},{height}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    with tempfile.TemporaryDirectory() as profile:
        cmd += [f"--user-data-dir={profile}", page.resolve().as_uri()]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not png.exists():
        raise SystemExit(f"chromium failed ({done.returncode}):\n{done.stderr[-2000:]}")


def shrink(png: Path, max_kb: int) -> None:
    """Crop the blank bottom; then a palette and smaller scales until the file fits ``max_kb``."""
    try:
        from PIL import Image, ImageChops
    except ImportError:
        print("Pillow not installed: PNG left as Chromium wrote it", file=sys.stderr)
        return
    image = Image.open(png).convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
    box = ImageChops.difference(image, background).getbbox()
    if box and box[3] + 24 < image.height:
        image = image.crop((0, 0, image.width, box[3] + 24))
    image.save(png, optimize=True)
    scale = 1.0
    while png.stat().st_size > max_kb * 1024 and scale > 0.3:
        shown = image if scale == 1.0 else image.resize((int(image.width * scale), int(image.height * scale)),
                                                        Image.LANCZOS)
        shown.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(png, optimize=True)
        scale -= 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the HTML file `zoo report` wrote")
    parser.add_argument("-o", "--output", type=Path, default=Path("report.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--max-kb", type=int, default=300, help="shrink the PNG to at most this size (needs Pillow)")
    parser.add_argument("--browser", default=None, help="the Chromium binary (default: found on PATH)")
    args = parser.parse_args()
    if not args.report.is_file():
        raise SystemExit(f"{args.report}: no such file")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.unlink(missing_ok=True)
    screenshot(args.report, args.output, args.width, args.height, find_browser(args.browser))
    shrink(args.output, args.max_kb)
    print(f"{args.output}: {args.output.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
