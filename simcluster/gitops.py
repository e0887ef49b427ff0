"""GitOps sync: apply a branch head like Argo CD (auto-sync, prune, self-heal) or Flux would.

``Syncer.sync_once()`` reads the branch head with real git, finds the Argo CD Applications and
Flux Kustomizations / HelmReleases in the commit (and applies them as objects too), renders each
one's path (``kubectl kustomize`` where a kustomization.yaml is the entry point, otherwise the
YAML files of the directory), and applies the result into the store with kubectl's three-way
merge (``kubectl.kubernetes.io/last-applied-configuration``): fields the repo stopped setting are
removed, fields others set (operators, controllers) are kept. Objects an app applied before and
no longer renders are pruned. Then the commit is recorded as the real controllers do:
Application ``status.sync.revision``, ``status.operationState`` (phase, startedAt, finishedAt,
``syncResult.revision``), ``status.health`` (from the live objects, refreshed as they change),
``status.reconciledAt``; Kustomization ``status.lastAppliedRevision`` /
``lastAttemptedRevision`` (``<branch>@sha1:<sha>``), ``observedGeneration`` and ``Ready``.

Helm sources of the istio-operator chart are not rendered here: the release controller in
``controllers.operator`` installs them (and owns those Applications' status), as Argo CD's own
Helm rendering would. Releases of Istio's ``base``, ``istiod`` and ``gateway`` charts (Argo CD
Helm sources, Flux HelmReleases with the HelmRepository / OCIRepository of the commit) are
rendered here by ``simcluster.charts`` at each sync, so ``valuesFrom`` reads the live ConfigMaps,
and applied like any other source; webhook lists merge by webhook name, and the fields an
Application's ``ignoreDifferences`` names are left as they are live (docs/simcluster-helm.md). Runs on the server's loop thread; git and kustomize run only when the
head commit changes.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import pathlib
import shutil
import subprocess
import tarfile
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from core.argocd import CASCADE_FINALIZERS, cascades
from core.errors import GitError, InputError, UsageError
from core.git import git, git_bytes
from simcluster.apierrors import StoreError
from simcluster.apiobject import deep_copy, now_rfc3339
from simcluster.argodiff import differences, ignored, rules_for
from simcluster.charts.istio import render as render_chart
from simcluster.charts.sources import ChartRelease, argo_release, flux_release, resolve_version
from simcluster.controllers.injection import select_webhook, webhook_ready
from simcluster.controllers.istiod import is_upstream_istiod
from simcluster.controllers.releases import is_operator_chart
from simcluster.errorlog import ErrorLog
from simcluster.faults import Faults
from simcluster.kinds import kind_of, store_key
from simcluster.registry import RELEASED
from simcluster.store import Store
from simcluster.substitution import substitute, variables
from simcluster.syncstatus import DEPENDENCY_ERROR, REQUESTED_AT, SyncStatus, is_tooling

__all__ = ["LAST_APPLIED", "TRACKING_ID", "Source", "Syncer", "three_way_merge"]

Obj = dict[str, Any]
log = logging.getLogger("simcluster.gitops")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
TRACKING_ID = "argocd.argoproj.io/tracking-id"
FLUX_NAME = "kustomize.toolkit.fluxcd.io/name"
FLUX_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"
HELM_NAME = "helm.toolkit.fluxcd.io/name"
HELM_NAMESPACE = "helm.toolkit.fluxcd.io/namespace"
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
# Older versions a Flux installation still serves for its kinds; stored as the served one (the
# CRDs convert with strategy None, so the object is the same).
SERVED_ALIASES = {
    "helm.toolkit.fluxcd.io/v2beta1": "helm.toolkit.fluxcd.io/v2",
    "helm.toolkit.fluxcd.io/v2beta2": "helm.toolkit.fluxcd.io/v2",
    "kustomize.toolkit.fluxcd.io/v1beta2": "kustomize.toolkit.fluxcd.io/v1",
    # and Istio's CRDs serve their config at v1alpha3/v1beta1 beside v1
    "networking.istio.io/v1alpha3": "networking.istio.io/v1",
    "networking.istio.io/v1beta1": "networking.istio.io/v1",
    "security.istio.io/v1beta1": "security.istio.io/v1",
}
_ROOT = ("repo", "", "")
REFRESH = "argocd.argoproj.io/refresh"
# Argo CD deletes a deleted Application's resources only with one of CASCADE_FINALIZERS
# (core/argocd.py); without, it orphans them.
KIND_ORDER = ("Namespace", "ServiceAccount", "ConfigMap", "Secret", "Service")


def three_way_merge(live: Any, last: Any, desired: Any) -> Any:
    """kubectl apply's merge for maps: set what is desired, drop what only ``last`` had."""
    if not isinstance(live, dict) or not isinstance(desired, dict):
        return deep_copy(desired)
    out = deep_copy(live)
    last = last if isinstance(last, dict) else {}
    for key, value in desired.items():
        out[key] = three_way_merge(live.get(key), last.get(key), value)
    for key in last:
        if key not in desired:
            out.pop(key, None)
    return out


