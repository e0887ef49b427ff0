"""Reports of a verdict: a text table for terminals, and JSON, JUnit XML and Markdown for CI.

`to_data` is the stable JSON schema (`schemaVersion: 1`); every other format renders from it, so
all formats say the same thing. Markdown carries a connectivity matrix of ✅/❌ for PR comments
and `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from core.errors import InputError, UsageError
from verifier.gate import Result

__all__ = ["FORMATS", "check_writable", "render", "to_data", "write_report"]

FORMATS = ("text", "json", "junit", "markdown")
SCHEMA_VERSION = 1
_ICON = {"passed": "✔", "pending": "…", "failed": "✘"}


def to_data(result: Result) -> dict[str, Any]:
    v = result.verdict
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": "istio-canary-verify",
        "command": result.request.command,
        "checked": result.checked,
        "plan": {
            "from": result.plan.source.revision,
            "to": result.plan.target.revision,
            "appliedStage": result.plan.applied_index,
            "stages": result.plan.total,
        },
        "outcome": v.outcome.name.lower(),
        "exitCode": v.exit_code,
        "reason": v.reason,
        "evaluations": v.evaluations,
        "consecutivePasses": v.consecutive,
        "startedAt": v.started.isoformat(),
        "finishedAt": v.finished.isoformat(),
        "error": v.last.error,
        "notes": list(result.notes),
        "checks": [
            {
                "name": r.name,
                "status": r.status.value,
                "message": r.message,
                "unverifiable": r.unverifiable,
                "evidence": [dict(e) for e in r.evidence],
            }
            for r in v.last.results
        ],
    }


def render(result: Result, fmt: str) -> str:
    data = to_data(result)
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False) + "\n"
    if fmt == "junit":
        return _junit(data)
    if fmt == "markdown":
        return _markdown(data)
    return _text(data)


def _verdict_line(data: Mapping[str, Any]) -> str:
    return f"{data['outcome'].upper()} (exit {data['exitCode']}): {data['reason']}"


def _text(data: Mapping[str, Any]) -> str:
    rows = [(c["name"], c["status"].upper(), c["message"]) for c in data["checks"]]
    width = max([len(r[0]) for r in rows] + [5])
    lines = [f"istio-canary-verify {data['command']}: {data['checked']}"]
    lines += [
        f"  {_ICON[c['status']]} {name:<{width}}  {status:<7}  {msg}"
        for c, (name, status, msg) in zip(data["checks"], rows, strict=True)
    ]
    if data["error"]:
        lines.append(f"  ! cluster: {data['error']}")
    lines += [f"  note: {n}" for n in data["notes"]]
    lines.append(_verdict_line(data))
    return "\n".join(lines) + "\n"


def _junit(data: Mapping[str, Any]) -> str:
    checks: Sequence[Mapping[str, Any]] = data["checks"]
    suite = ET.Element(
        "testsuite",
        name=f"istio-canary-verify {data['command']}",
        tests=str(max(len(checks), 1)),
        failures=str(sum(c["status"] != "passed" for c in checks)),
        errors="1" if data["error"] else "0",
        timestamp=data["startedAt"],
    )
    props = ET.SubElement(suite, "properties")
    for key in ("checked", "outcome", "reason"):
        ET.SubElement(props, "property", name=key, value=str(data[key]))
    if not checks:
        case = ET.SubElement(suite, "testcase", classname="istio-canary", name="cluster")
        ET.SubElement(case, "error", message=data["error"] or data["reason"])
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname="istio-canary", name=c["name"])
        if c["status"] != "passed":
            tag = "error" if c["unverifiable"] else "failure"
            node = ET.SubElement(case, tag, message=c["message"], type=c["status"])
            node.text = json.dumps(c["evidence"], indent=1)
        else:
            ET.SubElement(case, "system-out").text = c["message"]
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _markdown(data: Mapping[str, Any]) -> str:
    icon = {"passed": "✅", "pending": "⏳", "failed": "❌"}
    out = [
        f"### istio-canary-verify {data['command']}: {icon.get(data['outcome'], '❌')} {data['outcome']}",
        "",
        f"Checked: {data['checked']} (plan {data['plan']['from']} → {data['plan']['to']})",
        "",
        f"**{_verdict_line(data)}**",
        "",
        "| check | status | detail |",
        "|---|---|---|",
    ]
    for c in data["checks"]:
        out.append(f"| {c['name']} | {icon[c['status']]} {c['status']} | {_cell(c['message'])} |")
    if data["error"]:
        out += ["", f"Cluster: {_cell(data['error'])}"]
    probes: list[Mapping[str, Any]] = next(
        (c["evidence"] for c in data["checks"] if c["name"] == "connectivity"), []
    )
    if probes:
        sources = sorted({p["source"] for p in probes})
        targets = sorted({p["target"] for p in probes})
        cell = {(p["source"], p["target"]): p for p in probes}
        out += ["", "#### Connectivity (source → target)", ""]
        out.append("| from \\ to | " + " | ".join(targets) + " |")
        out.append("|---" * (len(targets) + 1) + "|")
        for s in sources:
            row = []
            for t in targets:
                p = cell.get((s, t))
                if p is None:
                    row.append("")
                    continue
                mark = "✅" if p["status"] == "passed" else "❌"
                mtls = " mTLS" if p.get("mtls") else ""
                row.append(f"{mark} {p.get('httpCode') or '-'}{mtls}")
            out.append(f"| {s} | " + " | ".join(row) + " |")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def check_writable(path: Path) -> None:
    """Refuse a --report destination before polling for minutes, not after."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--report {path}: directory {parent} does not exist")
    if path.is_dir():
        raise UsageError(f"--report {path}: is a directory")
    if not os.access(path if path.exists() else parent, os.W_OK):
        raise UsageError(f"--report {path}: not writable")


def write_report(path: Path, text: str) -> None:
    """Write the report file; a failure now (disk full, removed directory) is one line."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"--report {path}: cannot write ({e.strerror or e})") from e
