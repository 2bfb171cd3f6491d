"""The dashboard in headless Chromium, over the daemon's TLS TCP listener, after real Jobs (one
succeeding, one failing), a CronJob's run and a DaemonSet ran on the test nodes: the login, each
page as a user reads it (with and without JavaScript), the live log follow, and HTML shown as text.
Saves a screenshot of each page under docs/screenshots."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from conftest import _remove_managed_containers
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from support import browser, dockernodes
from support.daemon import Daemon, job_yaml

TOKEN = "dashboard-test-token-0123456789"
EVIL = "<img src=x onerror=alert(1)>"
IMAGE = "miniorch.local/busybox:latest"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tls(tmp: Path) -> dict[str, str]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp / "cert.pem"))
    return {"tls_cert": str(tmp / "cert.pem"), "tls_key": str(tmp / "key.pem")}


def _cronjob(command: str = "echo nightly-run; sleep 2") -> str:
    container = {"name": "c", "image": IMAGE, "command": ["sh", "-c", command]}
    spec = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1, "containers": [container]}
    return yaml.safe_dump(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": spec}}}},
        }
    )


def _daemonset() -> str:
    container = {"name": "agent", "image": IMAGE, "command": ["sh", "-c", "echo agent-up; sleep 3600"]}
    template = {
        "metadata": {"labels": {"app": "agent"}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]},
    }
    body = {"selector": {"matchLabels": {"app": "agent"}}, "template": template}
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": body})


TALKER = f"echo '{EVIL}'; i=0; while true; do echo tick-$i; i=$((i+1)); sleep 1; done"


@dataclass
class Cluster:
    daemon: Daemon
    url: str
    pods: dict[str, str]  # job -> its (last) pod's name


def _run_workloads(d: Daemon) -> dict[str, str]:
    d.apply(job_yaml("ok-job", "echo all-good; sleep 1"), "ok.yaml")
    d.apply(job_yaml("bad-job", "echo going-wrong; exit 3", backoff_limit=0), "bad.yaml")
    talker = yaml.safe_load(job_yaml("talker", TALKER))
    talker["metadata"]["annotations"] = {"note": EVIL}
    d.apply(yaml.safe_dump(talker), "talker.yaml")
    d.apply(_cronjob(), "cron.yaml")
    d.apply(_daemonset(), "ds.yaml")
    d.ctl("create", "job", "nightly-manual", "--from=cronjob/nightly", check=True)
    d.wait_job("ok-job")
    d.wait_job("bad-job", "Failed")
    d.wait_job("nightly-manual")
    d.apply(_cronjob("echo nightly-broken; sleep 1; exit 4"), "cron.yaml")  # the next run fails
    d.ctl("create", "job", "nightly-broken", "--from=cronjob/nightly", check=True)
    d.wait_job("nightly-broken", "Failed")
    d.wait_for(
        lambda: (
            len(
                [
                    p
                    for p in d.api("GET", "/api/v1/pods", params={"labelSelector": "app=agent"})["items"]
                    if p["status"]["phase"] == "Running"
                ]
            )
            == 3
        ),
        what="the DaemonSet's 3 pods running",
    )
    d.wait_for(lambda: any(p["status"]["phase"] == "Running" for p in d.pods("talker")), what="the talker running")
    return {job: d.pods(job)[-1]["metadata"]["name"] for job in ("ok-job", "bad-job", "talker")}


@pytest.fixture(scope="module")
def cluster(docker_nodes: list[dockernodes.DockerNode], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("dashboard")
    token = tmp / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    port = _free_port()
    api = {
        "socket": str(tmp / "run" / "miniorch.sock"),
        "tcp": f"127.0.0.1:{port}",
        "token_file": str(token),
        **_tls(tmp),
    }
    d = Daemon(tmp, [(n.name, n.url) for n in docker_nodes], extra={"api": api})
    d.start(timeout=90)  # the browser tests run where CPU is scarce
    try:
        yield Cluster(d, f"https://127.0.0.1:{port}", _run_workloads(d))
    finally:
        d.stop()
        _remove_managed_containers(docker_nodes)


def _click_to(session: WebDriver, css: str, url: str) -> None:
    """Submit a form by its button, and wait for the page it leads to (a click does not wait)."""
    old = session.find_element(By.TAG_NAME, "html")
    session.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(session, 20).until(lambda _: _replaced(old), "the form was not answered")
    WebDriverWait(session, 20).until(lambda s: s.current_url == url, f"the form did not lead to {url}")


def _replaced(element: WebElement) -> bool:
    """Whether the page holding `element` was replaced. Chromium answers for an element of the
    page being replaced either "stale element" or "Node ... does not belong to the document"
    (selenium's staleness_of knows only the first)."""
    try:
        element.is_enabled()
    except WebDriverException:  # StaleElementReferenceException is one
        return True
    return False


def _login(session: WebDriver, url: str, token: str = TOKEN) -> None:
    # No session, so the login form.
    browser.open_page(session, f"{url}/ui/", lambda s: s.current_url == f"{url}/ui/login")
    session.find_element(By.ID, "token").send_keys(token)
    _click_to(session, "#login", f"{url}/ui/" if token == TOKEN else f"{url}/ui/login")


def _text(session: WebDriver, element_id: str = "") -> str:
    element = session.find_element(By.ID, element_id) if element_id else session.find_element(By.TAG_NAME, "main")
    return " ".join(element.text.split())


def _rows(session: WebDriver, table_id: str) -> list[str]:
    return [" ".join(r.text.split()) for r in session.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def _visit(session: WebDriver, url: str, path: str, shot: str = "") -> str:
    session.get(url + path)
    assert not browser.alert_shown(session)
    if shot:
        browser.screenshot(session, shot)
    return _text(session)


def test_login_refuses_a_wrong_token_and_sets_a_strict_session_cookie(
    cluster: Cluster, docker_nodes: list[dockernodes.DockerNode]
) -> None:
    with browser.chrome() as session:
        _login(session, cluster.url, "not-the-token-at-all")
        assert "That is not the daemon's token." in _text(session, "login-error")
        assert session.get_cookies() == []
        browser.screenshot(session, "login")
        session.find_element(By.ID, "token").send_keys(TOKEN)
        _click_to(session, "#login", f"{cluster.url}/ui/")
        (cookie,) = session.get_cookies()
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
        assert TOKEN not in cookie["value"] and TOKEN not in session.current_url
        assert TOKEN not in session.page_source
        assert session.execute_script("return document.cookie") == "", "scripts of the page cannot read it"
        _click_to(session, "form.logout button", f"{cluster.url}/ui/login")
        session.get(f"{cluster.url}/ui/k/jobs")
        assert session.current_url == f"{cluster.url}/ui/login", "logged out"


def _check_pages(session: WebDriver, cluster: Cluster, shots: bool) -> None:
    """Each page shows what a user looks for; `shots`: save a screenshot of each."""
    url, pods = cluster.url, cluster.pods

    def shot(name: str) -> str:
        return name if shots else ""

    text = _visit(session, url, "/ui/", shot("overview"))
    assert "node0 Ready" in text and "node2 Ready" in text
    assert "2 complete" in text and "2 failed" in text and "1 cronjobs" in text and "1 daemonsets" in text
    text = _visit(session, url, "/ui/nodes", shot("nodes"))
    assert [r.split()[:2] for r in _rows(session, "nodes")] == [[f"node{i}", "Ready"] for i in range(3)], text
    _visit(session, url, "/ui/k/jobs", shot("jobs"))
    rows = _rows(session, "items")
    assert any(r.startswith("default ok-job Complete 1/1") for r in rows), rows
    assert any(r.startswith("default bad-job Failed 0/1") for r in rows), rows
    assert any(r.startswith("default nightly-manual Complete 1/1") for r in rows), rows
    _visit(session, url, "/ui/k/jobs/default/bad-job", shot("job"))
    (pod_row,) = _rows(session, "pods")
    assert re.match(rf"{pods['bad-job']} node\d Failed Error 3 0 \d+s \d+s$", pod_row), pod_row
    _visit(session, url, "/ui/k/cronjobs", shot("cronjobs"))
    assert any(r.startswith("default nightly 0 3 * * *") for r in _rows(session, "items"))
    text = _visit(session, url, "/ui/k/cronjobs/default/nightly", shot("cronjob"))
    assert "NEXT SCHEDULE TIME" in text and "T03:00:00Z" in text
    bars = session.find_elements(By.CSS_SELECTOR, "#timeline rect.run")
    assert [(b.get_attribute("data-job"), b.get_attribute("class")) for b in bars] == [
        ("nightly-manual", "run ok"),
        ("nightly-broken", "run failed"),
    ]
    assert "nightly-broken: Failed" in (bars[1].find_element(By.TAG_NAME, "title").get_attribute("textContent") or "")
    _visit(session, url, "/ui/k/daemonsets", shot("daemonsets"))
    assert any(r.startswith("default agent 3 3") for r in _rows(session, "items")), _rows(session, "items")
    _visit(session, url, "/ui/k/daemonsets/default/agent")
    assert sorted(r.split()[1] for r in _rows(session, "pods")) == ["node0", "node1", "node2"]
    _visit(session, url, f"/ui/pods/default/{pods['ok-job']}")
    assert _text(session, "log") == "all-good"
    assert re.match(rf"{pods['ok-job']} node\d Succeeded Completed 0 0 \d+s \d+s$", _rows(session, "pod")[0])


def test_every_page_in_the_browser(cluster: Cluster, docker_nodes: list[dockernodes.DockerNode]) -> None:
    with browser.chrome() as session:
        _login(session, cluster.url)
        _check_pages(session, cluster, shots=True)


def test_every_page_renders_with_javascript_disabled(
    cluster: Cluster, docker_nodes: list[dockernodes.DockerNode]
) -> None:
    with browser.chrome(javascript=False) as session:
        _login(session, cluster.url)
        _check_pages(session, cluster, shots=False)
        _visit(session, cluster.url, f"/ui/pods/default/{cluster.pods['talker']}")
        assert "live follow needs JavaScript" in _text(session, "follow-state")


def test_the_log_follows_live_and_shows_html_as_text(
    cluster: Cluster, docker_nodes: list[dockernodes.DockerNode]
) -> None:
    """The talker prints EVIL then a tick a second: the page shows its lines, the follow appends new
    ones after the last shown (none twice), and neither the log nor the annotation makes an element."""
    with browser.chrome() as session:
        _login(session, cluster.url)
        session.get(f"{cluster.url}/ui/pods/default/{cluster.pods['talker']}")
        first = session.find_element(By.ID, "log").text.splitlines()
        assert first[0] == EVIL and first[1] == "tick-0", first
        WebDriverWait(session, 20).until(lambda s: _text(s, "follow-state") == "following live")
        last = int(first[-1].removeprefix("tick-"))
        target = f"tick-{last + 3}"
        WebDriverWait(session, 30).until(lambda s: target in s.find_element(By.ID, "log").text.splitlines())
        lines = session.find_element(By.ID, "log").text.splitlines()
        assert lines[1:] == [f"tick-{i}" for i in range(len(lines) - 1)], "every tick once, in order"
        assert not browser.alert_shown(session)
        assert session.find_elements(By.CSS_SELECTOR, "main img") == []
        browser.screenshot(session, "pod-log")
        session.get(f"{cluster.url}/ui/k/jobs/default/talker")
        assert EVIL in _text(session) and session.find_elements(By.CSS_SELECTOR, "main img") == []
        assert not browser.alert_shown(session)


def test_the_pages_carry_the_security_headers(cluster: Cluster, docker_nodes: list[dockernodes.DockerNode]) -> None:
    import httpx

    with httpx.Client(verify=False, base_url=cluster.url) as client:
        resp = client.post("/ui/login", data={"token": TOKEN})
        assert resp.status_code == 303
        page = client.get("/ui/k/jobs")
    assert page.status_code == 200
    headers: Any = page.headers
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"


def test_a_pod_named_and_labelled_with_html_shows_as_text_in_the_browser(tmp_path: Path) -> None:
    """A pod record whose name, label and log are HTML (as a store could hold them), in Chromium: the
    text is there, no element is made, no alert fires. The API app without Docker, on a TCP port."""
    from support.apiapp import harness, serve, tcp_port
    from support.apiapp import job_yaml as api_job_yaml

    with harness(tmp_path) as api:
        api.apply(api_job_yaml("xss"))
        job = api.client.get("/apis/batch/v1/namespaces/default/jobs/xss").json()
        api.pod(EVIL, job, labels={"job-name": "xss", "evil": EVIL}, log_tail=f"{EVIL}\n")
        with serve(api.app, host="127.0.0.1", port=0) as server, browser.chrome() as session:
            url = f"http://127.0.0.1:{tcp_port(server)}"
            for path in ("/ui/k/pods", "/ui/k/jobs/default/xss", "/ui/pods/default/" + EVIL.replace(" ", "%20")):
                session.get(url + path)
                assert not browser.alert_shown(session), path
                assert session.find_elements(By.CSS_SELECTOR, "main img") == [], path
                assert EVIL in _text(session), path
            assert _text(session, "log") == EVIL
