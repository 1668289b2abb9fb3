"""Browser fixtures: real Chromium from Debian through Playwright, axe-core scans, screenshots.

Never `playwright install`: the browser is Debian's /usr/bin/chromium (CHROMIUM_PATH to change it).
"""
import pathlib

import pytest

from tests.conftest import CHROMIUM, chromium_available, require

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    require(chromium_available(), f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context; script and CSP errors, broken sub-resources fail the test; screenshot on failure."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []

    def on_console(message):
        # A page answered 400 on purpose (refused login) is not an error; broken sub-resources are
        # caught below by their status, and CSP violations ("Refused to …") land here.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_response(response):
        if response.request.resource_type != "document" and response.status >= 400:
            errors.append(f"{response.status} for {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"failure-{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"errors in the browser console: {errors}"


@pytest.fixture
def check_accessibility():
    """Run axe-core in the page; fail on serious or critical violations, print the others."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page, label):
        results = axe.run(page)
        violations = results.response["violations"]
        for violation in violations:
            targets = [node["target"] for node in violation["nodes"]]
            print(f"axe [{label}] {violation['impact']}: {violation['id']} – {violation['help']} {targets}")
        blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, f"accessibility violations on {label} ({page.url}):\n" + "\n".join(
            results.generate_report(v["id"]) for v in blocking
        )
        return violations

    return check
