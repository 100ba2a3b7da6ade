"""The web console in a real headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium) against a live quantd: sign in, upload, submit, watch, read the report's charts, cancel,
download, wrong keys, tenant isolation, and no request leaving the page's own server.
QS_SCREENSHOTS=DIR saves screenshots of the jobs list and a report there (`make screenshots`)."""
import os
import pathlib
import shutil
import time
import urllib.parse

import numpy as np
import pytest
import requests
from safetensors.numpy import save_file

from service import Quantd

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (scripts/ensure-deps.sh installs them)")


@pytest.fixture(scope="module")
def quantd(tmp_path_factory):
    # Slow chunks, so a job can be seen running and cancelled.
    server = Quantd(data_dir=tmp_path_factory.mktemp("console"), env={"QUANTD_TEST_CHUNK_DELAY_MS": "150"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(quantd, downloads):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600",
                 # Nothing but quantd resolves: a page that reached for a CDN or a font would break.
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--no-proxy-server"]:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait(browser, condition, timeout=30):
    """Until `condition` holds; the page redraws as it polls, so an element found a moment ago may
    be gone: look again."""
    return WebDriverWait(browser, timeout, poll_frequency=0.1, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda b: condition(b))


def sign_in(browser, quantd, key):
    browser.get(quantd.url + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.get(quantd.url + "/ui/#/jobs")
    field = wait(browser, lambda b: b.find_element(By.ID, "api-key"))
    field.send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def model_file(tmp, name, tensors=4, rows=64, cols=256):
    rng = np.random.default_rng(7)
    path = tmp / name
    save_file({f"model.layers.{i}.mlp.weight": rng.standard_normal((rows, cols)).astype(np.float32) for i in range(tensors)}, str(path))
    return path


def screenshot(browser, name):
    directory = os.environ.get("QS_SCREENSHOTS")
    if directory:
        pathlib.Path(directory).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(pathlib.Path(directory) / name))


def test_pages_carry_security_headers_and_no_key_is_needed_for_them(quantd):
    first = requests.get(quantd.url + "/", allow_redirects=False)
    assert first.status_code == 302 and first.headers["Location"] == "/ui/"
    page = requests.get(quantd.url + "/ui/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Referrer-Policy"] == "no-referrer"
    for asset in ["/ui/console.js", "/ui/console.css", "/ui/presets.json"]:
        assert requests.get(quantd.url + asset).status_code == 200, asset
    # The console's files stay small (they are compiled into quantd).
    assert sum(len(requests.get(quantd.url + path).content) for path in ["/ui/", "/ui/console.js", "/ui/console.css", "/ui/presets.json"]) < 200_000
    # The API itself still wants a key.
    assert requests.get(quantd.url + "/v1/jobs").status_code == 401


def test_a_wrong_key_shows_the_error(browser, quantd):
    sign_in(browser, quantd, "qs_not_a_real_key_000000")
    error = wait(browser, lambda b: b.find_element(By.ID, "sign-in-error").text or None)
    assert "refused" in error and "API key" in error
    assert browser.execute_script("return sessionStorage.getItem('quantservice.key')") is None


def test_upload_submit_watch_report_and_download(browser, quantd, tmp_path, downloads):
    sign_in(browser, quantd, quantd.admin_key)
    wait(browser, lambda b: b.find_element(By.ID, "jobs"))
    # The key never reaches a URL.
    assert quantd.admin_key not in browser.current_url
    browser.get(quantd.url + "/ui/#/models")
    upload = wait(browser, lambda b: b.find_element(By.ID, "model-file"))
    upload.send_keys(str(model_file(tmp_path, "console.safetensors")))
    name = browser.find_element(By.ID, "model-name")
    name.clear()
    name.send_keys("console-model")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    link = wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, "#models a"))
    assert "console-model" in browser.find_element(By.ID, "models").text
    link.click()
    # A recipe the server refuses: the problem's field is shown next to the editor.
    recipe = wait(browser, lambda b: b.find_element(By.ID, "recipe"))
    recipe.clear()
    recipe.send_keys('{"preset": "int3"}')
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert "recipe.preset" in wait(browser, lambda b: b.find_element(By.ID, "submit-error").text or None)
    Select(browser.find_element(By.ID, "preset")).select_by_value("int4-g128")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(browser, lambda b: "#/jobs/job_" in b.current_url)
    job_id = browser.current_url.rsplit("/", 1)[1]
    assert wait(browser, lambda b: b.find_element(By.ID, "job-status").text == "succeeded", timeout=60)
    report = wait(browser, lambda b: b.find_element(By.ID, "worst"))
    assert len(report.find_elements(By.TAG_NAME, "li")) == 4
    charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart")
    assert {c.find_element(By.TAG_NAME, "figcaption").text for c in charts} >= {
        "SQNR per tensor, worst first (dB)", "SQNR against the layer index", "Bits per weight per tensor, by type"}
    assert len(charts[0].find_elements(By.CSS_SELECTOR, "svg rect")) == 4
    # Every chart has its numbers as a table.
    assert all(c.find_elements(By.CSS_SELECTOR, "details table tbody tr") for c in charts)
    expected = requests.get(f"{quantd.url}/v1/jobs/{job_id}/report", headers=quantd.headers()).json()
    worst = min(expected["tensors"], key=lambda t: t["sqnr_db"])
    assert worst["name"] in report.text and f"{worst['sqnr_db']:.2f}" in report.text
    screenshot(browser, "console-report.png")
    browser.find_element(By.ID, "download").click()
    artifact = requests.get(f"{quantd.url}/v1/jobs/{job_id}/artifact", headers=quantd.headers()).content
    # Chrome may create the file before it has written it: wait for the whole of it.
    def saved(_):
        done = [p for p in downloads.iterdir() if not p.name.endswith(".crdownload") and p.stat().st_size == len(artifact)]
        return done or None
    assert wait(browser, saved)[0].read_bytes() == artifact
    # Nothing but quantd was asked for anything.
    origins = browser.execute_script("return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
    assert set(origins) <= {quantd.url}, origins


def test_jobs_list_shows_live_status_and_cancels_a_running_job(browser, quantd, tmp_path):
    headers = quantd.headers()
    with open(model_file(tmp_path, "slow.safetensors", tensors=40), "rb") as body:
        model = requests.post(quantd.url + "/v1/models?name=slow", data=body, headers=headers).json()["id"]
    job_id = requests.post(quantd.url + "/v1/jobs", json={"model_id": model, "recipe": {"preset": "int8"}, "name": "slow"}, headers=headers).json()["id"]
    sign_in(browser, quantd, quantd.admin_key)
    row = f"//tr[td/a[text()='{job_id}']]"
    wait(browser, lambda b: b.find_element(By.XPATH, row).get_attribute("data-status") == "running")
    # From navigation to a filled list, signed in already; reported, not asserted.
    browser.refresh()
    wait(browser, lambda b: b.find_element(By.XPATH, row))
    print(f"\ntime to an interactive jobs list: {browser.execute_script('return document.body.dataset.jobsListMs')} ms")
    screenshot(browser, "console-jobs.png")
    wait(browser, lambda b: b.find_element(By.XPATH, row + "//button").click() or True)
    wait(browser, lambda b: b.find_element(By.XPATH, row).get_attribute("data-status") == "cancelled", timeout=30)
    assert requests.get(f"{quantd.url}/v1/jobs/{job_id}", headers=headers).json()["status"] == "cancelled"


def test_another_tenant_sees_none_of_the_first_ones_jobs(browser, quantd):
    jobs = requests.get(quantd.url + "/v1/jobs", headers=quantd.headers()).json()["jobs"]
    assert jobs
    sign_in(browser, quantd, quantd.tenant_key("tenant-b"))
    body = wait(browser, lambda b: b.find_element(By.ID, "jobs"))
    wait(browser, lambda b: "No jobs yet" in body.text)
    assert not any(job["id"] in body.text for job in jobs)
    browser.get(f"{quantd.url}/ui/#/jobs/{jobs[0]['id']}")
    browser.refresh()
    assert "does not exist" in wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, "[role=alert]").text or None)


