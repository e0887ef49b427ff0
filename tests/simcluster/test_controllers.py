"""Workload controllers, kubelet, endpoints and load balancers, driven on the real Store."""

from __future__ import annotations

from typing import Any

from simcluster.controllers.kubelet import pod_ready
from tests.simcluster.simhelp import Sim, run

Obj = dict[str, Any]


def deployment(name: str, ns: str = "default", replicas: int = 1) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 8080, "name": "http"}]}]},
            },
        },
    }  # fmt: skip


def service(name: str, ns: str = "default", target: Any = 8080, kind: str = "ClusterIP") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": target}]},
    }  # fmt: skip


def restart(obj: Obj, stamp: str = "1") -> None:
    obj["spec"]["template"]["metadata"].setdefault("annotations", {})["restarted"] = stamp


def test_deployment_makes_replicaset_and_ready_pods_with_real_status() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.apply(deployment("web", replicas=3))
        await sim.settle()
        d = sim.store.get("Deployment", "default", "web")
        assert d is not None
        status = d["status"]
        assert (
            status["replicas"],
            status["updatedReplicas"],
            status["readyReplicas"],
            status["availableReplicas"],
        ) == (3, 3, 3, 3)
        assert status["observedGeneration"] == d["metadata"]["generation"]
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        (rs,) = sim.store.list("ReplicaSet", "default")[0]
        h = rs["metadata"]["labels"]["pod-template-hash"]
        assert (
            rs["metadata"]["name"] == f"web-{h}"
            and rs["spec"]["selector"]["matchLabels"]["pod-template-hash"] == h
        )
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        pods = sim.pods("default", "app=web")
        assert len(pods) == 3 and all(pod_ready(p) for p in pods)
        for p in pods:
            assert p["metadata"]["name"].startswith(f"web-{h}-")
            assert p["status"]["phase"] == "Running" and p["spec"]["nodeName"]
            (cs,) = p["status"]["containerStatuses"]
            assert cs["image"] == "docker.io/library/nginx:1.25"
            assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
            assert cs["restartCount"] == 0 and "running" in cs["state"]
        assert len({p["status"]["podIP"] for p in pods}) == 3

    run(scenario())


def test_rolling_update_surges_and_removes_old_pods_only_after_new_are_ready() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.apply(deployment("web", replicas=2))
        await sim.settle()
        old_pods = {p["metadata"]["name"] for p in sim.pods("default")}
        log: list[tuple[str, str, bool]] = []

        def watch(event: str, obj: Obj, _old: Obj | None) -> None:
            if obj.get("kind") == "Pod":
                log.append((event, obj["metadata"]["name"], pod_ready(obj)))

        sim.store.subscribe(watch)
        sim.edit("Deployment", "default", "web", restart)
        await sim.settle()
        new_pods = {p["metadata"]["name"] for p in sim.pods("default")}
        assert len(new_pods) == 2 and not new_pods & old_pods
        ready_count = len(old_pods)
        ready_now = set(old_pods)
        for event, name, ready in log:  # replay: never fewer than replicas - maxUnavailable (2 - 0)
            if event == "DELETED":
                ready_now.discard(name)
            elif ready:
                ready_now.add(name)
            assert len(ready_now) >= ready_count, f"availability dropped at {event} {name}"
        first_delete = next(i for i, e in enumerate(log) if e[0] == "DELETED")
        assert any(e[2] and e[1] in new_pods for e in log[:first_delete]), (
            "old pod removed before a new one was Ready"
        )
        d = sim.store.get("Deployment", "default", "web")
        assert d is not None and d["metadata"]["generation"] == 2
        assert (
            d["status"]["updatedReplicas"],
            d["status"]["replicas"],
            d["status"]["observedGeneration"],
        ) == (2, 2, 2)
        revisions = sorted(
            r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            for r in sim.store.list("ReplicaSet", "default")[0]
        )
        assert revisions == ["1", "2"]

    run(scenario())


