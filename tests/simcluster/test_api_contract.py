"""The API server's wire contract, driven by the real ``kubernetes`` client over real HTTP.

One bare cluster (no controllers, a scripted exec hook) per module; every test works in its own
namespace so tests stay independent. What each test asserts is what a real apiserver answers.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from simcluster.harness import SimCluster
from simcluster.store import Store
from tests.polling import PollTimeout, wait_for
from tests.simcluster.scripted import scripted_exec

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimCluster]:
    with SimCluster(
        workdir=tmp_path_factory.mktemp("sim"),
        controllers=False,
        exec_handler=scripted_exec,
        bookmark_interval=0.2,
    ) as cluster:
        yield cluster


@pytest.fixture
def api(sim: SimCluster) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(sim.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


_COUNTER = itertools.count(1)


@pytest.fixture
def ns(core: client.CoreV1Api, request: pytest.FixtureRequest) -> str:
    """A fresh namespace named after the test (sanitised, numbered: parametrised ids repeat)."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.lower().removeprefix("test_"))
    name = f"{base[:50].strip('-')}-{next(_COUNTER)}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def status_of(err: ApiException) -> Obj:
    body: Obj = json.loads(err.body)
    return body


def raw(sim: SimCluster, path: str, accept: str = "application/json") -> tuple[str, Any]:
    """GET a path with urllib (for wire details the typed client hides)."""
    req = urllib.request.Request(sim.url + path, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Content-Type"], json.loads(resp.read())


def pod(name: str, labels: dict[str, str] | None = None, containers: int = 1) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "containers": [{"name": f"c{i}", "image": "busybox:1.36"} for i in range(containers)]
        },
    }


def deployment(name: str, *, containers: list[Obj] | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers or [{"name": "app", "image": "nginx:1.25"}]},
            },
        },
    }


def istio(name: str, version: str = "1.7.8") -> Obj:
    return {
        "apiVersion": "istio.banzaicloud.io/v1beta1",
        "kind": "Istio",
        "metadata": {"name": name},
        "spec": {"version": version, "autoInjectionNamespaces": ["demo-a"]},
    }


ISTIO = ("istio.banzaicloud.io", "v1beta1")


# -- discovery and version ------------------------------------------------------------------------


def test_version_is_1_32_so_the_kubectl_dispatcher_runs_its_builtin(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert (info.major, info.minor) == ("1", "32")
    assert info.git_version.startswith("v1.32.")


def test_discovery_legacy_lists_every_group_and_resource(api: client.ApiClient) -> None:
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    for group in ("apps", "istio.banzaicloud.io", "argoproj.io", "kustomize.toolkit.fluxcd.io"):
        assert group in groups
    assert groups["helm.toolkit.fluxcd.io"].preferred_version.group_version == (
        "helm.toolkit.fluxcd.io/v2"
    )
    resources = {
        r.name: r for r in client.CustomObjectsApi(api).get_api_resources(*ISTIO).resources
    }
    assert resources["meshgateways"].short_names == ["mgw"]
    assert resources["meshgateways"].namespaced is True
    assert "meshgateways/status" in resources
    core = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert core["namespaces"].namespaced is False
    assert "pods/exec" in core


@pytest.mark.parametrize("version", ["v2", "v2beta1"])
def test_aggregated_discovery_answers_the_version_asked_for(sim: SimCluster, version: str) -> None:
    accept = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList,application/json"
    content_type, body = raw(sim, "/apis", accept)
    assert f"v={version}" in content_type and "as=APIGroupDiscoveryList" in content_type
    assert body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    by_group = {g["metadata"]["name"]: g for g in body["items"]}
    mgw = next(
        r
        for r in by_group["istio.banzaicloud.io"]["versions"][0]["resources"]
        if r["resource"] == "meshgateways"
    )
    assert mgw["responseKind"] == {
        "group": "istio.banzaicloud.io",
        "version": "v1beta1",
        "kind": "MeshGateway",
    }
    assert mgw["scope"] == "Namespaced"
    _ct, core = raw(sim, "/api", accept)
    pods = next(r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
    assert pods["shortNames"] == ["po"] and "all" in pods["categories"]


def test_unknown_paths_answer_a_status_404(sim: SimCluster) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        raw(sim, "/apis/istio.banzaicloud.io/v1beta1/nothings")
    assert err.value.code == 404
    assert json.loads(err.value.read())["reason"] == "NotFound"


# -- create / get / update / errors ---------------------------------------------------------------


def test_create_fills_uid_rv_timestamp_and_server_defaults(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_pod(ns, pod("p1"))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.status.phase == "Pending"
    assert created.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert created.spec.restart_policy == "Always"
    assert created.spec.service_account_name == "default"
    fetched = core.read_namespaced_pod("p1", ns)
    assert fetched.metadata.uid == created.metadata.uid
    svc = core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
        },
    )
    assert svc.spec.cluster_ip.startswith("10.96.") and svc.spec.ports[0].target_port == 80


def test_generate_name_gets_a_random_suffix(core: client.CoreV1Api, ns: str) -> None:
    body = {"metadata": {"generateName": "cm-"}, "data": {}}
    a = core.create_namespaced_config_map(ns, body)
    b = core.create_namespaced_config_map(ns, body)
    assert a.metadata.name.startswith("cm-") and len(a.metadata.name) == 8
    assert a.metadata.name != b.metadata.name


def test_missing_object_is_a_404_status_naming_it(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("nope", ns)
    assert err.value.status == 404
    body = status_of(err.value)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "pods"}


def test_create_twice_is_409_already_exists(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    assert err.value.status == 409
    assert status_of(err.value)["reason"] == "AlreadyExists"


def test_create_in_a_missing_namespace_is_404(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "c"}})
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'namespaces "no-such-ns" not found'


