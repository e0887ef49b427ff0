"""The seed run replayed with kubectl on both control planes, and what differs between them.

The seed flow (example-repo, Banzai flavour) is driven by the rehearsal's ``Pipeline`` once on
simcluster's embedded API server (``SimCluster``, what ``simcluster serve`` runs) and once on the
real control plane (``RealSimCluster``, what ``simcluster serve --control-plane real`` runs). At
every stage, once its verification passed, the same kubectl commands a user would type are run
against each (``COMMANDS``), and the kubernetes client reads what the verifier reads plus a few
error answers (``client_reads``). What legitimately varies (uids, timestamps, resourceVersions,
IPs, ages, generated name suffixes, node names, commit shas) is normalised away; what is left is a
set of ``Difference`` keys. docs/realcluster-differences.md lists each one with why it does not
matter to the verifier; the test fails on a difference it does not list, and on one it lists that
no longer occurs.

    .venv/bin/python -m tests.realcluster.test_replay_differential [--keep DIR]

prints the differential report (every difference, the stage it was first seen at, and both
sides' normalised answers), for writing the document.

tests/realcluster/test_differential.py compares plain workloads field by field; this one covers
the seed's own objects, kubectl's other output forms, events, logs, exec and error bodies.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from rehearsal.pipeline import Pipeline, simulated_cluster
from rehearsal.repos import make_repos
from tests.polling import wait_for
from tests.realcluster.conftest import _skip_reason, kubectl
from tests.realcluster.test_realserve import PACING, TARGET, seed
from verifier.cluster import (
    APPLICATIONS,
    DEPLOYMENTS,
    ISTIOS,
    MESHGATEWAYS,
    MUTATING_WEBHOOKS,
    NAMESPACES,
    PODS,
    SERVICES,
    Cluster,
)

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

DOC = Path(__file__).resolve().parents[2] / "docs" / "realcluster-differences.md"
SIDES = ("sim", "real")

# ----- what is replayed ----------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One kubectl command a user would type, and how its output is compared (``form``)."""

    name: str
    argv: tuple[str, ...]
    form: str  # table | json | lines | describe | events | text


CURL = "http://app-b.demo-b.svc.cluster.local:80/"
JSONPATH = (
    "jsonpath={range .items[*]}{.metadata.namespace} {.metadata.labels.istio\\.io/rev}"
    " {.spec.containers[*].image}{'\\n'}{end}"
)
COLUMNS = (
    "custom-columns=NS:.metadata.namespace,REV:.metadata.labels.istio\\.io/rev,"
    'PROXY:.spec.containers[?(@.name=="istio-proxy")].image,'
    "STATUS:.metadata.annotations.sidecar\\.istio\\.io/status,PHASE:.status.phase"
)
COMMANDS = (
    Command("get pods -A -o wide", ("get", "pods", "-A", "-o", "wide"), "table"),
    Command("get istio -A", ("get", "istio", "-A"), "table"),
    Command("get mgw -A -o wide", ("get", "mgw", "-A", "-o", "wide"), "table"),
    Command(
        "get deploy,svc,mutatingwebhookconfigurations -A",
        ("get", "deploy,svc,mutatingwebhookconfigurations", "-A"),
        "table",
    ),
    Command("get applications -A", ("get", "applications", "-A"), "table"),
    Command("get pods -A -o json", ("get", "pods", "-A", "-o", "json"), "json"),
    Command("get istio -A -o json", ("get", "istio", "-A", "-o", "json"), "json"),
    Command("get mgw -A -o json", ("get", "mgw", "-A", "-o", "json"), "json"),
    Command(
        "get deploy,svc,mutatingwebhookconfigurations -A -o json",
        ("get", "deploy,svc,mutatingwebhookconfigurations", "-A", "-o", "json"),
        "json",
    ),
    Command(
        "get pods -A -o jsonpath (proxy images)", ("get", "pods", "-A", "-o", JSONPATH), "lines"
    ),
    Command("get pods -A -o custom-columns", ("get", "pods", "-A", "-o", COLUMNS), "table"),
    Command("describe istio", ("describe", "istio", "-n", "istio-system"), "describe"),
    Command("describe pods -n demo-a", ("describe", "pods", "-n", "demo-a"), "describe"),
    Command(
        "describe svc istio-ingressgateway",
        ("describe", "svc", "-n", "istio-system", "istio-ingressgateway"),
        "describe",
    ),
    Command("get events -A", ("get", "events", "-A"), "events"),
    Command(
        "logs deploy/app-a", ("logs", "-n", "demo-a", "deploy/app-a", "-c", "echo-service"), "text"
    ),
    Command(
        "exec curl app-b",
        ("exec", "-n", "demo-a", "deploy/app-a", "-c", "echo-service", "--", "curl", "-sS", CURL),
        "text",
    ),
    Command(
        "get pod (missing) -o json",
        ("get", "pod", "-n", "demo-a", "no-such-pod", "-o", "json"),
        "text",
    ),
    Command("get istio (missing)", ("get", "istio", "-n", "istio-system", "no-such-cr"), "text"),
)

