"""`strongroom gui`: opens the window on the display, quits on Escape, and says so in one line without one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from tests.gui.harness import PATIENCE, free_port


def strongroom(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "api.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_strongroom_gui_opens_the_login_window_and_escape_quits(xvfb: str) -> None:
    api = f"http://127.0.0.1:{free_port()}"
    process = strongroom("gui", "--api", api, env={**os.environ, "DISPLAY": xvfb})
    xdotool = shutil.which("xdotool") or "xdotool"
    deadline = time.monotonic() + PATIENCE
    found = subprocess.CompletedProcess([], 1, "", "")
    while found.returncode != 0 and time.monotonic() < deadline and process.poll() is None:
        found = subprocess.run([xdotool, "search", "--name", "^Strongroom.*log in$"], capture_output=True, text=True,
                               env={**os.environ, "DISPLAY": xvfb})
        time.sleep(0.05)
    window = found.stdout.split()[0] if found.returncode == 0 else ""
    shown = subprocess.run([xdotool, "getwindowname", window], capture_output=True, text=True,
                           env={**os.environ, "DISPLAY": xvfb}).stdout.strip() if window else ""

    subprocess.run([xdotool, "key", "--window", window, "Escape"], env={**os.environ, "DISPLAY": xvfb}, check=False)
    try:
        code = process.wait(PATIENCE)
    finally:
        process.kill()

    assert shown == "Strongroom — log in"
    assert code == 0


def test_without_a_display_strongroom_gui_fails_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}

    process = strongroom("gui", env=env)
    _, stderr = process.communicate(timeout=PATIENCE)

    assert process.returncode == 1
    assert stderr.strip().count("\n") == 0
    assert "cannot open a window" in stderr and "DISPLAY" in stderr