def test_stuck_rollout_keeps_old_pod_and_settles_then_recovers() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.apply(deployment("web"))
        await sim.settle()
        sim.faults.set("stuck-rollout", True)
        sim.edit("Deployment", "default", "web", restart)
        await sim.settle()  # settles although the rollout cannot finish
        pods = sim.pods("default")
        assert len(pods) == 2 and sum(pod_ready(p) for p in pods) == 1
        stuck = next(p for p in pods if not pod_ready(p))
        assert stuck["status"]["phase"] == "Running"
        ready_cond = next(c for c in stuck["status"]["conditions"] if c["type"] == "Ready")
        assert ready_cond["reason"] == "ContainersNotReady"
        d = sim.store.get("Deployment", "default", "web")
        assert d is not None
        assert (
            d["status"]["updatedReplicas"],
            d["status"]["availableReplicas"],
            d["status"]["replicas"],
        ) == (1, 1, 2)
        progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
        assert progressing["reason"] == "ReplicaSetUpdated"
        sim.faults.set("stuck-rollout", False)
        await sim.settle()
        pods = sim.pods("default")
        assert (
            len(pods) == 1
            and pod_ready(pods[0])
            and pods[0]["metadata"]["name"] == stuck["metadata"]["name"]
        )

    run(scenario())


def test_scale_down_removes_pods_and_recreate_strategy_stops_old_first() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.apply(deployment("web", replicas=3))
        await sim.settle()
        sim.edit("Deployment", "default", "web", lambda d: d["spec"].update(replicas=1))
        await sim.settle()
        assert len(sim.pods("default")) == 1
        sim.edit(
            "Deployment",
            "default",
            "web",
            lambda d: d["spec"].update(strategy={"type": "Recreate"}),
        )
        await sim.settle()
        seen: list[int] = []
        sim.store.subscribe(
            lambda e, o, _: (
                seen.append(len(sim.store.list("Pod", "default")[0]))
                if o.get("kind") == "Pod"
                else None
            )
        )
        sim.edit("Deployment", "default", "web", restart)
        await sim.settle()
        assert 0 in seen and max(seen) == 1  # never two pods at once

    run(scenario())


def test_statefulset_ordinals_in_order_and_daemonset_one_pod() -> None:
    async def scenario() -> None:
        sim = Sim()
        ss = deployment("db", replicas=3)
        ss["kind"] = "StatefulSet"
        ss["spec"]["serviceName"] = "db"
        ds = deployment("agent")
        ds["kind"] = "DaemonSet"
        del ds["spec"]["replicas"]
        created: list[str] = []
        sim.store.subscribe(
            lambda e, o, _: (
                created.append(o["metadata"]["name"])
                if e == "ADDED" and o.get("kind") == "Pod"
                else None
            )
        )
        sim.apply(ss, ds)
        await sim.settle()
        assert [n for n in created if n.startswith("db-")] == ["db-0", "db-1", "db-2"]
        status = (sim.store.get("StatefulSet", "default", "db") or {})["status"]
        assert (
            status["readyReplicas"] == 3 and status["currentRevision"] == status["updateRevision"]
        )
        assert len(sim.pods("default", "app=agent")) == 1
        sim.edit("StatefulSet", "default", "db", restart)
        await sim.settle()
        status = (sim.store.get("StatefulSet", "default", "db") or {})["status"]
        assert (
            status["updatedReplicas"] == 3 and status["currentRevision"] == status["updateRevision"]
        )
        revs = {
            p["metadata"]["labels"]["controller-revision-hash"]
            for p in sim.pods("default", "app=db")
        }
        assert revs == {status["updateRevision"]}

    run(scenario())


def test_endpoints_follow_readiness_and_named_ports() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.apply(deployment("web", replicas=2), service("web", target="http"))
        await sim.settle()
        ep = sim.store.get("Endpoints", "default", "web")
        assert ep is not None
        (subset,) = ep["subsets"]
        assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        assert len(subset["addresses"]) == 2 and "notReadyAddresses" not in subset
        assert {a["targetRef"]["name"] for a in subset["addresses"]} == {
            p["metadata"]["name"] for p in sim.pods("default")
        }
        sim.faults.set("stuck-rollout", True)
        sim.edit("Deployment", "default", "web", restart)
        await sim.settle()
        (subset,) = (sim.store.get("Endpoints", "default", "web") or {})["subsets"]
        assert len(subset["addresses"]) == 2 and len(subset["notReadyAddresses"]) == 1
        sim.store.delete("Service", "default", "web")
        await sim.settle()
        assert sim.store.get("Endpoints", "default", "web") is None

    run(scenario())