def test_invalid_objects_are_422_with_field_causes(
    core: client.CoreV1Api, apps: client.AppsV1Api, ns: str
) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "Bad_Name"}})
    body = status_of(err.value)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["kind"] == "ConfigMap"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    bad = deployment("web")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(ns, bad)
    assert err.value.status == 422
    assert "`selector` does not match template `labels`" in status_of(err.value)["message"]


def test_stale_resource_version_is_409_conflict(core: client.CoreV1Api, ns: str) -> None:
    first = core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    first.data = {"a": "2"}
    second = core.replace_namespaced_config_map("c", ns, first)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    first.data = {"a": "3"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("c", ns, first)
    assert err.value.status == 409
    assert status_of(err.value)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(err.value)["message"]


def test_noop_update_keeps_the_resource_version(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    again = core.replace_namespaced_config_map("c", ns, created)
    assert again.metadata.resource_version == created.metadata.resource_version
    patched = core.patch_namespaced_config_map("c", ns, {"data": {"a": "1"}})
    assert patched.metadata.resource_version == created.metadata.resource_version


def test_generation_counts_spec_changes_only(custom: client.CustomObjectsApi, ns: str) -> None:
    cr = custom.create_namespaced_custom_object(*ISTIO, ns, "istios", istio("cp"))
    assert cr["metadata"]["generation"] == 1
    labelled = custom.patch_namespaced_custom_object(
        *ISTIO, ns, "istios", "cp", {"metadata": {"labels": {"team": "mesh"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    status = custom.patch_namespaced_custom_object_status(
        *ISTIO, ns, "istios", "cp", {"status": {"Status": "Available"}}
    )
    assert status["metadata"]["generation"] == 1 and status["status"]["Status"] == "Available"
    bumped = custom.patch_namespaced_custom_object(
        *ISTIO, ns, "istios", "cp", {"spec": {"version": "1.7.9"}}
    )
    assert bumped["metadata"]["generation"] == 2
    assert bumped["status"] == {"Status": "Available"}


def test_main_update_ignores_status_and_status_update_ignores_spec(
    apps: client.AppsV1Api, ns: str
) -> None:
    created = apps.create_namespaced_deployment(ns, deployment("web"))
    created.status = client.V1DeploymentStatus(replicas=5)
    after_main = apps.replace_namespaced_deployment("web", ns, created)
    assert after_main.status is None or after_main.status.replicas is None
    after_main.status = client.V1DeploymentStatus(replicas=1, observed_generation=1)
    after_main.spec.replicas = 7
    after_status = apps.replace_namespaced_deployment_status("web", ns, after_main)
    assert after_status.status.replicas == 1 and after_status.spec.replicas == 1
    assert after_status.metadata.generation == 1


def test_custom_resource_put_needs_a_resource_version(
    custom: client.CustomObjectsApi, ns: str
) -> None:
    custom.create_namespaced_custom_object(*ISTIO, ns, "istios", istio("cp"))
    body = istio("cp")
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(*ISTIO, ns, "istios", "cp", body)
    assert err.value.status == 422
    assert "must be specified for an update" in status_of(err.value)["message"]


# -- selectors and pagination ---------------------------------------------------------------------


@pytest.fixture
def labelled_pods(core: client.CoreV1Api, ns: str) -> str:
    for name, labels in {
        "a": {"app": "echo", "istio.io/rev": "1-6"},
        "b": {"app": "echo", "istio.io/rev": "1-7"},
        "c": {"app": "other"},
        "d": {},
    }.items():
        core.create_namespaced_pod(ns, pod(name, labels))
    return ns


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("app=echo", {"a", "b"}),
        ("app==echo", {"a", "b"}),
        ("app!=echo", {"c", "d"}),
        ("istio.io/rev in (1-7,1-8)", {"b"}),
        ("istio.io/rev notin (1-7)", {"a", "c", "d"}),
        ("istio.io/rev", {"a", "b"}),
        ("!istio.io/rev", {"c", "d"}),
        ("app=echo,istio.io/rev!=1-6", {"b"}),
        ("", {"a", "b", "c", "d"}),
    ],
)
def test_label_selector_grammar(
    core: client.CoreV1Api, labelled_pods: str, selector: str, names: set[str]
) -> None:
    items = core.list_namespaced_pod(labelled_pods, label_selector=selector).items
    assert {p.metadata.name for p in items} == names


@pytest.mark.parametrize("selector", ["app in (a", "app=(x)", "app=echo,", "a b"])
def test_bad_label_selector_is_400(core: client.CoreV1Api, ns: str, selector: str) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod(ns, label_selector=selector)
    assert err.value.status == 400 and status_of(err.value)["reason"] == "BadRequest"


def test_pod_field_selectors(core: client.CoreV1Api, sim: SimCluster, labelled_pods: str) -> None:
    ns = labelled_pods

    def run(store: Store) -> None:
        p = store.must_get("Pod", ns, "a")
        p["status"]["phase"] = "Running"
        store.update(p, status_only=True)

    sim.call(run)
    running = core.list_namespaced_pod(ns, field_selector="status.phase=Running").items
    assert [p.metadata.name for p in running] == ["a"]
    others = core.list_namespaced_pod(
        ns, field_selector="status.phase!=Running,metadata.name!=d"
    ).items
    assert [p.metadata.name for p in others] == ["b", "c"]
    by_name = core.list_pod_for_all_namespaces(
        field_selector=f"metadata.name=c,metadata.namespace={ns}"
    )
    assert [p.metadata.name for p in by_name.items] == ["c"]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod(ns, field_selector="spec.nope=x")
    assert err.value.status == 400
    assert status_of(err.value)["message"] == "field label not supported: spec.nope"


def test_limit_and_continue_page_through_in_key_order(core: client.CoreV1Api, ns: str) -> None:
    for i in range(7):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"cm-{i}"}})
    names, token, pages = [], None, 0
    first_rv = None
    while True:
        page = core.list_namespaced_config_map(ns, limit=3, _continue=token)
        pages += 1
        first_rv = first_rv or page.metadata.resource_version
        assert page.metadata.resource_version == first_rv  # one consistent list
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 7 - len(names)
    assert pages == 3
    assert names == [f"cm-{i}" for i in range(7)]


def test_expired_continue_token_is_410_with_a_fresh_token(
    core: client.CoreV1Api, sim: SimCluster, ns: str
) -> None:
    for i in range(4):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"cm-{i}"}})
    page = core.list_namespaced_config_map(ns, limit=2)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "later"}})
    sim.call(lambda store: store.compact())  # the list's revision is now compacted away
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, limit=2, _continue=page.metadata._continue)
    body = status_of(err.value)
    assert err.value.status == 410 and body["reason"] == "Expired"
    assert "too old to display a consistent list" in body["message"]
    rest = core.list_namespaced_config_map(ns, limit=10, _continue=body["metadata"]["continue"])
    assert [c.metadata.name for c in rest.items] == ["cm-2", "cm-3", "later"]


