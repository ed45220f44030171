"""The report opened in a real browser (issue 18): headless Chromium (the Debian package
``chromium``, which ``make test`` installs when it is missing) loads ``report.html`` of
conftest's tiny run, with a hostile study name, at a desktop and a narrow width, and a
probe script reports: no horizontal overflow of the page, every image loaded and decoded (its natural size known), no
console or script error, no element the page did not write (user text escaped).
Screenshots and a printed PDF are written for review.

Without Chromium these tests fail with the command that installs it; they are never
skipped.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from interbrain.report import report_html

INSTALL = "sudo apt-get install -y chromium   (or: make test, which installs it)"
HOSTILE_NAME = 'Tiny <script>alert("x")</script><img src=x onerror=alert(1)> & \'q\''

#: Injected first into <head>: records errors, then reports what the page did.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.tagName))));
}, true);
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push(Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  (function () {
    var root = document.documentElement, width = root.clientWidth;
    var wide = [];
    document.querySelectorAll("body *").forEach(function (el) {
      if (el.closest(".scroll") || el.closest("nav")) { return; }
      var box = el.getBoundingClientRect();
      if (box.width > 0 && box.right > width + 1) {
        wide.push(el.tagName + (el.id ? "#" + el.id : "") + " " + Math.round(box.right));
      }
    });
    var out = {
      width: width, scrollWidth: root.scrollWidth, wide: wide.slice(0, 10),
      images: images.length,
      broken: images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                    .map(function (i) { return i.alt; }),
      errors: window.__errors,
      scripts: document.scripts.length,
      injected: document.querySelectorAll("img[onerror], [onload], iframe, object").length,
      title: document.title,
      text: document.body.innerText.indexOf(%s) >= 0,
      sections: document.querySelectorAll("details.section").length,
      nav: document.querySelectorAll("nav.sidebar a").length
    };
    var pre = document.createElement("pre");
    pre.id = "__probe";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  })();
});
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(f"headless Chromium is needed for the report's browser checks and is "
                    f"not installed: {INSTALL}", pytrace=False)
    return found


def _run(args: list[str], folder: Path) -> tuple[str, str]:
    """Chromium's stdout and stderr (through files: Chromium's helper processes can
    keep a pipe open after it exits)."""
    chromium = _chromium()
    out, err = folder / "chromium.out", folder / "chromium.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--no-first-run", "--mute-audio",
                        "--disable-extensions", *args], stdout=stdout, stderr=stderr,
                       stdin=subprocess.DEVNULL, timeout=60, check=False)
    return out.read_text(errors="replace"), err.read_text(errors="replace")


@pytest.fixture(scope="module")
def pages(tiny_results, tmp_path_factory):
    """The report (hostile study name) and the same page with the probe injected."""
    results = dataclasses.replace(tiny_results, study=dataclasses.replace(
        tiny_results.study, name=HOSTILE_NAME))
    page = report_html(results)
    folder = tmp_path_factory.mktemp("report-browser")
    report = folder / "report.html"
    report.write_text(page, encoding="utf-8")
    probe = PROBE.replace("%s", json.dumps(HOSTILE_NAME).replace("</", "<\\/"))
    probed = folder / "probed.html"
    probed.write_text(page.replace("<head>", "<head>\n" + probe, 1), encoding="utf-8")
    return folder, report, probed


def _probe(probed: Path, width: int) -> dict:
    stdout, stderr = _run([f"--window-size={width},900", "--dump-dom", probed.as_uri()],
                          probed.parent)
    match = re.search(r'<pre id="__probe">(.*?)</pre>', stdout, re.S)
    assert match, f"the probe did not report: {stderr[-2000:]}"
    return json.loads(match.group(1).replace("&quot;", '"').replace("&lt;", "<")
                      .replace("&gt;", ">").replace("&amp;", "&"))


@pytest.mark.parametrize("width", [1280, 760])
def test_report_in_headless_chromium(pages, width):
    folder, _, probed = pages
    out = _probe(probed, width)
    assert out["scrollWidth"] <= out["width"], (out["scrollWidth"], out["width"], out["wide"])
    assert not out["wide"], out["wide"]
    assert out["images"] >= 7 and not out["broken"], out
    assert out["errors"] == [], out["errors"]
    # the report's own script and the probe: nothing the user wrote became markup
    assert out["scripts"] == 2 and out["injected"] == 0, out
    assert out["text"] and HOSTILE_NAME in out["title"]
    assert out["sections"] >= 4 and out["nav"] >= 6


def test_screenshots_and_print_for_review(pages):
    folder, report, _ = pages
    shots = []
    for width in (1280,):
        shot = folder / f"report_{width}.png"
        _, stderr = _run([f"--window-size={width},2400", f"--screenshot={shot}",
                          report.as_uri()], folder)
        assert shot.exists() and shot.stat().st_size > 10_000, stderr[-2000:]
        shots.append(shot)
    pdf = folder / "report.pdf"
    _, stderr = _run([f"--print-to-pdf={pdf}", "--no-pdf-header-footer", report.as_uri()],
                     folder)
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF"), stderr[-2000:]
    print("screenshots for review:", *shots, pdf)
