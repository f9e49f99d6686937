"""The Kubernetes manifests (deploy/kubernetes, deploy/kserve), checked offline: every
kustomization renders with the real kubectl; every core object validates against the
Kubernetes schemas in strict mode (kubernetes-validate); the custom kinds validate against the
CRD schemas their projects publish (crds/); and the Deployment is what production needs
(probes, drain timing, security, sizing, spread, settings from a ConfigMap and a Secret).
No API server can run here: scheduling, admission and the rollout itself need a real cluster.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from tests.deploy.manifests import (
    CORE_GROUPS,
    DEPLOY,
    KUBERNETES,
    KUSTOMIZATIONS,
    OVERLAYS,
    container,
    crd_errors,
    one,
    overlay,
    pod_spec,
    render,
    run,
    venv_tool,
)

VERSIONS = ("1.30.0", "1.37.0")  # oldest and newest Kubernetes the manifests are checked for
DIGEST = "sha256:" + "ab" * 32


def test_there_are_staging_and_production_overlays() -> None:
    assert {p.name for p in OVERLAYS} == {"staging", "production"}


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_every_kustomization_renders_and_core_objects_validate_strictly(
    directory: Path, tmp_path: Path
) -> None:
    docs = render(directory)
    core = [d for d in docs if d["apiVersion"] in CORE_GROUPS]
    assert core, "no core object rendered"
    rendered = tmp_path / "core.yaml"
    rendered.write_text(yaml.safe_dump_all(core))
    for version in VERSIONS:
        out = run(venv_tool("kubernetes-validate"), "--strict", "-k", version, rendered)
        assert out.count(" passed for resource ") == len(core), out


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_custom_kinds_match_their_projects_crd_schemas(directory: Path) -> None:
    custom = [d for d in render(directory) if d["apiVersion"] not in CORE_GROUPS]
    for doc in custom:
        assert crd_errors(doc) == [], f"{doc['kind']} {doc['metadata']['name']}"


def test_crd_check_rejects_what_the_api_server_would() -> None:
    """The schema check can fail: a misspelled field, a wrong type, a wrong apiVersion."""
    (monitor,) = [d for d in render(OVERLAYS[0]) if d["kind"] == "ServiceMonitor"]
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    monitor["spec"]["jobLabel"] = 3
    errors = " ".join(crd_errors(monitor))
    assert "'intervall' was unexpected" in errors and "3 is not of type 'string'" in errors
    (service,) = [d for d in render(DEPLOY / "kserve") if d["kind"] == "InferenceService"]
    service["apiVersion"] = "serving.kserve.io/v1alpha1"
    service["spec"]["predictor"]["containers"][0]["readinessprobe"] = {}
    errors = " ".join(crd_errors(service))
    assert "is not serving.kserve.io/v1beta1" in errors and "'readinessprobe'" in errors


def test_strict_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    docs = render(OVERLAYS[0])
    pod_spec(docs)["containers"][0]["readinesProbe"] = {}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(one(docs, "Deployment")))
    with pytest.raises(AssertionError, match="readinesProbe"):
        run(venv_tool("kubernetes-validate"), "--strict", bad)


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_deployment_probes_and_drain_timing(directory: Path) -> None:
    docs = render(directory)
    api = container(docs)
    assert api["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert api["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert api["startupProbe"]["httpGet"]["path"] == "/health"
    pause = api["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    settings = one(docs, "ConfigMap")["data"]
    graceful = int(settings["GRACEFUL_TIMEOUT"])
    # SIGTERM comes after the preStop pause; gunicorn then needs up to GRACEFUL_TIMEOUT.
    assert pod_spec(docs)["terminationGracePeriodSeconds"] > graceful + int(pause[1])
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    env = {e["name"]: e for e in api["env"]}
    assert ports["http"] == int(env["PORT"]["value"])
    strategy = one(docs, "Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0  # a rolling update never drops below the count


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_deployment_runs_locked_down_as_the_images_user(directory: Path) -> None:
    docs = render(directory)
    spec = pod_spec(docs)
    dockerfile = (KUBERNETES.parents[1] / "docker" / "Dockerfile").read_text()
    (uid,) = re.findall(r"^USER (\d+)$", dockerfile, flags=re.MULTILINE)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == int(uid)
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    security = container(docs)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # A read-only root: the metrics dir and gunicorn's /tmp are in memory.
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container(docs)["env"]}
    metrics = volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]
    assert metrics["emptyDir"]["medium"] == "Memory"
    assert volumes[mounts["/tmp"]]["emptyDir"]["medium"] == "Memory"


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_settings_from_a_configmap_and_the_key_from_a_secret_not_in_the_repo(
    directory: Path,
) -> None:
    docs = render(directory)
    api = container(docs)
    config = one(docs, "ConfigMap")
    assert api["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    assert config["data"]["WORKERS"] == "2"
    env = {e["name"]: e for e in api["env"]}
    assert env["API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "api-key", "key": "API_KEY"}
    secret = {"name": "feedback-key", "key": "FEEDBACK_KEY"}
    assert env["FEEDBACK_KEY"]["valueFrom"]["secretKeyRef"] == secret
    assert env["FEEDBACK_KEY_REQUIRED"]["value"] == "true"
    assert not [d for d in docs if d["kind"] == "Secret"], "a Secret is committed"
    # Sized from the measured RSS: requests = limits for memory (no overcommit surprise).
    resources = api["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    assert "cpu" in resources["requests"] and "cpu" in resources["limits"]


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_replicas_are_spread_scaled_and_protected(directory: Path) -> None:
    docs = render(directory)
    deployment = one(docs, "Deployment")
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    keys = {c["topologyKey"] for c in pod_spec(docs)["topologySpreadConstraints"]}
    assert "kubernetes.io/hostname" in keys
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (cpu,) = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
    assert cpu["resource"]["name"] == "cpu"
    assert cpu["resource"]["target"]["type"] == "Utilization"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_production_keeps_more_replicas_than_staging() -> None:
    by_name = {p.name: one(render(p), "HorizontalPodAutoscaler") for p in OVERLAYS}
    assert by_name["production"]["spec"]["minReplicas"] >= 3
    assert by_name["staging"]["spec"]["minReplicas"] < by_name["production"]["spec"]["minReplicas"]


def test_staging_and_production_live_in_different_namespaces() -> None:
    """The rules and dashboards keep environments apart by namespace."""
    namespaces = {p.name: {d["metadata"]["namespace"] for d in render(p)} for p in OVERLAYS}
    assert all(len(n) == 1 for n in namespaces.values()), namespaces
    assert namespaces["staging"] != namespaces["production"]


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_selectors_and_job_label_survive_a_name_prefix_and_namespace(
    directory: Path, tmp_path: Path
) -> None:
    """A user's overlay with namePrefix + namespace: every selector still finds the pods and
    Prometheus' job label is still "api" (jobLabel reads a label, not the Service name)."""
    docs = render(overlay(directory, tmp_path / "team", namePrefix="team-a-", namespace="ml"))
    deployment = one(docs, "Deployment")
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    service = one(docs, "Service")
    assert service["metadata"]["name"].startswith("team-a-")
    assert {d["metadata"]["namespace"] for d in docs} == {"ml"}

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return bool(selector) and selector.items() <= labels.items()

    assert selects(deployment["spec"]["selector"]["matchLabels"], pods)
    assert selects(service["spec"]["selector"], pods)
    assert selects(one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], pods)
    assert selects(one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"], pods)
    for constraint in pod_spec(docs)["topologySpreadConstraints"]:
        assert selects(constraint["labelSelector"]["matchLabels"], pods)
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    monitor = one(docs, "ServiceMonitor")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "api"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_the_image_is_overridden_by_digest(directory: Path, tmp_path: Path) -> None:
    """What ci/deploy.sh layers on an environment: `images:` with a digest, nothing else."""
    plain = render(directory)
    image = {"name": "mlops-template-api", "newName": "registry.example.com/g/p", "digest": DIGEST}
    docs = render(overlay(directory, tmp_path / "deploy", images=[image]))
    assert container(docs)["image"] == f"registry.example.com/g/p@{DIGEST}"
    container(docs)["image"] = container(plain)["image"]
    assert docs == plain


def test_network_policy_admits_ingress_and_prometheus_and_denies_egress() -> None:
    docs = render(OVERLAYS[0])
    policy = one(docs, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["egress"] == []
    sources = [s for rule in policy["ingress"] for s in rule["from"]]
    namespaces = {
        s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for s in sources
        if "namespaceSelector" in s
    }
    assert namespaces == {"ingress-nginx", "monitoring"}
    assert all(rule.get("ports") for rule in policy["ingress"]), "every rule names its port"


def test_alertmanager_is_reachable_only_from_its_own_namespace() -> None:
    docs = render(KUBERNETES / "monitoring")
    policy = one(docs, "NetworkPolicy")
    assert policy["metadata"]["namespace"] == "monitoring"
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "alertmanager"
    }
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {}}]}]


