"""Headless Chromium for the report tests: load a page, evaluate an expression in it, return what it saw.

The browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: file
descriptors 3 and 4 of the browser; no port, no network). The expression is evaluated by DevTools
after the page's load event, so it also runs when the page's own scripts are disabled
(``scripts=False``: ``--blink-settings=scriptEnabled=false``).
"""

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def chromium() -> str:
    """The Chromium binary; skip (fail under CI) without one."""
    path = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (/usr/bin/chromium missing): apt-get install chromium")
    return path


class _Pipe:
    """The DevTools protocol over the browser's pipe: JSON messages, each ended by a NUL byte."""

    def __init__(self, send_fd: int, receive_fd: int, log: Path):
        self.out, self.into, self.log, self.buffer, self.count = send_fd, receive_fd, log, b"", 0

    def call(self, method: str, session: str | None = None, **params: Any) -> dict:
        self.count += 1
        message = {"id": self.count, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self.out, json.dumps(message).encode() + b"\0")
        answer = self.wait(lambda m: m.get("id") == self.count)
        assert "error" not in answer, f"{method}: {answer['error']}"
        return answer["result"]

    def wait(self, wanted) -> dict:
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return message
            chunk = os.read(self.into, 1 << 16)
            if not chunk:
                raise AssertionError(f"chromium closed its pipe; it printed:\n{self.log.read_text()[-3000:]}")
            self.buffer += chunk


def look(page: Path, expression: str, tmp_path: Path, *, size=(1280, 800), scripts: bool = True) -> Any:
    """The value of the JavaScript ``expression`` on ``page`` in headless Chromium at ``size``, after its load event.

    ``scripts=False`` disables the page's JavaScript (DevTools still evaluates ``expression``).
    One browser per call.
    """
    commands_read, commands_write = os.pipe()  # the browser reads commands on its fd 3
    answers_read, answers_write = os.pipe()  # and writes answers and events on its fd 4

    def to_3_and_4():
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, answers_write)]  # out of the way
        for fd, target in zip(high, (3, 4)):
            os.dup2(fd, target)  # inheritable
            os.close(fd)

    log = tmp_path / f"chromium-{page.stem}.log"
    flags = [*FLAGS, f"--window-size={size[0]},{size[1]}", f"--user-data-dir={tmp_path / 'profile'}"]
    flags += [] if scripts else ["--blink-settings=scriptEnabled=false"]
    with log.open("w") as err:
        browser = subprocess.Popen(
            [chromium(), *flags, "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            close_fds=False,  # fds 3 and 4, set up by to_3_and_4; Python's own fds are not inheritable
            preexec_fn=to_3_and_4,
        )
    os.close(commands_read)
    os.close(answers_write)
    pipe = _Pipe(commands_write, answers_read, log)
    try:
        target = next(t for t in pipe.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        session = pipe.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        pipe.call("Page.enable", session)
        pipe.call("Page.navigate", session, url=page.resolve().as_uri())
        pipe.wait(lambda m: m.get("method") == "Page.loadEventFired")
        result = pipe.call("Runtime.evaluate", session, expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        pipe.call("Browser.close")
        return result["result"].get("value")
    finally:
        os.close(commands_write)
        os.close(answers_read)
        browser.wait()
