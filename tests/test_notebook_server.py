"""``make notebook`` works: a real JupyterLab server starts, lists the kernel the
Makefile registers for the venv, and runs a notebook through it, cell by cell, as
a learner's browser would (over the kernel's websocket). nbmake, elsewhere in
``make test``, runs the notebooks without a server; this proves the server path.

Then a real browser: Debian's ``chromium`` (``make test`` installs it when
missing), driven by Playwright, opens each notebook in JupyterLab and runs all
its cells as a learner would. Screenshots land in ``target/notebook-screenshots/``
(not kept in git) for a reader to look at."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOKEN = uuid.uuid4().hex
KERNEL = "coroscope"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(port: int, path: str, method: str = "GET", body: object = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


# JupyterLab settings for a browser that runs notebooks unattended.
LAB_SETTINGS = {
    # Every cell in the page, not only those scrolled into view, so that every
    # output can be checked (and fits one screenshot).
    "notebook-extension/tracker": {"windowingMode": "none"},
    # The notebooks are the repository's own: a run must not save its outputs.
    "docmanager-extension/plugin": {"autosave": False},
    # No "would you like news?" toast over the pictures.
    "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def lab_settings(folder: pathlib.Path) -> pathlib.Path:
    """A JupyterLab settings folder holding ``LAB_SETTINGS``."""
    for plugin, values in LAB_SETTINGS.items():
        extension, name = plugin.split("/")
        path = folder / "@jupyterlab" / extension / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """JupyterLab on ``notebooks/``, with the kernel registered as the Makefile
    does it (into a private data directory, not the user's)."""
    home = tmp_path_factory.mktemp("jupyter")
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(home), "--name", KERNEL],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "JUPYTER_PATH": str(home / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(lab_settings(home / "lab-settings")),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    port = free_port()
    command = [
        *(sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}"),
        *(f"--IdentityProvider.token={TOKEN}", "--ServerApp.port_retries=0"),
        f"--ServerApp.root_dir={ROOT / 'notebooks'}",
        # As the Makefile does: Jupyter refuses root unless told (CI runs as root).
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                api(port, "status")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    _, err = process.communicate()
                    raise AssertionError(f"JupyterLab did not start:\n{err[-3000:]}") from None
                time.sleep(0.5)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_server_lists_the_kernel_the_makefile_registers(server: int) -> None:
    assert KERNEL in api(server, "kernelspecs")["kernelspecs"]
    listed = {item["name"] for item in api(server, "contents")["content"]}
    assert "01_anatomy_of_await.ipynb" in listed


def execute_request(code: str, session: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "session": session,
            "username": "test",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


async def run_cells(
    port: int, kernel_id: str, cells: list[str]
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each cell's ``execute_reply`` content and what it displayed (the data of
    each result or display, by MIME type), run in order on the kernel."""
    from tornado.websocket import websocket_connect

    url = f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={TOKEN}"
    connection = await websocket_connect(url)
    session, replies = uuid.uuid4().hex, []
    try:
        for code in cells:
            request = execute_request(code, session)
            await connection.write_message(json.dumps(request))
            shown: list[dict[str, Any]] = []
            # The reply comes on the shell channel, what the cell shows on iopub:
            # nothing orders the two, so a cell is over when both the reply and
            # iopub's "idle" for it have come (a loaded machine shows the race).
            reply, idle = None, False
            while reply is None or not idle:
                raw = await asyncio.wait_for(connection.read_message(), 120)
                assert raw is not None, "the kernel's websocket closed"
                message = json.loads(raw)
                if message["parent_header"].get("msg_id") != request["header"]["msg_id"]:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind in ("execute_result", "display_data"):
                    shown.append(content["data"])
                elif kind == "execute_reply":
                    reply = content
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
            replies.append((reply, shown))
    finally:
        connection.close()
    return replies


def test_a_notebook_runs_through_the_server_on_that_kernel(server: int) -> None:
    notebook = json.loads((ROOT / "notebooks" / "01_anatomy_of_await.ipynb").read_text())
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    kernel = api(server, "kernels", "POST", {"name": KERNEL})
    try:
        replies = asyncio.run(run_cells(server, kernel["id"], cells))
    finally:
        api(server, f"kernels/{kernel['id']}", "DELETE")
    failed = [
        (i, r.get("ename"), r.get("evalue"))
        for i, (r, _) in enumerate(replies)
        if r["status"] != "ok"
    ]
    assert not failed
    assert len(replies) == len(cells)
    shown = {code: data for code, (_, data) in zip(cells, replies, strict=True)}
    # trace(...) renders as a step table, and a recorded timeline plots.
    (table,) = shown["trace(brew(2))"]
    assert table["text/html"].startswith("<table><caption>&lt;Trace: 3 steps")
    timeline = next(data for code, data in shown.items() if "tl.plot(" in code)
    assert any("image/png" in data for data in timeline)
    # ...and shows in the browser as a picture whose lanes are the tasks' names,
    # each step telling its record on hover.
    (picture,) = next(
        data for code, data in shown.items() if 'name="a"' in code or '("a", 3)' in code
    )
    html = picture["text/html"]
    assert html.startswith("<svg") and all(f">{lane} · worker<" in html for lane in "abc")
    picture, zoomed = html.split("</svg>")[:2]  # the picture, then its zoom (four times wider)
    assert picture.count("<rect ") == zoomed.count("<rect ") == 9 and "woken by: " in html
    assert 'width="3040"' in zoomed


# Where the browser test leaves its screenshots (target/ is not kept in git).
SCREENSHOTS = ROOT / "target" / "notebook-screenshots"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
# The longest Run All may take (each runs in 0.5-20 s): longer is a hang.
RUN_ALL_LIMIT_MS = 240_000

# JupyterLab asks which kernel to start; the notebook is shown, its kernel idle.
ASKS = "document.querySelector('.jp-Dialog') !== null"
READY = (
    "(document.querySelector('.jp-Notebook .jp-CodeCell') !== null"
    " && /\\| Idle/.test(document.querySelector('#jp-main-statusbar').innerText))"
)

# What the page shows once every code cell ran (a prompt like "[7]:" on each),
# or once one failed (Run All stops there, and its traceback is on stderr).
ALL_RAN = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
    const failed = document.querySelector(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
    return failed !== null
        || prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
}"""

# What the learner sees in the outputs, read off the page.
SEEN = """() => {
    const outputs = [...document.querySelectorAll('.jp-OutputArea-output')];
    const size = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
    return {
        outputs: outputs.length,
        stderr: outputs.filter(o => o.dataset.mimeType === 'application/vnd.jupyter.stderr')
            .map(o => o.textContent.slice(0, 500)),
        images: outputs.flatMap(o => [...o.querySelectorAll('img')])
            .map(i => [i.naturalWidth, i.naturalHeight]),
        svgs: outputs.flatMap(o => [...o.querySelectorAll(':scope > svg, :scope > div > svg')])
            .map(size),
        tables: outputs.flatMap(o => [...o.querySelectorAll('table')]).map(t => t.rows.length),
        // The notebook's own scroller: the page must grow by this to show it all.
        height: document.querySelector('.jp-WindowedPanel-outer').scrollHeight,
    };
}"""

# Scroll the notebook back to its top, and let the page draw once more.
TO_THE_TOP = """() => new Promise(drawn => {
    document.querySelector('.jp-WindowedPanel-outer').scrollTo(0, 0);
    requestAnimationFrame(() => requestAnimationFrame(() => drawn(true)));
})"""


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    return path


@pytest.mark.once
@pytest.mark.timeout(RUN_ALL_LIMIT_MS // 1000 + 240)
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_runs_all_in_a_real_browser_and_every_picture_shows(
    server: int, notebook: str
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox will not start.
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / f"{notebook.removesuffix('.ipynb')}.png"
            # A workspace of its own, so the notebooks opened before are not.
            lab = f"http://127.0.0.1:{server}/lab/workspaces/{shot.stem}"
            page.goto(f"{lab}/tree/{notebook}?token={TOKEN}")
            # The notebook is shown and its kernel idle (or JupyterLab asks
            # which kernel to start: its own choice is ours).
            page.wait_for_function(f"() => {ASKS} || {READY}", timeout=120_000, polling=200)
            if page.locator(".jp-Dialog").count():
                page.click(".jp-Dialog button.jp-mod-accept")
            page.wait_for_function(f"() => {READY}", timeout=120_000, polling=200)
            page.click("li.lm-MenuBar-item:has-text('Run')")
            page.click("li.lm-Menu-item:has-text('Run All Cells')")
            try:
                page.wait_for_function(ALL_RAN, timeout=RUN_ALL_LIMIT_MS, polling=500)
            except sync_api.TimeoutError:
                page.screenshot(path=shot)  # what the page was doing instead
                raise
            page.wait_for_function(f"() => {READY}", timeout=RUN_ALL_LIMIT_MS, polling=200)
            seen = page.evaluate(SEEN)
            # The whole notebook in one picture: a page as tall as it, from its top.
            page.set_viewport_size({"width": 1400, "height": int(seen["height"]) + 200})
            page.evaluate(TO_THE_TOP)
            page.screenshot(path=shot)
        finally:
            browser.close()
    assert seen["stderr"] == []  # no traceback, no warning
    # Every picture drawn: a PNG that decoded, an SVG with a size, tables with rows.
    assert seen["outputs"] > 0
    assert all(w > 0 and h > 0 for w, h in seen["images"]), seen["images"]
    assert all(w > 0 and h > 0 for w, h in seen["svgs"]), seen["svgs"]
    assert all(rows > 1 for rows in seen["tables"]), seen["tables"]