def test_in_flight_autoscaling_option_renders(tmp_path: Path) -> None:
    component = KUBERNETES / "components" / "hpa-in-flight"
    docs = render(overlay(OVERLAYS[0], tmp_path / "hpa", components=[component]))
    metrics = one(docs, "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert [m["type"] for m in metrics] == ["Resource", "Pods"]
    assert metrics[1]["pods"]["metric"]["name"] == "http_requests_in_flight"
    adapter = yaml.safe_load((component / "prometheus-adapter.yaml").read_text())
    (rule,) = adapter["rules"]["custom"]
    assert rule["name"]["as"] == "http_requests_in_flight"


def test_kserve_predictor_is_the_same_server_speaking_v2(tmp_path: Path) -> None:
    image = {"name": "mlops-template-api", "newName": "registry.example.com/g/p", "digest": DIGEST}
    docs = render(overlay(DEPLOY / "kserve", tmp_path / "kserve", images=[image]))
    service = one(docs, "InferenceService")
    predictor = service["spec"]["predictor"]
    (server,) = predictor["containers"]
    assert server["name"] == "kserve-container"  # the container KServe routes to
    assert server["image"] == f"registry.example.com/g/p@{DIGEST}"
    env = {e["name"]: e for e in server["env"]}
    assert env["PROTOCOL"]["value"] == "v2"
    assert [p["containerPort"] for p in server["ports"]] == [int(env["PORT"]["value"])]
    settings = one(docs, "ConfigMap")
    assert server["envFrom"] == [{"configMapRef": {"name": settings["metadata"]["name"]}}]
    assert server["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert predictor["terminationGracePeriodSeconds"] > int(settings["data"]["GRACEFUL_TIMEOUT"])
    monitor = one(docs, "PodMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= predictor["labels"].items()
    assert predictor["labels"][monitor["spec"]["jobLabel"]] == "api"
    # Same server, same settings: the Deployment's container and the predictor agree.
    plain = container(render(OVERLAYS[0]))
    for key in ("resources", "securityContext", "livenessProbe", "lifecycle"):
        expected = plain[key]
        if key == "livenessProbe":
            expected = {**expected, "httpGet": {**expected["httpGet"], "port": 8000}}
        assert server[key] == expected, key