# The kinds the verifier reads, through its own client (verifier.cluster.Cluster).
CLIENT_KINDS = {
    "pod": PODS,
    "namespace": NAMESPACES,
    "service": SERVICES,
    "deployment": DEPLOYMENTS,
    "mutatingwebhookconfiguration": MUTATING_WEBHOOKS,
    "istio": ISTIOS,
    "meshgateway": MESHGATEWAYS,
    "application": APPLICATIONS,
}


@dataclass
class Answer:
    """What one command answered: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


# point (stage) -> command name -> answer; and point -> client read -> JSON
Replayed = dict[str, dict[str, dict[str, Any]]]


def replay(kubeconfig: Path) -> dict[str, Any]:
    """Every command of ``COMMANDS`` against one cluster, as typed."""
    out: dict[str, Any] = {}
    for command in COMMANDS:
        done = kubectl(kubeconfig, *command.argv, check=False)
        out[command.name] = asdict(Answer(done.returncode, done.stdout, done.stderr))
    return out


def client_reads(kubeconfig: Path) -> dict[str, Any]:
    """What the kubernetes client sees: the verifier's lists, a raw list's envelope, and the
    error bodies of a missing object, a conflict, an invalid object and an unserved kind."""
    from kubernetes import client as k8s
    from kubernetes import config as k8sconfig

    out: dict[str, Any] = {}
    with Cluster(kubeconfig) as cluster:
        for kind, resource in CLIENT_KINDS.items():
            out[f"list {kind}"] = cluster.list(resource)
    api = k8sconfig.new_client_from_config(config_file=str(kubeconfig))
    try:
        core: Any = k8s.CoreV1Api(api)  # plain dicts as bodies, a raw response: untyped here
        raw = core.list_namespaced_pod("demo-a", _preload_content=False)
        envelope = json.loads(raw.data)
        envelope["items"] = len(envelope.get("items") or [])
        out["list envelope"] = envelope
        attempts: dict[str, Callable[[], object]] = {
            "404 get pod": lambda: core.read_namespaced_pod("no-such-pod", "demo-a"),
            "409 create namespace": lambda: core.create_namespace({"metadata": {"name": "demo-a"}}),
            "422 create configmap": lambda: core.create_namespaced_config_map(
                "demo-a", {"metadata": {"name": "Not_Valid"}}
            ),
            "404 list unserved kind": lambda: k8s.CustomObjectsApi(api).list_cluster_custom_object(
                "nosuch.example.com", "v1", "things"
            ),
            "400 bad field selector": lambda: core.list_namespaced_pod(
                "demo-a", field_selector="spec.noSuchField=x"
            ),
        }
        for name, attempt in attempts.items():
            try:
                attempt()
            except k8s.ApiException as err:
                try:
                    body: Any = json.loads(str(err.body))
                except (TypeError, ValueError):
                    body = {"(not JSON)": str(err.body).strip()}
                out[f"error {name}"] = {"status": err.status, "reason": err.reason, "body": body}
            else:
                out[f"error {name}"] = {"status": 200}
    finally:
        api.close()
    return out


# ----- the flow ------------------------------------------------------------------------------


def settled_pods(kubeconfig: Path) -> None:
    """Until no pod is terminating, so both sides are looked at in the state the stage left."""

    def terminating() -> list[str]:
        done = kubectl(kubeconfig, "get", "pods", "-A", "-o", "json")
        return [
            p["metadata"]["name"]
            for p in json.loads(done.stdout)["items"]
            if p["metadata"].get("deletionTimestamp")
        ]

    wait_for(terminating, lambda names: not names, what="no pod terminating", timeout=90)


def run_flow(pipeline: Pipeline, record: Callable[[str], None]) -> None:
    """The seed flow as the demo plays it, ``record(stage)`` after each verified stage."""
    verdict = pipeline.verify("stage", "0")
    assert verdict.exit_code == 0, verdict.output
    record("stage-0")
    for _ in range(4):
        stage = pipeline.open_pr()
        gate = pipeline.verify("gate")
        assert gate.exit_code == 0, f"gate of {stage.name}: {gate.output}"
        pipeline.merge()
        pipeline.sync()
        verdict = pipeline.verify("stage", str(stage.index))
        assert verdict.exit_code == 0, f"stage {stage.name}: {verdict.output}"
        record(stage.name)
    stage = pipeline.open_pr()
    assert stage.kind == "cleanup", stage
    pipeline.kubectl(
        "patch", "mgw", "-n", "istio-system", "istio-ingressgateway", "--type=json",
        '-p=[{"op":"remove","path":"/metadata/ownerReferences"}]',
    )  # fmt: skip  # the one manual step the cleanup gate names (rehearsal/demo.py)
    gate = pipeline.verify("gate")
    assert gate.exit_code == 0, gate.output
    pipeline.merge()
    pipeline.sync()
    wait_for(
        lambda: pipeline.kubectl("get", "istio", "-n", "istio-system", "-o", "name").split(),
        lambda names: names == ["istio.istio.banzaicloud.io/istio-sample-v17x"],
        what="only the new CR left",
        timeout=90,
    )
    verdict = pipeline.verify("stage", str(stage.index))
    assert verdict.exit_code == 0, verdict.output
    record("cleanup")


@contextlib.contextmanager
def sim_seed(tmp: Path) -> Iterator[Pipeline]:
    """simcluster's embedded API server with the seed synced, planned, stage 0 applied."""
    repos = make_repos(tmp / "origin", tmp / "work")
    with simulated_cluster(repos.origin, tmp / "sim") as sim:
        pipeline = Pipeline(repos, sim, reports=tmp / "reports", pacing=PACING)
        pipeline.generate("init", "--to-version", TARGET)
        repos.push_main()
        pipeline.sync()
        yield pipeline