@dataclass
class Source:
    """One thing that syncs: an Argo CD Application or a Flux Kustomization."""

    obj: Obj
    desired: list[Obj] = field(default_factory=list)
    error: str = ""
    source_type: str = "Directory"
    helm: bool = False  # a release of one of Istio's charts, rendered by ``charts.istio``
    chart: str = ""  # that chart's name
    revisions: list[str] = field(default_factory=list)  # per source of a multi-source Application
    release: ChartRelease | None = None

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def key(self) -> tuple[str, str, str]:
        meta = self.obj["metadata"]
        return (self.kind, str(meta.get("namespace", "")), str(meta["name"]))


def _run(args: list[str], cwd: pathlib.Path | None = None) -> bytes:
    env = {**os.environ, "KUBECONFIG": os.devnull}
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, check=True, env=env, timeout=60)
    except FileNotFoundError:
        raise UsageError(f"simcluster: {args[0]} is not installed") from None
    except subprocess.CalledProcessError as err:
        message = err.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"{' '.join(args[:3])}: {message[-1] if message else err}") from None
    return done.stdout


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader refusing duplicate mapping keys, as kubectl's and Argo CD's parsers do."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    problem=f'mapping key "{key}" already defined at line '
                    f"{seen[key].start_mark.line + 1}",
                    problem_mark=key_node.start_mark,
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _read(path: pathlib.Path, where: str) -> str:
    """A manifest's text; a file that is not UTF-8 is an error naming it and the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{where}:{line}: not UTF-8 (byte 0x{data[err.start]:02x}); save it as UTF-8"
        ) from None


def _documents(text: str, where: str) -> list[Obj]:
    try:
        docs = list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{where}{line}: not valid YAML: {getattr(err, 'problem', err)}") from None
    out: list[Obj] = []
    for doc in docs:
        if (
            isinstance(doc, dict)
            and doc.get("kind") == "List"
            and isinstance(doc.get("items"), list)
        ):
            out.extend(d for d in doc["items"] if isinstance(d, dict))
        elif isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"):
            out.append(doc)
    return out


class Syncer:
    """Applies a git branch to the store; call ``sync_once`` on the server's loop thread."""

    def __init__(self, repo: str | os.PathLike[str], branch: str, store: Store, faults: Faults):
        self.repo = pathlib.Path(repo)
        self.branch = branch
        self.store = store
        self.faults = faults
        self.applied_sha: str | None = None
        self._rendered_sha: str | None = None
        self._sources: list[Source] = []
        self._scanned: list[Obj] = []
        self._inventory: dict[tuple[str, str, str], set[tuple[str, str, str]]] = {}
        self._tmp = pathlib.Path(tempfile.mkdtemp(prefix="simcluster-sync-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, True)
        self.status = SyncStatus(store, branch)
        self._unsubscribe: Callable[[], None] | None = None
        self._health_pending = False
        self._deferred: set[tuple[str, str, str]] = set()
        self._waited: dict[tuple[str, str, str], int] = {}
        self.errors: list[str] = []
        self._retry_pending = False
        self._refresh_pending = False
        self._failed: set[tuple[str, str, str]] = set()
        self._scan_errors = ErrorLog(log)
        self._chart_repos: list[Obj] = []
        self._repo_objects: dict[tuple[str, str, str], Obj] = {}
        self._root: pathlib.Path | None = None

    def close(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        self._cleanup()

    # -- reading the commit ----------------------------------------------------------------------

    def head(self) -> str:
        """The branch head commit, read with git (not the working tree)."""
        return git("rev-parse", f"refs/heads/{self.branch}", cwd=self.repo, timeout=60).strip()

    def _checkout(self, sha: str) -> pathlib.Path:
        target = self._tmp / sha
        if not target.exists():
            archive = git_bytes("archive", "--format=tar", sha, cwd=self.repo, timeout=60)
            staging = self._tmp / f".{sha}"
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(staging, filter="data")
            staging.rename(target)
            for old in self._tmp.iterdir():
                if old != target and not old.name.startswith("."):
                    shutil.rmtree(old, ignore_errors=True)
        return target.resolve()

    def _scan(self, root: pathlib.Path) -> list[Obj]:
        """Every Application / Flux Kustomization / HelmRelease document in the commit."""
        found = []
        errors: list[str] = []
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".yaml", ".yml") or ".git" in path.parts or not path.is_file():
                continue
            rel = path.relative_to(root)
            try:
                docs = _documents(_read(path, str(rel)), str(rel))
            except InputError as err:
                errors.append(str(err))
                continue
            for doc in docs:
                api = str(doc.get("apiVersion", ""))
                if (doc["kind"] == "Application" and api.startswith("argoproj.io/")) or (
                    doc["kind"] in ("Kustomization", "HelmRelease") and ".toolkit.fluxcd.io/" in api
                ):
                    found.append(doc)
                elif doc["kind"] in ("HelmRepository", "OCIRepository") and api.startswith(
                    "source.toolkit.fluxcd.io/"
                ):
                    self._chart_repos.append(doc)
                elif doc["kind"] in ("ConfigMap", "Secret") and isinstance(
                    doc.get("metadata"), dict
                ):
                    meta = doc["metadata"]
                    key = (
                        str(doc["kind"]),
                        str(meta.get("namespace") or ""),
                        str(meta.get("name")),
                    )
                    self._repo_objects[key] = doc
        self._scan_errors.report(errors)
        return found

    def _render_dir(
        self, root: pathlib.Path, rel: str, *, recurse: bool, flux: bool = False
    ) -> tuple[list[Obj], str]:
        directory = (
            (root / rel.removeprefix("./").lstrip("/")).resolve()
            if rel not in ("", ".", "./")
            else root
        )
        if root not in (directory, *directory.parents) or not directory.is_dir():
            raise InputError(f"path {rel!r} does not exist in the commit")
        for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            if (directory / name).is_file():
                out = _run(["kubectl", "kustomize", str(directory)])
                return _documents(out.decode(), f"{rel}/{name}"), "Kustomize"
        if recurse and flux:
            return self._flux_tree(root, directory), "Directory"
        pattern = "**/*" if recurse else "*"
        docs: list[Obj] = []
        for path in sorted(directory.glob(pattern)):
            if path.suffix in (".yaml", ".yml", ".json") and path.is_file():
                where = str(path.relative_to(root))
                docs.extend(_named(_documents(_read(path, where), where), where))
        return docs, "Directory"

    def _flux_tree(self, root: pathlib.Path, directory: pathlib.Path) -> list[Obj]:
        """kustomize-controller's generated kustomization for a path without one: the manifests
        of the directory, and each subdirectory built with kustomize where it has a
        kustomization.yaml, else walked the same way."""
        docs: list[Obj] = []
        for path in sorted(directory.iterdir()):
            where = str(path.relative_to(root))
            if path.is_dir():
                names = ("kustomization.yaml", "kustomization.yml", "Kustomization")
                if any((path / n).is_file() for n in names):
                    out = _run(["kubectl", "kustomize", str(path)])
                    docs.extend(_named(_documents(out.decode(), where), where))
                elif not path.name.startswith("."):
                    docs.extend(self._flux_tree(root, path))
            elif path.suffix in (".yaml", ".yml", ".json") and path.is_file():
                found = _documents(_read(path, where), where)
                docs.extend(_named([d for d in found if not _kustomize_config(d)], where))
        return docs

    def _render(self, sha: str) -> None:
        root = self._checkout(sha)
        self._root = root
        self._chart_repos = []
        self._repo_objects = {}
        self._scanned = self._scan(root)
        sources: list[Source] = []
        seen: set[tuple[str, str, str]] = set()
        queue = list(self._scanned)
        while queue:
            obj = queue.pop(0)
            source = Source(obj)
            if source.key in seen:
                continue
            seen.add(source.key)
            if is_operator_chart(obj):
                continue  # the release controller installs these
            if obj["kind"] == "HelmRelease" or (
                obj["kind"] == "Application" and self._chart_source(obj)
            ):
                if not self._istio_chart(obj):
                    continue  # a chart simcluster cannot render: left alone
                source.helm, source.source_type = True, "Helm"
                source.chart = _chart_name(obj)
                sources.append(source)
                continue
            try:
                source.desired, source.source_type = self._render_source(root, obj)
            except (InputError, UsageError) as err:
                source.error = str(err)
            for child in source.desired:
                if child.get("kind") == "Application" and str(
                    child.get("apiVersion", "")
                ).startswith("argoproj.io/"):
                    queue.append(child)
            sources.append(source)
        rendered = {
            (str(d["kind"]), str(d["metadata"]["name"])): d
            for s in sources
            if s.kind == "Kustomization"
            for d in s.desired
            if d.get("kind") in ("HelmRelease", "Kustomization") and "${" not in json.dumps(d)
        }
        for source in sources:  # Flux applies what the Kustomization substituted, not the file
            if source.kind == "HelmRelease" and (source.kind, source.key[2]) in rendered:
                source.obj = rendered[(source.kind, source.key[2])]
        self._scanned = [
            rendered.get((str(o["kind"]), str(o["metadata"]["name"])), o)
            if "${" in json.dumps(o)
            else o
            for o in self._scanned
        ]
        self._sources = sources
        self._rendered_sha = sha

    def _render_source(self, root: pathlib.Path, obj: Obj) -> tuple[list[Obj], str]:
        spec = obj.get("spec") or {}
        if obj["kind"] == "Application":
            source = spec.get("source") or (spec.get("sources") or [{}])[0]
            if source.get("chart"):
                raise InputError(
                    f"simcluster renders no Helm chart {source['chart']!r} (only istio-operator)"
                )
            recurse = bool((source.get("directory") or {}).get("recurse"))
            docs, kind = self._render_dir(root, str(source.get("path", ".")), recurse=recurse)
            default_ns = str((spec.get("destination") or {}).get("namespace") or "")
            override = ""
        else:
            docs, kind = self._render_dir(
                root, str(spec.get("path", "./")), recurse=True, flux=True
            )
            if spec.get("postBuild"):
                docs = substitute(docs, variables(obj, self._read_object))
            default_ns = override = str(spec.get("targetNamespace") or "")
        for doc in docs:
            try:
                namespaced = kind_of(doc).namespaced
            except KeyError:
                continue
            meta = doc.setdefault("metadata", {})
            if namespaced and (override or not meta.get("namespace")):
                meta["namespace"] = override or default_ns or "default"
        return docs, kind

    @staticmethod
    def _chart_source(app: Obj) -> bool:
        spec = app.get("spec") or {}
        sources = [spec["source"]] if spec.get("source") else list(spec.get("sources") or [])
        return any(s.get("chart") for s in sources)

    def _read_file(self, rel: str) -> str | None:
        if self._root is None:
            return None
        path = (self._root / rel.removeprefix("./").lstrip("/")).resolve()
        if self._root not in path.parents or not path.is_file():
            return None
        return _read(path, rel)

    def _read_object(self, kind: str, namespace: str, name: str) -> Obj | None:
        """A ConfigMap or Secret as the cluster has it, else as the commit declares it."""
        live = self.store.get(kind, namespace, name)
        if live is not None:
            return live
        return self._repo_objects.get((kind, namespace, name)) or self._repo_objects.get(
            (kind, "", name)
        )

    def _istio_chart(self, obj: Obj) -> bool:
        """Is this Application / HelmRelease a release of one of Istio's charts?"""
        try:
            if obj["kind"] == "Application":
                return argo_release(obj, self._read_file) is not None
            return flux_release(obj, self._chart_repos, None) is not None
        except InputError:
            return True  # it is one; what is wrong with it is reported when it syncs

    def _render_helm(self, source: Source) -> str:
        """Render a chart release from the live object (values from the cluster); "" or why not."""
        live = self.store.get(*self._store_key(source)) or source.obj

        def read_object(kind: str, namespace: str, name: str) -> Obj | None:
            return self.store.get(kind, namespace, name)

        try:
            if source.kind == "Application":
                release = argo_release(live, self._read_file)
            else:
                release = flux_release(live, self._chart_repos, read_object)
        except InputError as err:
            source.desired = []
            return str(err)
        if release is None:
            source.desired = []
            return "not a release of an Istio chart"
        known = RELEASED.get("docker.io/istio/pilot", frozenset())
        version = resolve_version(release.version, known)
        if version not in known:  # Istio publishes a chart with each release, no other
            source.desired = []
            return (
                f"no '{release.chart}' chart with version matching '{release.version}' found "
                f"in {release.repository}"
            )
        release = ChartRelease(
            release.chart,
            version,
            release.release,
            release.namespace,
            release.repository,
            release.values,
        )
        source.release = release
        docs = render_chart(
            release.chart, release.release, release.namespace, version, release.values
        )
        for doc in docs:
            if kind_of(doc).namespaced:
                doc["metadata"].setdefault("namespace", release.namespace)
        source.desired = docs
        return ""

    # -- applying --------------------------------------------------------------------------------

    def sync_once(self) -> str | None:
        """Apply the branch head (unless ``no-sync``); returns the commit now applied."""
        if self._unsubscribe is None:
            self._unsubscribe = self.store.subscribe(self._on_event)
        if self.faults.enabled("no-sync"):
            return self.applied_sha
        try:
            sha = self.head()
        except (InputError, UsageError, GitError) as err:  # branch missing, git absent: serve on
            log.warning("simcluster: cannot read %s@%s: %s", self.repo, self.branch, err)
            self.errors.append(str(err))
            return self.applied_sha
        if sha != self._rendered_sha:
            self._render(sha)
        started = now_rfc3339()
        roots: set[tuple[str, str, str]] = set()
        for obj in self._scanned:
            meta = obj["metadata"]
            meta.setdefault(
                "namespace", "argocd" if obj["kind"] == "Application" else "flux-system"
            )
            self._ensure_namespace(str(meta["namespace"]))
            try:
                self._apply(obj, None)
                roots.add((str(obj["kind"]), str(meta["namespace"]), str(meta["name"])))
            except StoreError as err:
                log.warning("cannot apply %s %s: %s", obj["kind"], meta["name"], err)
        for kind, ns, name in sorted(self._inventory.get(_ROOT, set()) - roots):
            try:  # an Application / Kustomization removed from the repo (app-of-apps prune)
                self.store.delete(kind, ns, name)
            except StoreError:
                pass
            if kind == "HelmRelease":  # helm-controller uninstalls a deleted release
                for ref in sorted(
                    self._inventory.pop((kind, ns, name), set()), key=lambda r: r[0] == "Namespace"
                ):
                    try:
                        self.store.delete(ref[0], ref[1] or None, ref[2])
                    except StoreError:
                        pass
        self._inventory[_ROOT] = roots
        for source in self._sources:
            self._sync_source(source, sha, started)
        self.applied_sha = sha
        return sha

    def _ensure_namespace(self, name: str) -> None:
        if name and self.store.get("Namespace", None, name) is None:
            self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def _tracking(self, source: Source | None, obj: Obj) -> dict[str, str]:
        if source is None:
            return {}
        if source.kind == "Application":
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            meta = obj["metadata"]
            tid = (
                f"{source.key[2]}:{group}/{obj['kind']}:{meta.get('namespace', '')}/{meta['name']}"
            )
            return {TRACKING_ID: tid}
        return {}

    def _apply(self, desired: Obj, source: Source | None) -> str:
        """Create or three-way-merge one object; returns "created", "configured" or "unchanged"."""
        desired = deep_copy(desired)
        served = SERVED_ALIASES.get(str(desired.get("apiVersion", "")))
        if served:
            desired["apiVersion"] = served
        meta = desired.setdefault("metadata", {})
        annotations = meta.setdefault("annotations", {})
        annotations.update(self._tracking(source, desired))
        if source is not None and source.kind == "Kustomization":
            labels = meta.setdefault("labels", {})
            labels[FLUX_NAME] = source.key[2]
            labels[FLUX_NAMESPACE] = source.key[1]
        if source is not None and source.kind == "HelmRelease" and source.release is not None:
            labels = meta.setdefault("labels", {})
            labels[HELM_NAME] = source.key[2]
            labels[HELM_NAMESPACE] = source.key[1]
            annotations["meta.helm.sh/release-name"] = source.release.release
            annotations["meta.helm.sh/release-namespace"] = source.release.namespace
        last_applied = {k: v for k, v in desired.items() if k != "status"}
        annotations[LAST_APPLIED] = (
            json.dumps(last_applied, sort_keys=True, separators=(",", ":")) + "\n"
        )
        live = self.store.get(store_key(desired), meta.get("namespace"), str(meta["name"]))
        if live is None:
            self.store.create(desired)
            return "created"
        try:
            last = json.loads((live["metadata"].get("annotations") or {}).get(LAST_APPLIED, "{}"))
        except json.JSONDecodeError:
            last = {}
        if source is not None and source.kind == "Application" and source.helm:
            self._keep_ignored(source, desired, live)
        merged = deep_copy(live)
        for key, value in desired.items():
            if key in ("status", "apiVersion", "kind"):
                continue
            if key == "webhooks" and desired.get("kind") in WEBHOOK_KINDS:
                merged[key] = _merge_by_name(live.get(key), last.get(key), value)
                continue
            merged[key] = three_way_merge(live.get(key), last.get(key), value)
        for key in last:
            if key not in desired and key not in ("metadata", "status", "apiVersion", "kind"):
                merged.pop(key, None)
        merged["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        updated = self.store.update(merged)
        return (
            "unchanged"
            if updated["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
            else "configured"
        )

    def _keep_ignored(self, source: Source, desired: Obj, live: Obj) -> None:
        """Leave fields the Application's ignoreDifferences covers as they are live."""
        app = self.store.get(*self._store_key(source))
        rules = rules_for(app or source.obj, desired)
        if not rules:
            return
        for ptr in differences(desired, live):
            if ignored(ptr, rules):
                _copy_pointer(live, desired, ptr)

    def _sync_source(self, source: Source, sha: str, started: str) -> None:
        live = self.store.get(*self._store_key(source))
        if live is None:
            return
        if live["metadata"].get("deletionTimestamp"):
            return
        automated = source.kind != "Application" or "automated" in (
            (live.get("spec") or {}).get("syncPolicy") or {}
        )
        suspended = source.kind in ("Kustomization", "HelmRelease") and bool(
            (live.get("spec") or {}).get("suspend")
        )
        results: list[Obj] = []
        changed = False
        errors: list[str] = [source.error] if source.error else []
        if source.helm:
            failure = self._render_helm(source)
            if failure:
                errors.append(failure)
            elif source.kind == "Application" and source.release is not None:
                git_sha = sha
                sha = source.release.version  # Argo CD records a Helm source's chart version
                many = (live.get("spec") or {}).get("sources") or []
                source.revisions = [
                    sha if s.get("chart") else git_sha for s in many if isinstance(s, dict)
                ]
        if automated and not suspended and not errors and self._waits_for_injector(source):
            self._deferred.add(source.key)
            if source.kind == "Application":
                self.status.application(live, source, sha, started, [], [], False, False)
            return
        self._deferred.discard(source.key)
        if automated and not suspended and not errors and source.kind == "HelmRelease":
            errors.extend(self._missing_dependencies(live))
        if automated and not suspended and not errors and source.kind == "HelmRelease":
            errors.extend(self._foreign(source))  # Helm adopts nothing: the release aborts
        if automated and not suspended and not errors:
            ordered = sorted(
                source.desired,
                key=lambda o: (
                    KIND_ORDER.index(o["kind"]) if o["kind"] in KIND_ORDER else len(KIND_ORDER)
                ),
            )
            if (
                source.kind == "HelmRelease"
                and source.release is not None
                and ((live.get("spec") or {}).get("install") or {}).get("createNamespace")
            ):
                self._ensure_namespace(source.release.namespace)
            if source.kind == "Application" and "CreateNamespace=true" in (
                ((live.get("spec") or {}).get("syncPolicy") or {}).get("syncOptions") or []
            ):
                self._ensure_namespace(
                    str(((live.get("spec") or {}).get("destination") or {}).get("namespace") or "")
                )
            applied: set[tuple[str, str, str]] = set()
            for obj in ordered:
                meta = obj["metadata"]
                ref = (store_key(obj), str(meta.get("namespace", "")), str(meta["name"]))
                if is_tooling(obj):
                    message = f"{obj['kind'].lower()}/{meta['name']} unchanged (not simulated)"
                    results.append(self._result(obj, "Synced", message))
                    continue
                try:
                    outcome = self._apply(obj, source)
                    applied.add(ref)
                    message = f"{obj['kind'].lower()}/{meta['name']} {outcome}"
                    changed = changed or outcome != "unchanged"
                    results.append(self._result(obj, "Synced", message))
                except (StoreError, KeyError) as err:
                    text = str(err.args[0]) if err.args else repr(err)
                    errors.append(f"{ref[0]}/{ref[2]}: {text}")
                    results.append(self._result(obj, "SyncFailed", text))
            prune = source.kind in ("Kustomization", "HelmRelease") or bool(
                (((live.get("spec") or {}).get("syncPolicy") or {}).get("automated") or {}).get(
                    "prune"
                )
            )
            previous = self._inventory.get(source.key, set())
            if prune:
                for kind, ns, name in sorted(previous - applied, key=lambda r: r[0] == "Namespace"):
                    if not self._still_ours(source, kind, ns, name):
                        continue  # another Application took it over: Argo CD prunes only its own
                    try:
                        self.store.delete(kind, ns or None, name)
                        changed = True
                    except StoreError:
                        pass
                self._inventory[source.key] = applied
            else:
                self._inventory[source.key] = applied | previous
        if errors and not source.error:
            self._failed.add(source.key)  # retried when a namespace appears, like Argo's retry
        else:
            self._failed.discard(source.key)
        if source.kind == "Application":
            self.status.application(live, source, sha, started, results, errors, changed, automated)
        elif source.kind == "HelmRelease":
            self.status.helmrelease(live, source, errors, suspended)
        else:
            self.status.kustomization(live, source, sha, errors, suspended)

    def _missing_dependencies(self, hr: Obj) -> list[str]:
        """helm-controller's `dependsOn` check: a HelmRelease it depends on that does not exist
        holds the release back, its objects left as they are. Only absence is modelled, not a
        dependency that exists but is not Ready yet."""
        own = str(hr["metadata"].get("namespace") or "default")
        out = []
        for dep in (hr.get("spec") or {}).get("dependsOn") or []:
            if not isinstance(dep, dict) or not dep.get("name"):
                continue
            namespace, name = str(dep.get("namespace") or own), str(dep["name"])
            if self.store.get("HelmRelease", namespace, name) is None:
                cause = f'helmreleases.helm.toolkit.fluxcd.io "{name}" not found'
                out.append(DEPENDENCY_ERROR.format(namespace=namespace, name=name, cause=cause))
        return out

    def _foreign(self, source: Source) -> list[str]:
        """Helm's refusal to install over an object another release (or no release) owns."""
        release = source.release
        if release is None:
            return []
        verb = "update" if source.key in self._inventory else "install"
        out = []
        for obj in source.desired:
            meta = obj["metadata"]
            if is_tooling(obj):
                continue
            live = self.store.get(store_key(obj), meta.get("namespace"), str(meta["name"]))
            if live is None:
                continue
            have = live["metadata"].get("annotations") or {}
            labels = live["metadata"].get("labels") or {}
            where = f'{obj["kind"]} "{meta["name"]}" in namespace "{meta.get("namespace", "")}"'
            problem = ""
            if labels.get("app.kubernetes.io/managed-by") != "Helm":
                problem = 'label validation error: missing key "app.kubernetes.io/managed-by": must be set to "Helm"'
            for key, want in (
                ("meta.helm.sh/release-name", release.release),
                ("meta.helm.sh/release-namespace", release.namespace),
            ):
                if problem:
                    break
                if key not in have:
                    problem = (
                        f'annotation validation error: missing key "{key}": must be set to "{want}"'
                    )
                elif have[key] != want:
                    problem = (
                        f'annotation validation error: key "{key}" must equal "{want}": '
                        f'current value is "{have[key]}"'
                    )
            if problem:
                out.append(
                    f"rendered manifests contain a resource that already exists. Unable to continue "
                    f"with {verb}: {where} exists and cannot be imported into the current release: "
                    f"invalid ownership metadata; {problem}"
                )
        return out[:1]

    def _still_ours(self, source: Source, kind: str, ns: str, name: str) -> bool:
        """Does the live object still carry this Application's tracking id (Argo CD's prune)?"""
        if source.kind != "Application":
            return True
        live = self.store.get(kind, ns or None, name)
        if live is None:
            return False
        tid = str((live["metadata"].get("annotations") or {}).get(TRACKING_ID, ""))
        return not tid or tid.split(":", 1)[0] == source.key[2]

    def converged(self) -> bool:
        """True once no source is held back waiting for its sidecar injector (see below)."""
        return not self._deferred

    def _waits_for_injector(self, source: Source) -> bool:
        """Hold a never-synced source whose workloads would be injected by a CP not yet ready.

        A cluster bootstrapped from one commit would otherwise start its apps before the
        operator made the injector, leaving them without sidecars; this stands in for the sync
        waves a real repo would use. Once a source has synced it is never held back again.
        """
        if source.key in self._inventory:
            return False
        expected = [o for s in self._sources for o in s.desired if o["kind"] == "Istio"]
        live_crs = self.store.list("Istio")[0]
        coming = any(s.helm and s.chart == "istiod" for s in self._sources) or any(
            is_upstream_istiod(d) for d in self.store.list("Deployment", shared=True)[0]
        )
        if not expected and not live_crs and not coming:
            return False  # no control plane on its way: nothing to wait for
        self._waited[source.key] = self._waited.get(source.key, 0) + 1
        if self._waited[source.key] > 100:
            return False  # never hold a source back forever
        labels_of: dict[str, dict[str, str]] = {}
        for obj in source.desired:
            if obj["kind"] == "Namespace":
                labels_of[obj["metadata"]["name"]] = dict(obj["metadata"].get("labels") or {})
        for obj in source.desired:
            if obj["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
                continue
            ns = str(obj["metadata"].get("namespace") or "default")
            labels = labels_of.get(ns)
            if labels is None:
                live = self.store.get("Namespace", None, ns)
                labels = dict(((live or {}).get("metadata") or {}).get("labels") or {})
            template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
            pod_labels = dict(template.get("labels") or {})
            if (
                labels.get("istio-injection") != "enabled"
                and not labels.get("istio.io/rev")
                and pod_labels.get("sidecar.istio.io/inject") != "true"
                and not pod_labels.get("istio.io/rev")
            ) or pod_labels.get("sidecar.istio.io/inject") == "false":
                continue
            probe = {"kind": "Pod", "metadata": {"namespace": ns, "labels": pod_labels}}
            if ns not in labels_of:
                chosen = select_webhook(self.store, probe)
            else:  # the namespace is not created yet: match its desired labels
                chosen = select_webhook(self.store, probe, ns_labels=labels)
            if chosen is None:
                return True
            service = (chosen[1].get("clientConfig") or {}).get("service") or {}
            if not webhook_ready(
                self.store, str(service.get("namespace")), str(service.get("name"))
            ):
                return True
        return False

    def _store_key(self, source: Source) -> tuple[str, str | None, str]:
        kind, ns, name = source.key
        return kind, ns or "default", name

    @staticmethod
    def _result(obj: Obj, status: str, message: str) -> Obj:
        meta = obj["metadata"]
        api = str(obj.get("apiVersion", ""))
        group, _, version = api.rpartition("/")
        return {
            "group": group,
            "version": version,
            "kind": obj["kind"],
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "status": status,
            "message": message,
            "hookPhase": "Running" if status == "Synced" else "Failed",
            "syncPhase": "Sync",
        }

    # -- health follows the live objects ---------------------------------------------------------

    def _on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        wake = (obj.get("kind") == "Endpoints" and self._deferred) or (
            obj.get("kind") in ("Namespace", "ConfigMap", "Secret")
            and event == "ADDED"
            and self._failed
        )
        if wake and not self._retry_pending:
            self._retry_pending = True  # an injector may have become ready: retry held sources
            try:
                asyncio.get_running_loop().call_soon(self._retry_deferred)
            except RuntimeError:
                self._retry_pending = False
        if (
            event != "DELETED"
            and obj.get("kind") == "Application"
            and obj["metadata"].get("deletionTimestamp")
            and cascades(obj["metadata"].get("finalizers"))
            and not is_operator_chart(obj)
        ):
            meta = obj["metadata"]
            loop = asyncio.get_running_loop()
            loop.call_soon(self._cascade, str(meta.get("namespace", "")), str(meta["name"]))
        if event != "DELETED" and self._refresh_requested(obj) and not self._refresh_pending:
            self._refresh_pending = True
            try:
                asyncio.get_running_loop().call_soon(self._refresh, obj["kind"], obj["metadata"])
            except RuntimeError:
                self._refresh_pending = False
        if obj.get("kind") in ("Application", "Kustomization", "Event", "Endpoints"):
            return
        if self._health_pending or not self._sources:
            return
        self._health_pending = True
        try:
            asyncio.get_running_loop().call_soon(self._refresh_health)
        except RuntimeError:
            self._health_pending = False

    def _cascade(self, ns: str, name: str) -> None:
        """Argo CD's resources finalizer: delete what the app applied, then let the app go."""
        app = self.store.get("Application", ns, name)
        if app is None:
            return
        key = ("Application", ns, name)
        for kind, obj_ns, obj_name in sorted(
            self._inventory.pop(key, set()), key=lambda r: r[0] == "Namespace"
        ):
            try:
                self.store.delete(kind, obj_ns or None, obj_name)
            except StoreError:
                pass
        app["metadata"]["finalizers"] = [
            f for f in app["metadata"].get("finalizers") or [] if f not in CASCADE_FINALIZERS
        ]
        self.store.update(app)

    @staticmethod
    def _refresh_requested(obj: Obj) -> bool:
        """Argo CD's refresh annotation, or a Flux reconcile request not handled yet."""
        annotations = obj["metadata"].get("annotations") or {}
        if obj.get("kind") == "Application":
            return bool(annotations.get(REFRESH))
        if obj.get("kind") == "Kustomization":
            requested = annotations.get(REQUESTED_AT)
            return bool(requested) and requested != (obj.get("status") or {}).get(
                "lastHandledReconcileAt"
            )
        return False

    def _refresh(self, kind: str, meta: Obj) -> None:
        """A hard refresh: sync now (unless no-sync), then clear Argo CD's annotation."""
        self._refresh_pending = False
        self.sync_once()
        live = self.store.get(kind, meta.get("namespace"), str(meta["name"]))
        if live is not None and kind == "Application":
            annotations = live["metadata"].get("annotations") or {}
            if annotations.pop(REFRESH, None) is not None:
                self.store.update(live)

    def _retry_deferred(self) -> None:
        """Sync the held-back sources now, so a fresh cluster boots in one settle."""
        self._retry_pending = False
        if self.faults.enabled("no-sync") or self._rendered_sha is None:
            return
        started = now_rfc3339()
        for source in self._sources:
            if source.key in self._deferred or source.key in self._failed:
                self._sync_source(source, self._rendered_sha, started)

    def _refresh_health(self) -> None:
        self._health_pending = False
        for source in self._sources:
            live = self.store.get(*self._store_key(source))
            if live is None:
                continue
            if source.kind == "Application":
                status = deep_copy(live.get("status") or {})
                if status:
                    self.status.health(live, status, source)
            elif source.kind == "HelmRelease":
                if live.get("status") and source.key not in self._failed:
                    self.status.helmrelease(live, source, [], False)
            elif live.get("status") and (live.get("spec") or {}).get("wait"):
                self.status.kustomization(live, source, self.applied_sha or "", [], False)


def _kustomize_config(doc: Obj) -> bool:
    """A kustomize file (kustomization, component), not a Kubernetes object."""
    return str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io/")


def _named(docs: list[Obj], where: str) -> list[Obj]:
    """Manifests must name themselves; one without a name is refused, naming the file."""
    for doc in docs:
        if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
            raise InputError(f"{where}: {doc.get('kind')} has no metadata.name")
    return docs


def _chart_name(obj: Obj) -> str:
    """The chart an Application's Helm source or a HelmRelease names."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Application":
        sources = [spec["source"]] if spec.get("source") else list(spec.get("sources") or [])
        return str(next((s["chart"] for s in sources if s.get("chart")), ""))
    if spec.get("chartRef"):
        return str(spec["chartRef"].get("name", ""))
    return str(((spec.get("chart") or {}).get("spec") or {}).get("chart", ""))


def _merge_by_name(live: Any, last: Any, desired: Any) -> Any:
    """kubectl apply's strategic merge of a webhook list: items matched by ``name``, so fields
    others wrote into a webhook (istiod's caBundle) stay."""
    if not isinstance(live, list) or not isinstance(desired, list):
        return deep_copy(desired)
    live_by = {str(h.get("name")): h for h in live if isinstance(h, dict)}
    last_by = {str(h.get("name")): h for h in last or [] if isinstance(h, dict)}
    return [
        three_way_merge(live_by.get(str(h.get("name"))), last_by.get(str(h.get("name"))), h)
        if isinstance(h, dict)
        else deep_copy(h)
        for h in desired
    ]


def _copy_pointer(src: Obj, dst: Obj, ptr: str) -> None:
    """Set ``dst`` at JSON pointer ``ptr`` to ``src``'s value there (or drop it)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]
    node_s: Any = src
    node_d: Any = dst
    for part in parts[:-1]:
        key: Any = int(part) if isinstance(node_s, list) else part
        try:
            node_s = node_s[key]
            node_d = node_d[key]
        except (KeyError, IndexError, TypeError):
            return
    last: Any = int(parts[-1]) if isinstance(node_s, list) else parts[-1]
    try:
        node_d[last] = deep_copy(node_s[last])
    except (KeyError, IndexError, TypeError):
        if isinstance(node_d, dict):
            node_d.pop(last, None)
