"""The live progress view: redrawn in place on a TTY, change-only timestamped lines in CI logs."""

from __future__ import annotations

import io

from verifier.progress import Progress
from verifier.result import CheckResult
from verifier.runner import Evaluation

WAIT = Evaluation(
    [
        CheckResult.passed("gateways", "kept"),
        CheckResult.pending("data-plane", "demo-a/app-a not Ready"),
    ]
)
DONE = Evaluation(
    [CheckResult.passed("gateways", "kept"), CheckResult.passed("data-plane", "2 proxies")]
)


def test_log_lines_repeat_only_what_changed() -> None:
    out = io.StringIO()
    progress = Progress(out, successes=2, tty=False)
    progress("stage 3/5 namespaces-1", WAIT, 0)
    progress("stage 3/5 namespaces-1", WAIT, 0)
    progress("stage 3/5 namespaces-1", DONE, 1)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(
        "evaluation 1: pending (0/2 consecutive passes) - stage 3/5 namespaces-1"
    )
    assert sum("data-plane: pending: demo-a/app-a not Ready" in ln for ln in lines) == 1
    assert sum("gateways:" in ln for ln in lines) == 1
    assert lines[-1].endswith("data-plane: passed: 2 proxies")
    assert all(ln[:4].isdigit() and ln[10] == "T" for ln in lines)  # timestamped


def test_tty_view_is_redrawn_in_place() -> None:
    out = io.StringIO()
    progress = Progress(out, successes=2, tty=True)
    progress("gate", WAIT, 0)
    first = out.getvalue()
    assert "\x1b[" not in first and "… data-plane: demo-a/app-a not Ready" in first
    progress("gate", DONE, 1)
    redraw = out.getvalue()[len(first) :]
    assert redraw.startswith("\x1b[3F\x1b[J")  # up over the 3 lines drawn, clear, draw again
    assert "✔ data-plane: 2 proxies" in redraw