def test_load_balancer_address_is_stable_across_updates() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.apply(deployment("gw"), service("gw", kind="LoadBalancer"))
        await sim.settle()
        svc = sim.store.get("Service", "default", "gw")
        assert svc is not None
        (ingress,) = svc["status"]["loadBalancer"]["ingress"]
        svc = sim.edit(
            "Service", "default", "gw", lambda s: s["spec"]["selector"].update(extra="x")
        )
        await sim.settle()
        again = sim.store.get("Service", "default", "gw")
        assert again is not None and again["metadata"]["uid"] == svc["metadata"]["uid"]
        assert again["status"]["loadBalancer"]["ingress"] == [ingress]

    run(scenario())


def test_progress_deadline_exceeded_marks_a_stuck_rollout() -> None:
    async def scenario() -> None:
        sim = Sim()
        web = deployment("web")
        web["spec"]["progressDeadlineSeconds"] = 1
        sim.apply(web)
        await sim.settle()
        seen: list[str] = []

        def record(_e: str, obj: Obj, _old: Obj | None) -> None:
            if obj.get("kind") == "Deployment":
                for c in (obj.get("status") or {}).get("conditions") or []:
                    if c["type"] == "Progressing" and (not seen or seen[-1] != c["reason"]):
                        seen.append(c["reason"])

        def reason() -> str:
            d = sim.store.get("Deployment", "default", "web") or {}
            cond = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
            return f"{cond['status']}/{cond['reason']}"

        sim.store.subscribe(record)
        sim.faults.set("stuck-rollout", True)
        sim.edit("Deployment", "default", "web", restart)
        await sim.until(lambda: reason() == "False/ProgressDeadlineExceeded", timeout=5)
        assert seen[-2:] == ["ReplicaSetUpdated", "ProgressDeadlineExceeded"]
        sim.faults.set("stuck-rollout", False)
        await sim.until(lambda: reason() == "True/NewReplicaSetAvailable", timeout=5)

    run(scenario())


def test_job_completes_unless_an_istio_sidecar_keeps_its_pod_running() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.ensure_ns("meshed", {"istio-injection": "enabled"})

        def job(ns: str) -> Obj:
            return {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "probe", "namespace": ns},
                "spec": {"template": {"metadata": {}, "spec": {"restartPolicy": "Never", "containers": [{"name": "curl", "image": "curlimages/curl:8.5.0"}]}}},
            }  # fmt: skip

        await sim.seed()
        sim.apply(job("default"), job("meshed"))
        await sim.settle()
        plain = (sim.store.get("Job", "default", "probe") or {})["status"]
        assert plain["succeeded"] == 1 and "active" not in plain and plain["completionTime"]
        assert {c["type"] for c in plain["conditions"]} == {"Complete", "SuccessCriteriaMet"}
        (pod,) = sim.pods("default", "job-name=probe")
        assert pod["status"]["phase"] == "Succeeded"
        meshed = (sim.store.get("Job", "meshed", "probe") or {})["status"]
        assert meshed["active"] == 1 and "conditions" not in meshed
        (pod,) = sim.pods("meshed", "job-name=probe")
        assert pod["status"]["phase"] == "Running" and not pod_ready(pod)

    run(scenario())


def test_deleted_pods_are_terminating_briefly_and_leave_endpoints_at_once() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.apply(deployment("web"), service("web"))
        await sim.settle()
        (pod,) = sim.pods("default")
        name = pod["metadata"]["name"]
        sim.store.delete("Pod", "default", name)
        terminating = sim.store.get("Pod", "default", name)
        assert terminating is not None and terminating["metadata"]["deletionTimestamp"]
        await sim.until(
            lambda: (
                not any(
                    a["targetRef"]["name"] == name
                    for s in (sim.store.get("Endpoints", "default", "web") or {}).get("subsets", [])
                    for a in s.get("addresses", [])
                )
            )
        )
        await sim.settle()
        assert sim.store.get("Pod", "default", name) is None
        (replacement,) = sim.pods("default")
        assert replacement["metadata"]["name"] != name and pod_ready(replacement)

    run(scenario())
