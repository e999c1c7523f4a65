"""A real terminal for tests and benchmarks: a private tmux server, keys in, screen text out.

Private socket (`tmux -L ftui-test-<random> -f /dev/null`), so nothing of the user's tmux is touched and
two runs never meet. The terminal is the common case over SSH: TERM=tmux-256color, no COLORTERM. Waiting
is polling capture-pane until the expected text is on screen, never a fixed sleep.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping


class ScreenTimeout(AssertionError):
    pass


class TmuxTerminal:
    def __init__(self, width: int = 80, height: int = 24) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"ftui-test-{secrets.token_hex(6)}"
        self.width, self.height = width, height
        self._sessions = 0
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "COLORTERM", "TERM_PROGRAM")}
        env["TERM"] = "xterm-256color"  # the outer terminal the server believes it runs in
        # A placeholder session keeps the server up between the sessions that tests start and end.
        self._run("new-session", "-d", "-s", "keepalive", "-x", str(width), "-y", str(height), env=env)
        self._run("set-option", "-g", "default-terminal", "tmux-256color")
        self._run("set-option", "-g", "remain-on-exit", "on")  # keep a crashed app's last screen to report

    def _run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def start(self, command: str, env: Mapping[str, str] | None = None, cwd: str | None = None) -> str:
        """Run `command` in a new session of the terminal's size; returns the session's name."""
        self._sessions += 1
        name = f"s{self._sessions}"
        args = ["new-session", "-d", "-s", name, "-x", str(self.width), "-y", str(self.height)]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        if cwd:
            args += ["-c", cwd]
        self._run(*args, command)
        self.session = name
        return name

    def send(self, *keys: str, literal: bool = False) -> None:
        """tmux key names ("Enter", "Escape", "C-c") or, with literal, text typed as is."""
        for key in keys:
            if literal:
                self._run("send-keys", "-t", self.session, "-l", key)
            else:
                self._run("send-keys", "-t", self.session, key)

    def type(self, text: str) -> None:
        self.send(text, literal=True)

    def screen(self, styled: bool = False, history: int = 0) -> str:
        """The text on screen; with `styled`, with its colour escape sequences (to see what has focus);
        with `history`, that many lines scrolled off the top before it."""
        start = ["-S", str(-history)] if history else []
        return self._run("capture-pane", "-p", *(["-e"] if styled else []), *start, "-t", self.session)

    def wait_for(
        self,
        expected: str | Callable[[str], bool],
        timeout: float = 120.0,
        interval: float = 0.02,
        styled: bool = False,
    ) -> str:
        """Poll the screen until it shows `expected` (a text, or a test of the whole screen)."""
        test = expected if callable(expected) else (lambda screen: expected in screen)
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(styled)
            if test(screen):
                return screen
            if self.dead():
                screen = self.screen()
                if test(screen):
                    return screen
                raise ScreenTimeout(f"the program exited before showing {expected!r}; its screen:\n{screen}")
            time.sleep(interval)
        raise ScreenTimeout(f"{expected!r} did not appear in {timeout} s; the screen:\n{screen}")

    def wait_until_gone(self, text: str, timeout: float = 120.0) -> str:
        return self.wait_for(lambda screen: text not in screen, timeout)

    def pane(self, variable: str) -> str:
        """A tmux format variable of the session's pane, e.g. pane_pid, pane_dead, mouse_any_flag."""
        return self._run("display-message", "-p", "-t", self.session, f"#{{{variable}}}").strip()

    def pid(self) -> int:
        return int(self.pane("pane_pid"))

    def dead(self) -> bool:
        return self.pane("pane_dead") == "1"

    def kill_session(self) -> None:
        self._run("kill-session", "-t", self.session)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)

    def __enter__(self) -> TmuxTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