def test_bad_continue_token_is_400(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, limit=1, _continue="!!not-a-token")
    assert err.value.status == 400


# -- watch ----------------------------------------------------------------------------------------


def test_watch_from_a_resource_version_sends_only_newer_events(
    core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "old"}})
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "new"}})
    core.patch_namespaced_config_map("new", ns, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("old", ns)
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1
        )
    ]
    assert events == [("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "old")]


def test_watch_without_resource_version_starts_with_synthetic_adds(
    core: client.CoreV1Api, ns: str
) -> None:
    for name in ("x", "y"):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(core.list_namespaced_config_map, ns, timeout_seconds=1)
    ]
    assert events == [("ADDED", "x"), ("ADDED", "y")]


def _when_watching(sim: SimCluster, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` in a thread once one more watch than now is connected."""
    before = sim.call(lambda store: store.listener_count)

    def run() -> None:
        # A watch that connects late still replays from its resourceVersion; waiting only makes
        # the events arrive live, so past the deadline the action runs anyway.
        with contextlib.suppress(PollTimeout):
            wait_for(
                lambda: sim.call(lambda store: store.listener_count),
                lambda listeners: listeners > before,
                what="one more watch to connect",
                timeout=5,
                interval=0.01,
            )
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_watch_delivers_live_events_and_selector_transitions(
    core: client.CoreV1Api, sim: SimCluster, ns: str
) -> None:
    core.create_namespaced_pod(ns, pod("p", {"istio.io/rev": "old"}))
    rv = core.list_namespaced_pod(ns).metadata.resource_version

    def change() -> None:
        core.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"istio.io/rev": "new"}}})
        core.patch_namespaced_pod("p", ns, {"metadata": {"labels": {"istio.io/rev": "old"}}})

    w = watch.Watch()
    thread = _when_watching(sim, change)
    seen = []
    for event in w.stream(
        core.list_namespaced_pod,
        ns,
        label_selector="istio.io/rev=old",
        resource_version=rv,
        timeout_seconds=5,
    ):
        seen.append(event["type"])
        if len(seen) == 2:
            w.stop()
    thread.join()
    assert seen == ["DELETED", "ADDED"]


def test_watch_sends_bookmarks_when_asked(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    w = watch.Watch()
    bookmark = None
    for event in w.stream(
        core.list_namespaced_config_map,
        ns,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=3,
    ):
        if event["type"] == "BOOKMARK":
            bookmark = event["raw_object"]
            w.stop()
    assert bookmark is not None
    assert bookmark["kind"] == "ConfigMap" and bookmark["apiVersion"] == "v1"
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(rv)


def test_watch_from_a_compacted_resource_version_is_410(
    core: client.CoreV1Api, sim: SimCluster, ns: str
) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    sim.call(lambda store: store.compact())
    with pytest.raises(ApiException) as err:
        list(
            watch.Watch().stream(
                core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1
            )
        )
    assert err.value.status == 410


def test_custom_object_watch_and_list(custom: client.CustomObjectsApi, ns: str) -> None:
    rv = custom.list_namespaced_custom_object(*ISTIO, ns, "istios")["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(*ISTIO, ns, "istios", istio("cp"))
    events = list(
        watch.Watch().stream(
            custom.list_namespaced_custom_object,
            *ISTIO,
            ns,
            "istios",
            resource_version=rv,
            timeout_seconds=1,
        )
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "cp")]
    listed = custom.list_namespaced_custom_object(*ISTIO, ns, "istios")
    assert listed["kind"] == "IstioList" and listed["items"][0]["kind"] == "Istio"


# -- patch ----------------------------------------------------------------------------------------


def test_json_patch_with_escaped_pointer(core: client.CoreV1Api, ns: str) -> None:
    core.patch_namespace(
        ns, [{"op": "add", "path": "/metadata/labels/istio.io~1rev", "value": "cp.istio-system"}]
    )
    labels = core.read_namespace(ns).metadata.labels
    assert labels["istio.io/rev"] == "cp.istio-system"
    core.patch_namespace(ns, [{"op": "remove", "path": "/metadata/labels/istio.io~1rev"}])
    assert "istio.io/rev" not in (core.read_namespace(ns).metadata.labels or {})


def test_json_patch_that_does_not_apply_is_422(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    with pytest.raises(ApiException) as err:
        core.patch_namespace(ns, [{"op": "remove", "path": "/metadata/labels/absent"}])
    assert err.value.status == 422
    custom.create_namespaced_custom_object(*ISTIO, ns, "istios", istio("cp"))
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            *ISTIO,
            ns,
            "istios",
            "cp",
            [{"op": "test", "path": "/spec/version", "value": "1.6.0"}],
            _content_type="application/json-patch+json",
        )
    assert err.value.status == 422


def test_merge_patch_null_deletes_and_lists_replace(
    custom: client.CustomObjectsApi, ns: str
) -> None:
    body = istio("cp")
    body["spec"]["meshExpansion"] = True
    custom.create_namespaced_custom_object(*ISTIO, ns, "istios", body)
    patch = {"spec": {"autoInjectionNamespaces": ["demo-b"], "meshExpansion": None}}
    patched = custom.patch_namespaced_custom_object(*ISTIO, ns, "istios", "cp", patch)
    assert patched["spec"] == {"version": "1.7.8", "autoInjectionNamespaces": ["demo-b"]}
    with pytest.raises(ApiException) as err:  # the CRD's required field is still enforced
        custom.patch_namespaced_custom_object(
            *ISTIO, ns, "istios", "cp", {"spec": {"version": None}}
        )
    assert err.value.status == 422
    assert status_of(err.value)["message"] == (
        'Istio.istio.banzaicloud.io "cp" is invalid: spec.version: Required value'
    )


def test_strategic_merge_merges_containers_and_env_by_name(apps: client.AppsV1Api, ns: str) -> None:
    containers = [
        {
            "name": "app",
            "image": "echo:1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        },
        {"name": "istio-proxy", "image": "proxyv2:1.6.8"},
    ]
    apps.create_namespaced_deployment(ns, deployment("web", containers=containers))
    patch = {
        "spec": {
            "template": {
                "metadata": {"annotations": {"restart": "1"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "echo:2", "env": [{"name": "B", "value": "3"}]}
                    ]
                },
            }
        }
    }
    patched = apps.patch_namespaced_deployment("web", ns, patch)
    got = {c.name: c for c in patched.spec.template.spec.containers}
    assert set(got) == {"app", "istio-proxy"}
    assert got["app"].image == "echo:2" and got["istio-proxy"].image == "proxyv2:1.6.8"
    assert [(e.name, e.value) for e in got["app"].env] == [("A", "1"), ("B", "3")]
    assert patched.metadata.generation == 2
    deleted = apps.patch_namespaced_deployment(
        "web",
        ns,
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "istio-proxy", "$patch": "delete"}]}}
            }
        },
    )
    assert [c.name for c in deleted.spec.template.spec.containers] == ["app"]


def test_strategic_merge_on_a_custom_resource_is_415(
    api: client.ApiClient, custom: client.CustomObjectsApi, ns: str
) -> None:
    custom.create_namespaced_custom_object(*ISTIO, ns, "istios", istio("cp"))
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            *ISTIO,
            ns,
            "istios",
            "cp",
            {"spec": {"version": "1.7.9"}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415
    assert status_of(err.value)["reason"] == "UnsupportedMediaType"


def test_server_side_apply_creates_then_merges(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"a": "1"},
    }
    created = core.patch_namespaced_config_map(
        "cfg",
        ns,
        body,
        field_manager="test",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert created.data == {"a": "1"}
    body["data"] = {"b": "2"}
    merged = core.patch_namespaced_config_map(
        "cfg",
        ns,
        body,
        field_manager="test",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert merged.data == {"a": "1", "b": "2"}


# -- delete, finalizers, garbage collection -------------------------------------------------------


def _owned_configmap(name: str, owner: Obj) -> Obj:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    return {"metadata": {"name": name, "ownerReferences": [ref]}}


def test_background_delete_collects_dependents(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    owner = custom.create_namespaced_custom_object(*ISTIO, ns, "istios", istio("cp"))
    core.create_namespaced_config_map(ns, _owned_configmap("owned", owner))
    core.create_namespaced_config_map(ns, {"metadata": {"name": "free"}})
    answer = custom.delete_namespaced_custom_object(*ISTIO, ns, "istios", "cp")
    assert answer["kind"] == "Status" and answer["status"] == "Success"
    assert answer["details"]["uid"] == owner["metadata"]["uid"]
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["free"]


def test_orphan_delete_keeps_dependents_without_the_owner_reference(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    owner = custom.create_namespaced_custom_object(*ISTIO, ns, "istios", istio("cp"))
    core.create_namespaced_config_map(ns, _owned_configmap("owned", owner))
    custom.delete_namespaced_custom_object(*ISTIO, ns, "istios", "cp", propagation_policy="Orphan")
    kept = core.read_namespaced_config_map("owned", ns)
    assert not kept.metadata.owner_references


def test_delete_preconditions_and_pod_delete_answer(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_pod(ns, pod("p"))
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_pod(
            "p", ns, body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="other"))
        )
    assert err.value.status == 409
    deleted = core.delete_namespaced_pod("p", ns)
    assert deleted.metadata.uid == created.metadata.uid  # pods answer the deleted object
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_pod("p", ns)
    assert err.value.status == 404


def test_finalizers_hold_deletion_until_removed(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}}
    )
    core.delete_namespaced_config_map("held", ns)
    held = core.read_namespaced_config_map("held", ns)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("held", ns)
    assert err.value.status == 404


def test_deleting_a_namespace_deletes_its_content(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    core.delete_namespace(ns)
    with pytest.raises(ApiException):
        core.read_namespace(ns)
    assert (
        core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={ns}").items
        == []
    )


def test_delete_collection_with_a_selector(core: client.CoreV1Api, labelled_pods: str) -> None:
    core.delete_collection_namespaced_pod(labelled_pods, label_selector="app=echo")
    assert sorted(p.metadata.name for p in core.list_namespaced_pod(labelled_pods).items) == [
        "c",
        "d",
    ]


# -- access reviews, events -----------------------------------------------------------------------


def test_self_subject_access_review_follows_the_rbac_switch(
    api: client.ApiClient, sim: SimCluster, ns: str
) -> None:
    auth = client.AuthorizationV1Api(api)
    core = client.CoreV1Api(api)
    review = {"spec": {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": ns}}}
    assert auth.create_self_subject_access_review(review).status.allowed is True
    sim.call(lambda store: store.rbac.deny("list", "pods", ns))
    try:
        assert auth.create_self_subject_access_review(review).status.allowed is False
        with pytest.raises(ApiException) as err:
            core.list_namespaced_pod(ns)
        assert err.value.status == 403
        assert status_of(err.value)["reason"] == "Forbidden"
        core.list_namespaced_config_map(ns)  # other resources stay allowed
    finally:
        sim.call(lambda store: store.rbac.allow_all())


def test_events_list_answers_with_involved_object_selectors(
    core: client.CoreV1Api, ns: str
) -> None:
    events = core.list_namespaced_event(
        ns,
        field_selector=f"involvedObject.name=p,involvedObject.namespace={ns},involvedObject.uid=x",
    )
    assert events.items == []


# -- exec -----------------------------------------------------------------------------------------


def _running_pod(
    sim: SimCluster, core: client.CoreV1Api, ns: str, name: str, containers: int = 1
) -> None:
    core.create_namespaced_pod(ns, pod(name, containers=containers))

    def run(store: Store) -> None:
        p = store.must_get("Pod", ns, name)
        p["status"] = {
            "phase": "Running",
            "containerStatuses": [
                {"name": c["name"], "ready": True, "restartCount": 0, "state": {"running": {}}}
                for c in p["spec"]["containers"]
            ],
        }
        store.update(p, status_only=True)

    sim.call(run)


def _exec(
    core: client.CoreV1Api, ns: str, name: str, argv: list[str], container: str | None = None
) -> Any:
    kwargs: Obj = {
        "stderr": True,
        "stdin": False,
        "stdout": True,
        "tty": False,
        "_preload_content": False,
    }
    if container:
        kwargs["container"] = container
    ws = stream(core.connect_get_namespaced_pod_exec, name, ns, command=argv, **kwargs)
    ws.run_forever(timeout=10)
    assert not ws.is_open()
    return ws


def test_exec_status_frame_names_the_exit_code(
    core: client.CoreV1Api, sim: SimCluster, ns: str
) -> None:
    _running_pod(sim, core, ns, "p")
    ws = _exec(core, ns, "p", ["fail", "3"])
    status = json.loads(ws.read_channel(3))
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


def test_exec_streams_stdout_and_success_status(
    core: client.CoreV1Api, sim: SimCluster, ns: str
) -> None:
    _running_pod(sim, core, ns, "p")
    ws = _exec(core, ns, "p", ["echo", "hello", "mesh"])
    assert ws.read_stdout() == "hello mesh\n"
    assert ws.returncode == 0
    assert ws.subprotocol == "v5.channel.k8s.io"


def test_exec_nonzero_exit_reports_the_code_on_channel_3(
    core: client.CoreV1Api, sim: SimCluster, ns: str
) -> None:
    _running_pod(sim, core, ns, "p")
    ws = _exec(core, ns, "p", ["fail", "7"])
    assert ws.read_stdout() == "partial\n" and ws.read_stderr() == "boom\n"
    assert ws.returncode == 7  # parses the channel-3 Status the way client-go does


def test_exec_of_a_missing_binary_is_an_internal_error(
    core: client.CoreV1Api, sim: SimCluster, ns: str
) -> None:
    _running_pod(sim, core, ns, "p")
    ws = _exec(core, ns, "p", ["ls", "/"])
    status = json.loads(ws.read_channel(3))
    assert status["reason"] == "InternalError" and status["code"] == 500
    assert 'exec: "ls": executable file not found in $PATH' in status["message"]


def test_exec_picks_the_named_container_and_negotiates_v4(
    api: client.ApiClient, sim: SimCluster, ns: str
) -> None:
    core = client.CoreV1Api(api)
    _running_pod(sim, core, ns, "p", containers=2)
    api.set_default_header("sec-websocket-protocol", "v4.channel.k8s.io")
    ws = _exec(core, ns, "p", ["whoami"], container="c1")
    assert ws.subprotocol == "v4.channel.k8s.io"
    assert ws.read_stdout() == "p/c1\n"


def test_exec_handshake_errors(core: client.CoreV1Api, sim: SimCluster, ns: str) -> None:
    _running_pod(sim, core, ns, "p", containers=2)
    for name, container, code in (("nope", "c0", "404"), ("p", "zz", "400"), ("p", None, "400")):
        with pytest.raises(ApiException) as err:
            _exec(core, ns, name, ["echo"], container=container)
        assert code in str(err.value.reason)


# -- faults ---------------------------------------------------------------------------------------


def test_fault_switch_over_http(sim: SimCluster) -> None:
    req = urllib.request.Request(
        sim.url + "/simcluster/v1/faults/no-sync", data=b'{"enabled": true}', method="PUT"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read()) == {"name": "no-sync", "enabled": True}
    assert sim.faults.enabled("no-sync")
    sim.set_fault("no-sync", False)
    bad = urllib.request.Request(
        sim.url + "/simcluster/v1/faults/typo", data=b'{"enabled": true}', method="PUT"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad, timeout=5)
    assert err.value.code == 404


@pytest.fixture
def flaky(sim: SimCluster) -> Iterator[Callable[[str], None]]:
    def arm(action: str) -> None:
        sim.faults.flaky_share = 1.0
        sim.faults.flaky_actions = (action,)
        sim.set_fault("api-flaky", True)

    yield arm
    sim.set_fault("api-flaky", False)
    sim.faults.flaky_share = 0.3
    sim.call(lambda _s: None)


@pytest.mark.slow
def test_api_flaky_429_carries_retry_after(
    core: client.CoreV1Api, flaky: Callable[[str], None]
) -> None:
    flaky("429")
    with pytest.raises(ApiException) as err:
        core.list_namespace()
    assert err.value.status == 429
    assert err.value.headers["Retry-After"] == "1"
    assert status_of(err.value)["reason"] == "TooManyRequests"


def test_api_flaky_500(core: client.CoreV1Api, flaky: Callable[[str], None]) -> None:
    flaky("500")
    with pytest.raises(ApiException) as err:
        core.list_namespace()
    assert err.value.status == 500


def test_api_flaky_reset_drops_the_connection(
    sim: SimCluster, flaky: Callable[[str], None]
) -> None:
    flaky("reset")
    http = urllib3.PoolManager(retries=False)
    with pytest.raises(urllib3.exceptions.HTTPError):
        http.request("GET", sim.url + "/api/v1/namespaces", timeout=5)


@pytest.mark.slow
def test_api_flaky_hang_times_the_client_out(
    core: client.CoreV1Api, flaky: Callable[[str], None]
) -> None:
    flaky("hang")
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.list_namespace(_request_timeout=0.5)
    assert time.monotonic() - started < 5


# -- TLS ------------------------------------------------------------------------------------------


def test_tls_serves_https_and_wss_with_the_kubeconfig_ca(tmp_path: Path) -> None:
    with SimCluster(
        workdir=tmp_path, controllers=False, exec_handler=scripted_exec, tls=True
    ) as tls_sim:
        assert tls_sim.url.startswith("https://127.0.0.1:")
        api_client = config.new_client_from_config(config_file=str(tls_sim.kubeconfig))
        core = client.CoreV1Api(api_client)
        assert "default" in {n.metadata.name for n in core.list_namespace().items}
        _running_pod(tls_sim, core, "default", "p")
        ws = _exec(core, "default", "p", ["echo", "over", "tls"])
        assert ws.read_stdout() == "over tls\n"
        api_client.close()
        with pytest.raises(urllib.error.URLError):  # not trusted without the kubeconfig's CA
            urllib.request.urlopen(tls_sim.url + "/version", timeout=5)


def test_scale_subresource(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("web"))
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert (scale.spec.replicas, scale.status.selector) == (1, "app=web")
    patched = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 4}})
    assert patched.spec.replicas == 4
    web = apps.read_namespaced_deployment("web", ns)
    assert web.spec.replicas == 4 and web.metadata.generation == 2
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": -1}})
    assert err.value.status == 422


def test_strategic_merge_directives(
    apps: client.AppsV1Api, core: client.CoreV1Api, ns: str
) -> None:
    containers = [{"name": n, "image": f"{n}:1"} for n in ("a", "b", "c")]
    apps.create_namespaced_deployment(ns, deployment("web", containers=containers))
    order = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
                    "containers": [{"name": "a", "image": "a:2"}],
                }
            }
        }
    }
    patched = apps.patch_namespaced_deployment("web", ns, order)
    assert [(c.name, c.image) for c in patched.spec.template.spec.containers] == [
        ("c", "c:1"),
        ("a", "a:2"),
        ("b", "b:1"),
    ]
    replaced = apps.patch_namespaced_deployment(
        "web",
        ns,
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "z:1"}]}
                }
            }
        },
    )
    assert [c.name for c in replaced.spec.template.spec.containers] == ["z"]
    core.create_namespaced_config_map(ns, {"metadata": {"name": "f", "finalizers": ["x/a"]}})
    merged = core.patch_namespaced_config_map("f", ns, {"metadata": {"finalizers": ["x/b"]}})
    assert merged.metadata.finalizers == ["x/a", "x/b"]  # finalizers merge, not replace
    dropped = core.patch_namespaced_config_map(
        "f", ns, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/a"]}}
    )
    assert dropped.metadata.finalizers == ["x/b"]


def test_selector_pages_carry_no_remaining_count(core: client.CoreV1Api, ns: str) -> None:
    for i in range(5):
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": f"cm-{i}", "labels": {"even": str(i % 2 == 0)}}}
        )
    page = core.list_namespaced_config_map(ns, label_selector="even=True", limit=2)
    assert [c.metadata.name for c in page.items] == ["cm-0", "cm-2"]
    assert page.metadata._continue and page.metadata.remaining_item_count is None
    rest = core.list_namespaced_config_map(
        ns, label_selector="even=True", limit=2, _continue=page.metadata._continue
    )
    assert [c.metadata.name for c in rest.items] == ["cm-4"] and not rest.metadata._continue


@pytest.mark.parametrize(
    ("include", "object_kind"),
    [("Metadata", "PartialObjectMetadata"), ("Object", "Pod"), ("None", None)],
)
def test_tables_carry_the_object_as_asked(
    sim: SimCluster, core: client.CoreV1Api, ns: str, include: str, object_kind: str | None
) -> None:
    core.create_namespaced_pod(ns, pod("p", {"app": "x"}))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    content_type, body = raw(sim, f"/api/v1/namespaces/{ns}/pods?includeObject={include}", accept)
    assert body["kind"] == "Table" and "as=Table" in content_type
    assert [c["name"] for c in body["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    row = body["rows"][0]
    assert row["cells"][:4] == ["p", "0/1", "Pending", "0"]
    assert (row.get("object") or {}).get("kind") == object_kind


def test_dry_run_writes_nothing(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "c"}, "data": {"a": "1"}}, dry_run="All"
    )
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("c", ns)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("c", ns, {"data": {"a": "2"}}, dry_run="All")
    core.delete_namespaced_config_map("c", ns, dry_run="All")
    assert core.read_namespaced_config_map("c", ns).data == {"a": "1"}


@pytest.mark.parametrize(
    ("kind", "plural", "spec", "message"),
    [
        (
            "Istio",
            "istios",
            {"version": 1.7},
            'spec.version: Invalid value: "number": spec.version in body must be of type string',
        ),
        ("Istio", "istios", {"version": "2.0.0"}, "spec.version in body should match '^1.'"),
        (
            "MeshGateway",
            "meshgateways",
            {"type": "sideways", "ports": []},
            'spec.type: Unsupported value: "sideways": supported values: "ingress", "egress"',
        ),
        (
            "MeshGateway",
            "meshgateways",
            {"type": "ingress", "ports": [{"port": "80"}]},
            "spec.ports[0].port in body must be of type integer",
        ),
    ],
)
def test_custom_resources_are_checked_against_their_crd_schema(
    custom: client.CustomObjectsApi, ns: str, kind: str, plural: str, spec: Obj, message: str
) -> None:
    body = {
        "apiVersion": "istio.banzaicloud.io/v1beta1",
        "kind": kind,
        "metadata": {"name": "x"},
        "spec": spec,
    }
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(*ISTIO, ns, plural, body)
    assert err.value.status == 422
    assert message in status_of(err.value)["message"]


def test_null_custom_resource_fields_are_pruned(custom: client.CustomObjectsApi, ns: str) -> None:
    body = istio("cp")
    body["spec"]["global"] = None
    created = custom.create_namespaced_custom_object(*ISTIO, ns, "istios", body)
    assert "global" not in created["spec"]


def test_owner_held_by_a_finalizer_collects_dependents_when_released(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    body = istio("cp")
    body["metadata"]["finalizers"] = ["istio-operator.finalizer.banzaicloud.io"]
    owner = custom.create_namespaced_custom_object(*ISTIO, ns, "istios", body)
    core.create_namespaced_config_map(ns, _owned_configmap("owned", owner))
    custom.delete_namespaced_custom_object(*ISTIO, ns, "istios", "cp")
    assert core.read_namespaced_config_map("owned", ns).metadata.name == "owned"  # still held
    custom.patch_namespaced_custom_object(
        *ISTIO, ns, "istios", "cp", {"metadata": {"finalizers": None}}
    )
    assert core.list_namespaced_config_map(ns).items == []


def test_continue_pages_are_one_consistent_snapshot(core: client.CoreV1Api, ns: str) -> None:
    for name in ("a", "c", "e", "g"):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": {"v": "1"}})
    first = core.list_namespaced_config_map(ns, limit=2)
    assert [c.metadata.name for c in first.items] == ["a", "c"]
    core.create_namespaced_config_map(ns, {"metadata": {"name": "d"}})  # after the snapshot
    core.delete_namespaced_config_map("g", ns)
    core.patch_namespaced_config_map("e", ns, {"data": {"v": "2"}})
    rest = core.list_namespaced_config_map(ns, limit=10, _continue=first.metadata._continue)
    assert rest.metadata.resource_version == first.metadata.resource_version
    assert [(c.metadata.name, c.data["v"]) for c in rest.items] == [("e", "1"), ("g", "1")]
    fresh = core.list_namespaced_config_map(ns)
    assert [c.metadata.name for c in fresh.items] == ["a", "c", "d", "e"]


def test_foreground_delete_removes_dependents_first(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    owner = custom.create_namespaced_custom_object(*ISTIO, ns, "istios", istio("cp"))
    core.create_namespaced_config_map(ns, _owned_configmap("owned", owner))
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    custom.delete_namespaced_custom_object(
        *ISTIO, ns, "istios", "cp", propagation_policy="Foreground"
    )
    deleted_cm = [
        e["raw_object"]["metadata"]["resourceVersion"]
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1
        )
        if e["type"] == "DELETED"
    ]
    deleted_cr = [
        e["raw_object"]["metadata"]["resourceVersion"]
        for e in watch.Watch().stream(
            custom.list_namespaced_custom_object,
            *ISTIO,
            ns,
            "istios",
            resource_version=rv,
            timeout_seconds=1,
        )
        if e["type"] == "DELETED"
    ]
    assert len(deleted_cm) == 1 and len(deleted_cr) == 1
    assert int(deleted_cm[0]) < int(deleted_cr[0])


def test_watch_list_sends_initial_events_then_a_marked_bookmark(
    sim: SimCluster, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    url = (
        f"{sim.url}/api/v1/namespaces/{ns}/configmaps?watch=true&sendInitialEvents=true"
        "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
    )
    with urllib.request.urlopen(url, timeout=10) as resp:
        events = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:2]] == [
        ("ADDED", "x"),
        ("BOOKMARK", None),
    ]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
