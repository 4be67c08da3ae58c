"""The HTML page in a real browser: headless Chromium opens it from disk (file://, no network), takes a screenshot
and dumps the DOM after load. Skipped when Chromium is not installed (``.ci/run`` apt-installs it)."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Appended to a copy of the page only: after load, count the images the browser could not decode.
PROBE = ("<script>window.addEventListener('load', () => { const bad = [...document.images].filter("
         "i => !i.complete || i.naturalWidth === 0).length; document.body.setAttribute('data-broken-images', bad);"
         "});</script>")


def chromium(*args: str, user_data: Path) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={user_data}", *args], capture_output=True, text=True,
                          timeout=180, check=False)


class DomScan(HTMLParser):
    """Collects the tags, the <img> sources and the body's attributes of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.images: list[str] = []
        self.body: dict[str, str | None] = {}
        self.ids: set[str] = set()
        self.cell_classes: list[str] = []  # the class attribute of every <td>
        self.section = ""  # the id of the <section> being read
        self.images_by_section: dict[str, int] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"] or "")
        if tag == "section":
            self.section = attributes.get("id") or ""
        if tag == "td":
            self.cell_classes.append(attributes.get("class") or "")
        if tag == "img":
            self.images.append(attributes.get("src") or "")
            self.images_by_section[self.section] = self.images_by_section.get(self.section, 0) + 1
        if tag == "body":
            self.body = attributes

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_screenshot_is_not_blank(table3_report, tmp_path):
    shot = tmp_path / "page.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1280,2000", table3_report.html.as_uri(),
                      user_data=tmp_path / "profile")
    assert shot.is_file(), result.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 20  # text, tables and figures, not a blank or single-colour page
    assert (pixels < 80).mean() > 0.005 and (pixels > 200).mean() > 0.3  # dark ink on a light page


def test_dom_has_the_tables_and_every_image_decodes(table3_report, tmp_path):
    probed = tmp_path / "probe.html"  # the page holds no relative reference that an image needs
    probed.write_text(table3_report.html.read_text().replace("</body>", PROBE + "</body>"))
    result = chromium("--dump-dom", "--virtual-time-budget=5000", probed.as_uri(), user_data=tmp_path / "profile")
    scan = DomScan()
    scan.feed(result.stdout)
    # captioned tables: table3 x 2 protocols, the standard protocol's details, and per protocol the pairwise
    # significance, the ranking, the held-out best step and the verdicts, the speed table; then the recipes table
    assert scan.tags.get("table") == 13 and scan.tags.get("caption") == 12, result.stderr[-2000:]
    assert scan.tags.get("td", 0) > 50
    expected = len(list((table3_report.out / "figures").glob("*.png"))) + len(
        list((table3_report.out / "samples").glob("*.png")))
    assert len(scan.images) == expected
    for src in scan.images:
        assert src.startswith("data:image/png;base64,") and len(src) > 100
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            image.verify()
    assert scan.body.get("data-broken-images") == "0"


def test_page_shows_intervals_significance_marks_verdicts_and_the_class_distribution(table3_report, tmp_path):
    result = chromium("--dump-dom", "--virtual-time-budget=5000", table3_report.html.as_uri(),
                      user_data=tmp_path / "profile")
    scan = DomScan()
    scan.feed(result.stdout)
    text = " ".join(scan.text)
    assert "±" in text and "95% t-interval" in text  # means over seeds carry their interval
    assert "95% bootstrap interval" in text and " [" in text  # single-seed FIDs show their bootstrap interval
    for protocol in ("paper", "standard"):
        for table in ("significance", "ranking", "heldout", "verdicts"):
            assert f"table-{table}-{protocol}-classifier" in scan.ids
    assert any(" ns" in c for c in scan.cell_classes)  # differences that are not significant are marked
    assert any(c.split()[-1] in ("holds", "fails", "inconclusive") for c in scan.cell_classes if c)  # verdicts
    assert "balanced-sampling" in text and "tail-fid" in text
    assert scan.images_by_section.get("class-distribution", 0) >= 1  # the long-tailed sets' class counts
    assert scan.images_by_section.get("tail-samples", 0) >= 1
    for tail in ("iFID rarest 10%", "iFID rarest 20%", "iKID rarest 10%", "iKID rarest 20%"):
        assert tail in text  # the tail metrics beside head/tail FID
    assert "table-speed-table3-cpu" in scan.ids  # what each cell cost, cells x phases
    for phase in ("Data s", "Judge s", "Reference feat. s", "Pretraining s", "Training s", "Evaluation s"):
        assert phase in text