def test_a_qat_report_draws_its_training_curves_and_results(browser, quantd, digits_fixture):
    """The digits MLP trained with fake-quantized weights: loss and accuracy per epoch, and the
    accuracies before and after, drawn from the job's report. The dataset is uploaded in the page."""
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "scripts"))
    import digits_eval as digits
    out, _ = digits_fixture
    headers = quantd.headers()
    model = requests.post(quantd.url + "/v1/models?name=digits", data=(out / "digits-mlp.safetensors").read_bytes(), headers=headers).json()["id"]
    sign_in(browser, quantd, quantd.admin_key)
    wait(browser, lambda b: b.find_element(By.ID, "jobs"))
    browser.get(quantd.url + "/ui/#/datasets")
    wait(browser, lambda b: b.find_element(By.ID, "dataset-file")).send_keys(str(out / "digits-train.safetensors"))
    name = browser.find_element(By.ID, "dataset-name")
    name.clear()
    name.send_keys("digits-train")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(browser, lambda b: "digits-train" in b.find_element(By.ID, "datasets").text)
    dataset = requests.get(quantd.url + "/v1/datasets", headers=headers).json()["datasets"][0]["id"]
    job = requests.post(quantd.url + "/v1/jobs", headers=headers, json={
        "model_id": model, "kind": "qat", "recipe": digits.QAT_RECIPES["ternary"], "training": {**digits.QAT_TRAINING, "dataset_id": dataset}}).json()["id"]
    browser.get(f"{quantd.url}/ui/#/jobs/{job}")
    assert wait(browser, lambda b: b.find_element(By.ID, "job-status").text == "succeeded", timeout=300)
    wait(browser, lambda b: b.find_element(By.ID, "evaluation"))
    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "figure.chart figcaption")]
    assert "QAT loss per epoch" in captions and "QAT validation accuracy per epoch" in captions
    loss = browser.find_elements(By.CSS_SELECTOR, "figure.chart")[captions.index("QAT loss per epoch")]
    assert len(loss.find_elements(By.CSS_SELECTOR, "details tbody tr")) == digits.QAT_TRAINING["epochs"]
    assert len(loss.find_elements(By.TAG_NAME, "polyline")) == 3  # the axes and two series
    evaluation = browser.find_element(By.ID, "evaluation").text
    assert "qat_accuracy" in evaluation and "ptq_accuracy" in evaluation


def test_every_control_has_a_label(browser, quantd):
    """Inputs, selects and text areas are labelled, so a screen reader names them."""
    sign_in(browser, quantd, quantd.admin_key)
    wait(browser, lambda b: b.find_element(By.ID, "jobs"))
    for page in ["#/jobs", "#/models", "#/datasets"]:
        browser.get(quantd.url + "/ui/" + page)
        browser.refresh()
        wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "main table"))
        unlabelled = browser.execute_script("""
            return [...document.querySelectorAll('input, select, textarea')].filter(c =>
                !(c.labels && c.labels.length) && !c.getAttribute('aria-label')).map(c => c.id || c.outerHTML)""")
        assert unlabelled == [], (page, unlabelled)