def replay_side(side: str, tmp: Path) -> dict[str, dict[str, Any]]:
    """The flow on one side (``sim`` or ``real``), the replay and the client reads at each stage."""
    start = sim_seed if side == "sim" else seed
    seen: dict[str, dict[str, Any]] = {}
    with start(tmp / side) as pipeline:
        kc = pipeline.kubeconfig

        def record(point: str) -> None:
            settled_pods(kc)
            seen[point] = {"kubectl": replay(kc), "client": client_reads(kc)}

        run_flow(pipeline, record)
    return seen


# ----- normalising what legitimately varies --------------------------------------------------

TEXT_NORMALS = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)"), "<time>"),
    (re.compile(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"), "<time>"),
    (re.compile(r"\b[0-9a-f]{40}\b"), "<sha>"),
    (re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"), "<ip>"),
    # Deployment pods and ReplicaSets, StatefulSet revisions: <name>-<hash>[-<suffix>]; the
    # hashes and suffixes have no vowels (Kubernetes' SafeEncodeString), so no word matches
    (re.compile(r"-[b-df-hj-np-tv-z0-9]{8,10}(-[b-df-hj-np-tv-z0-9]{5})?\b"), "-<hash>"),
    # ages: 5s, 3m2s, 2m, 1h5m, 10d, and kubectl's "(3s ago)"
    (re.compile(r"(?<![\w.:/<-])(\d+[smhd]){1,3}(?![\w.:/-])"), "<age>"),
    (re.compile(r"(?<=[: ])3[0-2]\d{3}/"), "<nodeport>/"),  # nodePorts: 80:31234/TCP, 31234/TCP
    (re.compile(r"\bkube-api-access-[a-z0-9]{5}\b"), "kube-api-access-<id>"),
)
NODES = re.compile(r"\b(kwok-node-\d+|simcluster-node|node-\d+)\b")
VARYING_FIELDS = {
    "resourceVersion",
    "nodePort",
    "pod-template-hash",
    "caBundle",
    "Resource Version",
}
# Compared as present or absent only: server-side apply's bookkeeping mirrors every field.
OPAQUE_FIELDS = {"managedFields"}


def norm_text(text: str) -> str:
    for pattern, repl in TEXT_NORMALS:
        text = pattern.sub(repl, text)
    return NODES.sub("<node>", text)


def flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, normalised leaf) pairs; list positions become ``[]``, map keys stay."""
    if isinstance(obj, dict):
        if not obj:
            yield prefix, "{}"
        for key, value in obj.items():
            path = f"{prefix}.{key}" if prefix else key
            if key in VARYING_FIELDS and not isinstance(value, (dict, list)):
                yield path, f"<{key}>"
            elif key in OPAQUE_FIELDS:
                yield path, "<present>"
            else:
                yield from flatten(value, path)
    elif isinstance(obj, list):
        if not obj:
            yield prefix, "[]"
        for value in obj:
            yield from flatten(value, prefix + "[]")
    else:
        yield prefix, norm_text(json.dumps(obj))


# ----- comparing -----------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Difference:
    """One way the two sides differ: where it was seen, about what, and how."""

    channel: str  # "kubectl <command>" or "client"
    subject: str  # a kind, a column, a field of describe, an error
    detail: str  # "only on sim: <path>", "values of <path>", ...


@dataclass
class Found:
    """A difference, the first stage it was seen at, and an example from each side."""

    point: str
    sim: str
    real: str


def compare_objects(
    channel: str, sim: list[Any], real: list[Any], kind_of: Callable[[Any], str]
) -> Iterator[tuple[Difference, str, str]]:
    """Per kind: paths present on one side only, and paths whose set of values differs."""
    by_kind: dict[str, dict[str, dict[str, set[str]]]] = {}
    for side, items in (("sim", sim), ("real", real)):
        for item in items:
            paths = by_kind.setdefault(kind_of(item), {}).setdefault(side, {})
            for path, value in flatten(item):
                paths.setdefault(path, set()).add(value)
    for kind, sides in sorted(by_kind.items()):
        s, r = sides.get("sim", {}), sides.get("real", {})
        if not s or not r:
            only = "sim" if s else "real"
            yield Difference(channel, kind, f"objects only on {only}"), str(len(s)), str(len(r))
            continue
        for path in sorted(s.keys() - r.keys()):
            yield Difference(channel, kind, f"only on sim: {path}"), _short(s[path]), ""
        for path in sorted(r.keys() - s.keys()):
            yield Difference(channel, kind, f"only on real: {path}"), "", _short(r[path])
        for path in sorted(s.keys() & r.keys()):
            if s[path] != r[path]:
                yield (
                    Difference(channel, kind, f"values of {path}"),
                    _short(s[path]),
                    _short(r[path]),
                )


def _short(values: Any, limit: int = 160) -> str:
    text = ", ".join(sorted(values)) if isinstance(values, set) else str(values)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_tables(text: str) -> list[tuple[list[str], list[dict[str, str]]]]:
    """kubectl's tables (several kinds print one per kind, separated by a blank line): the
    column names and each row as column -> cell, cut at the header's column starts."""
    tables = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = block.splitlines()
        if not lines:
            continue
        starts = [m.start() for m in re.finditer(r"(?:(?<=\s\s)|^)\S+(?: \S+)*", lines[0])]
        names = [lines[0][a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows = []
        for line in lines[1:]:
            cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
            rows.append(dict(zip(names, cells, strict=True)))
        tables.append((names, rows))
    return tables


AGES = {"AGE", "LAST SEEN", "LAST SYNC"}


def _keyed(rows: list[dict[str, str]], key_cols: list[str]) -> dict[str, list[dict[str, str]]]:
    """Rows by their normalised key columns (ages blanked), as lists: two pods of one
    Deployment share a key once their names are normalised."""
    out: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        cells = {c: "<age>" if c in AGES else norm_text(v) for c, v in row.items()}
        out.setdefault("/".join(cells[c] for c in key_cols), []).append(cells)
    return out


def compare_tables(channel: str, sim: str, real: str) -> Iterator[tuple[Difference, str, str]]:
    parsed = {"sim": parse_tables(sim), "real": parse_tables(real)}
    headers = {side: [names for names, _ in tables] for side, tables in parsed.items()}
    if headers["sim"] != headers["real"]:
        yield Difference(channel, "columns", "differ"), str(headers["sim"]), str(headers["real"])
        return
    for (names, s_rows), (_, r_rows) in zip(parsed["sim"], parsed["real"], strict=True):
        key_cols = [n for n in names if n in ("NAMESPACE", "NAME", "NS")] or names[:1]
        s, r = _keyed(s_rows, key_cols), _keyed(r_rows, key_cols)
        for key in sorted(s.keys() ^ r.keys()):
            side = "sim" if key in s else "real"
            yield (
                Difference(channel, "rows", f"only on {side}: {key}"),
                str(s.get(key, "")),
                str(r.get(key, "")),
            )
        for key in sorted(s.keys() & r.keys()):
            for name in names:
                sv = sorted(row[name] for row in s[key])
                rv = sorted(row[name] for row in r[key])
                if sv != rv:
                    yield (
                        Difference(channel, f"column {name}", "values differ"),
                        f"{key}: {sv}",
                        f"{key}: {rv}",
                    )


def describe_fields(text: str) -> dict[str, set[str]]:
    """``kubectl describe``'s labelled lines as parent/label -> normalised values."""
    out: dict[str, set[str]] = {}
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = re.match(r"^(\s*)([A-Za-z][\w .()/-]*?):(?:\s+(.*))?$", line)
        if not match:
            continue
        indent, label, value = len(match.group(1)), match.group(2), match.group(3) or ""
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = norm_text("/".join([*(lbl for _, lbl in stack), label]))
        shown = f"<{label}>" if label in VARYING_FIELDS else norm_text(value.strip())
        out.setdefault(path, set()).add(shown)
        stack.append((indent, label))
    return out


def compare_describe(channel: str, sim: str, real: str) -> Iterator[tuple[Difference, str, str]]:
    s, r = describe_fields(sim), describe_fields(real)
    for path in sorted(s.keys() - r.keys()):
        yield Difference(channel, "field", f"only on sim: {path}"), _short(s[path]), ""
    for path in sorted(r.keys() - s.keys()):
        yield Difference(channel, "field", f"only on real: {path}"), "", _short(r[path])
    for path in sorted(s.keys() & r.keys()):
        if s[path] != r[path]:
            yield (
                Difference(channel, "field", f"values of {path}"),
                _short(s[path]),
                _short(r[path]),
            )


def event_reasons(text: str) -> set[str]:
    """``kubectl get events``: each (type, reason, kind of the object) seen."""
    out = set()
    for _, rows in parse_tables(text):
        for row in rows:
            kind = row.get("OBJECT", "").split("/")[0]
            out.add(f"{row.get('TYPE')} {row.get('REASON')} {kind}")
    return out


def compare_answers(
    command: Command, sim: dict[str, Any], real: dict[str, Any]
) -> Iterator[tuple[Difference, str, str]]:
    channel = f"kubectl {command.name}"
    if sim["code"] != real["code"]:
        yield Difference(channel, "exit code", "differs"), str(sim["code"]), str(real["code"])
    s_err, r_err = norm_text(sim["err"]).strip(), norm_text(real["err"]).strip()
    if s_err != r_err:
        yield Difference(channel, "stderr", "differs"), s_err, r_err
    if (sim["code"] or real["code"]) and command.form != "text":
        return  # an error's words are compared above; there is no output to parse
    if command.form == "table":
        yield from compare_tables(channel, sim["out"], real["out"])
    elif command.form == "json":
        items = {
            s: json.loads(a["out"] or "{}").get("items", [])
            for s, a in (("sim", sim), ("real", real))
        }
        yield from compare_objects(
            channel, items["sim"], items["real"], lambda o: str(o.get("kind", "?")).lower()
        )
    elif command.form == "lines":
        s_lines = {norm_text(line) for line in sim["out"].splitlines()}
        r_lines = {norm_text(line) for line in real["out"].splitlines()}
        for line in sorted(s_lines ^ r_lines):
            side = "sim" if line in s_lines else "real"
            yield Difference(channel, "lines", f"only on {side}: {line}"), "", ""
    elif command.form == "describe":
        yield from compare_describe(channel, sim["out"], real["out"])
    elif command.form == "events":
        s_events, r_events = event_reasons(sim["out"]), event_reasons(real["out"])
        for reason in sorted(s_events ^ r_events):
            side = "sim" if reason in s_events else "real"
            yield Difference(channel, "event", f"only on {side}: {reason}"), "", ""
    else:
        s_out, r_out = norm_text(sim["out"]).strip(), norm_text(real["out"]).strip()
        if s_out != r_out:
            yield Difference(channel, "stdout", "differs"), s_out, r_out


def compare_client(
    sim: dict[str, Any], real: dict[str, Any]
) -> Iterator[tuple[Difference, str, str]]:
    for read in sim:
        if read.startswith("list ") and read != "list envelope":
            subject = read.removeprefix("list ")
            pair = (sim[read], real[read])
        else:
            subject, pair = read, ([sim[read]], [real[read]])
        yield from compare_objects("client", *pair, _constant(subject))


def _constant(subject: str) -> Callable[[Any], str]:
    return lambda _obj: subject


def differences(seen: Replayed) -> dict[Difference, Found]:
    """Every difference over the whole run, with the first stage it was seen at."""
    found: dict[Difference, Found] = {}
    for point in seen["sim"]:
        sim, real = seen["sim"][point], seen["real"][point]
        pairs: list[tuple[Difference, str, str]] = []
        for command in COMMANDS:
            pairs += compare_answers(
                command, sim["kubectl"][command.name], real["kubectl"][command.name]
            )
        pairs += compare_client(sim["client"], real["client"])
        for diff, s, r in pairs:
            found.setdefault(diff, Found(point, s, r))
    return found


def report(found: dict[Difference, Found]) -> str:
    lines = [f"{len(found)} differences (sim | real), first seen at:"]
    for diff in sorted(found):
        f = found[diff]
        lines.append(f"- [{diff.channel}] {diff.subject}: {diff.detail}  @{f.point}")
        if f.sim or f.real:
            lines.append(f"    sim:  {f.sim[:400]}")
            lines.append(f"    real: {f.real[:400]}")
    return "\n".join(lines)


# ----- the document and the tests -------------------------------------------------------------


TIMING = "(timing)"  # a "why" that starts so: a race that shows up in most runs, not all


def documented(text: str, *, always: bool = False) -> list[Difference]:
    """The differences docs/realcluster-differences.md lists: its table rows whose first two
    cells hold one or more backquoted `channel`s and `subject`s and whose third is a backquoted
    `detail` (a prefix of the difference's detail); a row stands for each channel and subject
    it names. ``always``: only the rows whose fourth cell does not start with ``(timing)``."""
    out = []
    listed = r"`[^`]+`(, `[^`]+`)*"
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not re.fullmatch(r"`[^`]+`", cells[2]):
            continue
        if not (re.fullmatch(listed, cells[0]) and re.fullmatch(listed, cells[1])):
            continue
        if always and cells[3].startswith(TIMING):
            continue
        out += [
            Difference(channel, subject, cells[2].strip("`"))
            for channel in re.findall(r"`([^`]+)`", cells[0])
            for subject in re.findall(r"`([^`]+)`", cells[1])
        ]
    return out


def covers(doc: Difference, diff: Difference) -> bool:
    return (doc.channel, doc.subject) == (diff.channel, diff.subject) and diff.detail.startswith(
        doc.detail
    )


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("replay")
    return {side: replay_side(side, tmp) for side in SIDES}


@pytest.fixture(scope="module")
def found(seen: Replayed) -> dict[Difference, Found]:
    return differences(seen)


def test_the_replay_saw_every_stage_on_both_sides(seen: Replayed) -> None:
    points = ["stage-0", "control-plane", "gateways", "namespaces-1", "namespaces-2", "cleanup"]
    assert list(seen["sim"]) == list(seen["real"]) == points
    for side in SIDES:  # the user's commands answered on both, where they should
        answers = seen[side]["cleanup"]["kubectl"]
        assert answers["get pods -A -o wide"]["code"] == 0, answers["get pods -A -o wide"]
        assert (
            "URI=spiffe://cluster.local/ns/demo-a/sa/default" in answers["exec curl app-b"]["out"]
        )
        assert answers["get pod (missing) -o json"]["code"] == 1


def test_every_difference_is_a_documented_one(found: dict[Difference, Found]) -> None:
    docs = documented(DOC.read_text())
    unknown = [d for d in sorted(found) if not any(covers(doc, d) for doc in docs)]
    assert not unknown, (
        f"new differences: fix simcluster or explain them in {DOC.name}:\n"
        + report({d: found[d] for d in unknown})
    )


def test_every_documented_difference_still_occurs(found: dict[Difference, Found]) -> None:
    docs = documented(DOC.read_text(), always=True)
    stale = [doc for doc in docs if not any(covers(doc, d) for d in found)]
    assert not stale, f"listed in {DOC.name} but gone; drop them there: {stale}"


def test_a_planted_difference_is_found(seen: Replayed) -> None:
    """The comparison can fail: a column, a field, an event and an exit code changed on one
    side each show up as a difference no document lists."""
    planted = json.loads(json.dumps(seen))
    real = planted["real"]["gateways"]
    wide = real["kubectl"]["get pods -A -o wide"]
    wide["out"] = wide["out"].replace("Running", "Runnin'", 1)
    real["client"]["list pod"][0]["status"]["planted"] = True
    events = real["kubectl"]["get events -A"]
    events["out"] = events["out"].replace("ScalingReplicaSet", "PlantedReplicaSet", 1)
    real["kubectl"]["exec curl app-b"]["code"] = 7
    new = differences(planted).keys() - differences(seen).keys()
    assert {(d.channel, d.subject) for d in new} == {
        ("kubectl get pods -A -o wide", "column STATUS"),
        ("client", "pod"),
        ("kubectl get events -A", "event"),
        ("kubectl exec curl app-b", "exit code"),
    }, new


def main() -> None:
    ap = argparse.ArgumentParser(description="the differential report of the seed's replay")
    ap.add_argument("--dump", type=Path, help="keep both sides' answers in this JSON file")
    ap.add_argument("--load", type=Path, help="start from the sides kept by --dump")
    ap.add_argument("--side", choices=SIDES, action="append", help="run only this side")
    args = ap.parse_args()
    seen: Replayed = json.loads(args.load.read_text()) if args.load else {}
    with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
        for side in args.side or SIDES:
            if side not in seen:
                seen[side] = replay_side(side, Path(tmp))
                if args.dump:
                    args.dump.write_text(json.dumps(seen, indent=1))
    if all(side in seen for side in SIDES):
        print(report(differences(seen)))


if __name__ == "__main__":
    main()
