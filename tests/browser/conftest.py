"""Browser fixtures: a live server on the test app, headless Chromium, screenshots and axe-core.

Chromium and ChromeDriver come from the machine's packages (Debian: ``chromium`` and
``chromium-driver``, installed by ``.ci/run``); nothing is ever downloaded. Selenium Manager never
runs: the driver and the browser binary are both given explicitly. Without them the journeys are
skipped, with the reason.

The live server serves the SAME ``app`` as the other tests (so the same test database): what a
test builds with the factories must be committed before the browser asks for it.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MISSING = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
SKIP_REASON = (
    f"no Chromium for the browser journeys: {', '.join(MISSING)} missing "
    "(apt-get install chromium chromium-driver; .ci/run does it)"
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).with_name("vendor") / "axe.min.js"
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
# RGAA 4 follows WCAG 2.1 AA: only those rules, and the failures that block people.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
TABLET = (820, 1180)
DESKTOP = (1280, 900)
TIMEOUT = 10


@pytest.fixture(scope="package")
def live_server(app):
    """The test app served over HTTP on 127.0.0.1 (a free port), in a thread.

    SERVER_NAME is "stages.test" for the rest of the suite; a browser asks for 127.0.0.1:port,
    so it is unset while the journeys run and restored afterwards (package scope: the other
    test packages never see the change).
    """
    from werkzeug.serving import make_server

    saved = app.config["SERVER_NAME"]
    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        app.config["SERVER_NAME"] = saved


@pytest.fixture(scope="package")
def chromium(tmp_path_factory):
    """One headless Chromium for all the journeys (each test starts with no cookies)."""
    if MISSING:
        pytest.skip(SKIP_REASON)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="stages-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--lang=fr-FR",
        f"--user-data-dir={profile}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Journey:
    """A browser journey: visits pages, screenshots each step, runs axe-core on every page."""

    _axe_source: str | None = None

    def __init__(self, driver, base_url: str, out_dir: Path, copy_dir: Path):
        self.driver = driver
        self.base_url = base_url
        self.out_dir = out_dir
        self.copy_dir = copy_dir
        self.violations: list[str] = []
        self.pages: list[str] = []
        self.steps = 0

    def set_viewport(self, width: int, height: int) -> None:
        """Resize the window so that the page itself (the viewport) is ``width``×``height``.

        The window's frame (what is not the page) is measured after a first resize, then the
        window is sized to leave exactly the viewport asked for. Chromium applies a resize
        asynchronously: on a busy machine the page reported its former height (757 instead of
        900) just after the call. So the frame is measured once the page has the width asked
        for (the window has no frame at its sides) and two readings 50 ms apart agree, and the
        final size must then be exactly the one asked for, within 5 seconds."""
        self.driver.set_window_size(width, height)
        inner = self._settled_viewport(width)
        self.driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
        inner = self._settled_viewport(width, [width, height])
        assert inner == [width, height], inner

    def _settled_viewport(self, width: int, expected=None, timeout: float = 5.0) -> list[int]:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            inner = self.driver.execute_script("return [window.innerWidth, window.innerHeight]")
            if inner == expected or (expected is None and inner[0] == width and inner == last):
                return inner
            if time.monotonic() > deadline:
                return inner
            last = inner
            time.sleep(0.05)

    # --- navigation -----------------------------------------------------------------------

    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    def get(self, path: str, step: str):
        """Type ``path`` in the address bar; then screenshot and check the page."""
        self.driver.get(self.base_url + path)
        self._wait_loaded()
        return self.step(step)

    def click(self, element, step: str):
        """Click ``element`` (a link or a submit button) and wait for the next page."""
        self._mark_page()
        element.click()
        self._wait_new_page()
        return self.step(step)

    def submit_with_enter(self, element, step: str):
        from selenium.webdriver.common.keys import Keys

        self._mark_page()
        element.send_keys(Keys.ENTER)
        self._wait_new_page()
        return self.step(step)

    def _mark_page(self):
        """Tag the current page's window, so that the next page is known by the tag's absence.

        Waiting for the old <html> element to go stale raced with Chromium's inspector
        ("Node with given id does not belong to the document") while the page was unloading;
        a property on ``window`` disappears with the old page and needs no element reference.
        """
        self.driver.execute_script("window.__journeyOldPage = true;")

    def _wait_new_page(self):
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        # While the browser swaps pages a script can fail (no execution context yet): retry.
        WebDriverWait(self.driver, TIMEOUT, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return window.__journeyOldPage === undefined"
                " && document.readyState === 'complete'"
            )
        )

    def _wait_loaded(self):
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, TIMEOUT).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    # --- finding --------------------------------------------------------------------------

    def css(self, selector: str):
        return self.driver.find_element("css selector", selector)

    def all(self, selector: str):
        return self.driver.find_elements("css selector", selector)

    def button(self, text: str):
        """The button whose visible text is ``text`` (exactly, spaces trimmed)."""
        for element in self.all("button, input[type=submit]"):
            if element.text.strip() == text or element.get_attribute("value") == text:
                return element
        raise AssertionError(f"no button « {text} » on {self.path()}")

    def link(self, text_start: str):
        """The link whose visible text starts with ``text_start``."""
        for element in self.all("a"):
            if element.text.strip().startswith(text_start):
                return element
        raise AssertionError(f"no link « {text_start}… » on {self.path()}")

    def flashes(self) -> list[str]:
        return [e.text for e in self.all(".flash")]

    def text(self) -> str:
        return self.css("main").text

    # --- evidence -------------------------------------------------------------------------

    def step(self, name: str):
        """Screenshot the page (NN-name.png) and run axe-core on it."""
        self.steps += 1
        filename = f"{self.steps:02d}-{name}.png"
        self.driver.save_screenshot(str(self.out_dir / filename))
        shutil.copyfile(self.out_dir / filename, self.copy_dir / filename)
        self.check_accessibility()
        return self

    def check_accessibility(self):
        """Run axe-core (WCAG 2.1 A/AA rules) and keep the serious and critical violations."""
        if Journey._axe_source is None:
            Journey._axe_source = AXE_JS.read_text(encoding="utf-8")
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(Journey._axe_source)
        result = self.driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
              .then(r => done({violations: r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  target: v.nodes.length ? String(v.nodes[0].target) : '', count: v.nodes.length}))}))
              .catch(e => done({error: String(e)}));
            """,
            AXE_TAGS,
        )
        assert "error" not in result, f"axe-core failed on {self.path()}: {result.get('error')}"
        self.pages.append(self.path())
        lines = [
            f"{self.path()}: [{v['impact']}] {v['id']} — {v['help']} "
            f"({v['count']} élément(s), ex. {v['target']})"
            for v in result["violations"]
        ]
        self.violations += [
            line for line, v in zip(lines, result["violations"]) if v["impact"] in BLOCKING_IMPACTS
        ]
        # Every finding, minor ones included, for a human to read beside the screenshots.
        with open(self.copy_dir / "axe.txt", "a", encoding="utf-8") as report:
            report.write(f"{self.steps:02d} {self.path()}: {len(lines)} violation(s)\n")
            report.writelines(f"   {line}\n" for line in lines)

    def assert_accessible(self):
        assert self.pages, "axe-core did not run on any page"
        assert not self.violations, "axe-core (WCAG 2.1 AA), violations serious/critical:\n" + "\n".join(
            self.violations
        )

    # --- shared steps ---------------------------------------------------------------------

    def log_in(self, email: str, password: str):
        """Log in through the real form, as a person would."""
        self.get("/connexion", "connexion")
        self.css("#email").send_keys(email)
        self.css("#password").send_keys(password)
        self.click(self.button("Se connecter"), "connecte")
        # Say why at once when the login itself failed (a refused form, a security token).
        assert not self.path().startswith("/connexion"), (self.path(), self.css("main").text[:500])
        return self


@pytest.fixture
def journey(request, chromium, live_server, tmp_path):
    """A fresh journey: no cookies, desktop size; screenshots in tmp_path and test-output/."""
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chromium.set_window_size(*DESKTOP)
    name = request.node.name.removeprefix("test_")
    copy_dir = SCREENSHOTS / name
    shutil.rmtree(copy_dir, ignore_errors=True)
    copy_dir.mkdir(parents=True)
    out_dir = tmp_path / "screenshots"
    out_dir.mkdir()
    # Downloads (exports) land in the test's own folder.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chromium.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    trip = Journey(chromium, live_server, out_dir, copy_dir)
    trip.downloads = downloads
    started = time.monotonic()
    yield trip
    # Leave the browser logged out and on a blank page for the next journey.
    chromium.get("about:blank")
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    request.node.user_properties.append(("browser_seconds", round(time.monotonic() - started, 2)))


def wait_for_download(folder: Path, suffix: str, timeout: float = TIMEOUT) -> Path:
    """The file Chromium finished downloading into ``folder`` (ends with ``suffix``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        if done and not any(p.name.endswith(".crdownload") for p in folder.iterdir()):
            return done[0]
        time.sleep(0.05)
    raise AssertionError(f"no {suffix} downloaded into {folder}: {list(folder.iterdir())}")
