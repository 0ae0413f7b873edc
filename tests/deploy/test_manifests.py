"""What a hospital's IT team deploys (deploy/, docs/deploy.md), checked without a cluster:

- every Kubernetes manifest validates against the Kubernetes schema (kubernetes-validate's
  bundled schemas, offline, strict: an unknown field fails), and a manifest mutated to be
  invalid does fail;
- the objects fit together: selectors, Services, probes (readiness = model loaded),
  Ingress backends, HPA and PDB targets, resources and non-root security on every container;
- compose.yaml runs the production topology with restart policies, healthchecks and no
  secret in the file;
- the Containerfile takes its base as an ARG and runs as a non-root user with a HEALTHCHECK.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import yaml

import kubernetes_validate  # noqa: E402  (the test extra: pyproject.toml)

# kubernetes-validate's bundled schemas name a metaschema jsonschema 4.17 does not know.
pytestmark = pytest.mark.filterwarnings("ignore:The metaschema specified by:DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
# The newest Kubernetes whose schemas kubernetes-validate 1.28.3 ships (pinned in pyproject.toml).
K8S_VERSION = "1.28.0"
READY_PATH = "/webhooks/health/ready"
NOT_OBJECTS = {"kustomization.yaml"}  # kustomize's own file, not a Kubernetes object

Doc = Dict[str, Any]


def manifest_files() -> List[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name not in NOT_OBJECTS)


def documents(path: Path) -> List[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def all_objects() -> Iterator[Tuple[Path, Doc]]:
    for path in manifest_files():
        for doc in documents(path):
            yield path, doc


def objects(kind: str) -> Dict[str, Doc]:
    return {d["metadata"]["name"]: d for _, d in all_objects() if d["kind"] == kind}


def validate(doc: Doc) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def pod_spec(deployment: Doc) -> Doc:
    return deployment["spec"]["template"]["spec"]


def containers(deployment: Doc) -> List[Doc]:
    spec = pod_spec(deployment)
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def container(deployment: Doc, name: str) -> Doc:
    return next(c for c in pod_spec(deployment)["containers"] if c["name"] == name)


def port_number(c: Doc, port: Any) -> int:
    """A probe's or Service's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in c["ports"] if p.get("name") == port)


def memory_mib(quantity: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi|M|G)", quantity)
    assert match, f"unexpected memory quantity {quantity!r}"
    return float(match.group(1)) * units[match.group(2)]


# --- schema ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path) -> None:
    docs = documents(path)
    assert docs, f"{path.name} holds no object"
    for doc in docs:
        validate(doc)


def test_validation_runs_offline_on_bundled_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    # kubernetes-validate must not fetch schemas: CI and hospital build machines may have no network.
    import socket

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("kubernetes-validate tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    validate(objects("Deployment")["baclofen-rasa"])


@pytest.mark.parametrize("mutate, why", [
    (lambda d: container(d, "rasa").__setitem__("readinessProb", {"httpGet": {"path": "/"}}),
     "unknown field (a typo)"),
    (lambda d: d["spec"].__setitem__("replicas", "two"), "wrong type"),
    (lambda d: container(d, "rasa").pop("name"), "required field missing"),
    (lambda d: container(d, "rasa")["readinessProbe"]["httpGet"].__setitem__("pth", READY_PATH),
     "unknown field deep inside"),
])
def test_an_invalid_manifest_fails_validation(mutate: Any, why: str) -> None:
    broken = copy.deepcopy(objects("Deployment")["baclofen-rasa"])
    mutate(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_kustomization_lists_every_manifest_but_never_the_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    for name in listed:
        assert (K8S / name).is_file(), f"kustomization.yaml lists a missing {name}"
    expected = {p.name for p in manifest_files()} - {"secret.example.yaml"}
    assert set(listed) == expected
    image_names = {c["image"] for d in objects("Deployment").values() for c in containers(d)}
    assert {i["name"] for i in kustomization["images"]} <= image_names


def test_the_example_secret_holds_no_secret() -> None:
    (secret,) = documents(K8S / "secret.example.yaml")
    assert secret["kind"] == "Secret"
    for key, value in secret["stringData"].items():
        # A URL holds its password; a bare secret (the action server token) is all placeholder.
        passwords = re.findall(r"://[^:/@]*:([^@]*)@", value) if "://" in value else [value]
        assert passwords and all(re.fullmatch(r"\$\{[A-Z_]+\}", p) for p in passwords), \
            f"{key}: a password must be an ${{ENV}} placeholder, not a value"
    assert "data" not in secret


# --- how the objects fit together --------------------------------------------------------

def test_rasa_readiness_means_a_model_is_loaded() -> None:
    rasa = container(objects("Deployment")["baclofen-rasa"], "rasa")
    for probe in ("readinessProbe", "startupProbe"):
        get = rasa[probe]["httpGet"]
        assert get["path"] == READY_PATH, f"{probe} must check the loaded model, not {get['path']}"
        assert port_number(rasa, get["port"]) == 5005
    # Liveness stays on `/`: restarting a server whose model failed to load would not load it.
    assert rasa["livenessProbe"]["httpGet"]["path"] == "/"


def test_the_readiness_path_is_the_health_channel_route() -> None:
    from channels.health import HealthInput

    blueprint = HealthInput().blueprint(on_new_message=None)  # type: ignore[arg-type]
    routes = {route.uri for route in blueprint._future_routes}
    assert READY_PATH == f"/webhooks/{HealthInput.name()}/ready"
    assert "/ready" in routes
    credentials = yaml.safe_load((ROOT / "bot" / "credentials.yml").read_text(encoding="utf-8"))
    assert "channels.health.HealthInput" in credentials, "bot/credentials.yml must enable the channel"


def test_action_server_probes_its_health_endpoint() -> None:
    actions = container(objects("Deployment")["baclofen-actions"], "actions")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert actions[probe]["httpGet"]["path"] == "/health"
        assert port_number(actions, actions[probe]["httpGet"]["port"]) == 5055


def test_both_servers_run_two_replicas_from_one_image_with_the_right_command() -> None:
    deployments = objects("Deployment")
    roles = {"baclofen-rasa": ("rasa", ["rasa"]), "baclofen-actions": ("actions", ["actions"])}
    images = set()
    for name, (cname, args) in roles.items():
        assert deployments[name]["spec"]["replicas"] == 2
        c = container(deployments[name], cname)
        assert c["args"] == args, "the image's entry point picks the server from its first argument"
        images.add(c["image"])
    assert len(images) == 1


def test_every_container_has_measured_resources_and_runs_unprivileged() -> None:
    for name, deployment in objects("Deployment").items():
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        for c in containers(deployment):
            where = f"{name}/{c['name']}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{where}: {kind}"
            assert memory_mib(c["resources"]["requests"]["memory"]) <= memory_mib(c["resources"]["limits"]["memory"])
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
    # Above what was measured (docs/deploy.md): Rasa's RSS peaked at 871 MiB while loading.
    rasa = container(objects("Deployment")["baclofen-rasa"], "rasa")
    assert memory_mib(rasa["resources"]["requests"]["memory"]) >= 871


def test_services_select_their_deployments_and_name_their_ports() -> None:
    deployments = objects("Deployment")
    for name, service in objects("Service").items():
        deployment = deployments[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        c = pod_spec(deployment)["containers"][0]
        for port in service["spec"]["ports"]:
            port_number(c, port["targetPort"])  # raises StopIteration when no such port


def test_ingress_routes_only_channels_to_rasa_and_hashes_by_client() -> None:
    (ingress,) = objects("Ingress").values()
    services = objects("Service")
    routes = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] in services
            assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            routes[path["path"]] = backend["name"]
    assert routes == {"/webhooks/": "baclofen-rasa", "/socket.io/": "baclofen-rasa", "/": "baclofen-web"}
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$binary_remote_addr"
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "1m"
    assert ingress["spec"]["tls"], "the public entry must be TLS"


def test_autoscalers_and_disruption_budgets_target_existing_deployments() -> None:
    deployments = objects("Deployment")
    for name, hpa in objects("HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments, name
        assert hpa["spec"]["minReplicas"] >= 2, "never fewer than the two replicas of the topology"
    for name, pdb in objects("PodDisruptionBudget").items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        assert pdb["spec"]["minAvailable"] >= 1
    assert {"baclofen-rasa", "baclofen-actions"} <= set(objects("HorizontalPodAutoscaler"))
    assert {"baclofen-rasa", "baclofen-actions"} <= set(objects("PodDisruptionBudget"))


def test_rasa_reaches_the_action_service_and_takes_passwords_from_the_secret() -> None:
    settings = objects("ConfigMap")["baclofen-settings"]["data"]
    service = objects("Service")["baclofen-actions"]
    assert settings["BACLOFEN_ACTIONS_URL"] == f"http://baclofen-actions:{service['spec']['ports'][0]['port']}/webhook"
    assert not any("PASSWORD" in k or ("://" in v and "@" in v) for k, v in settings.items()), \
        "credentials belong in the Secret, not the ConfigMap"
    rasa = container(objects("Deployment")["baclofen-rasa"], "rasa")
    env = {e["name"]: e for e in rasa["env"]}
    for name in ("BACLOFEN_TRACKER_URL", "BACLOFEN_REDIS_URL"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "baclofen-secrets"
        assert "value" not in env[name]
    (secret,) = documents(K8S / "secret.example.yaml")
    names = ("BACLOFEN_TRACKER_URL", "BACLOFEN_REDIS_URL", "BACLOFEN_ACTIONS_TOKEN", "BACLOFEN_SESSION_SECRET")
    keys = {env[n]["valueFrom"]["secretKeyRef"]["key"] for n in names}
    assert keys == set(secret["stringData"])
    # The action server takes the same token from the same Secret.
    actions = {e["name"]: e for e in container(objects("Deployment")["baclofen-actions"], "actions")["env"]}
    assert actions["BACLOFEN_ACTIONS_TOKEN"]["valueFrom"] == env["BACLOFEN_ACTIONS_TOKEN"]["valueFrom"]


# --- compose ----------------------------------------------------------------------------

COMPOSE_SERVICES = {"nginx", "rasa-1", "rasa-2", "actions-1", "actions-2", "postgres", "redis"}


def compose() -> Doc:
    # safe_load resolves the YAML anchors and `<<` merges the file uses, as compose does.
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_runs_the_production_topology_with_restarts_and_healthchecks() -> None:
    services = compose()["services"]
    assert set(services) == COMPOSE_SERVICES
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for n in ("1", "2"):
        rasa = services[f"rasa-{n}"]
        assert rasa["command"] == ["rasa"]
        assert services[f"actions-{n}"]["command"] == ["actions"]
        assert rasa["environment"]["BACLOFEN_ACTIONS_URL"] == f"http://actions-{n}:5055/webhook"
        assert rasa["environment"]["BACLOFEN_TRACKER_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in rasa["environment"]["BACLOFEN_TRACKER_URL"]
        assert rasa["environment"]["BACLOFEN_REDIS_URL"].startswith("redis://")
        assert set(rasa["depends_on"]) == {f"actions-{n}", "postgres", "redis"}
    upstreams = services["nginx"]["environment"]["BACLOFEN_NGINX_UPSTREAMS"]
    assert re.findall(r"server (rasa-\d):5005", upstreams) == ["rasa-1", "rasa-2"]


def test_compose_takes_every_secret_from_the_environment() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    for var in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        uses = re.findall(r"\$\{" + var + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), f"{var} must be required, with no default"
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert str(value).startswith("${"), f"{name}: {key} is written in the file"
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    assert re.search(r"^POSTGRES_PASSWORD=$", example, re.M) and re.search(r"^REDIS_PASSWORD=$", example, re.M)


def test_compose_mounts_files_that_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts a missing {source}"


# --- Containerfile ----------------------------------------------------------------------

def instructions(text: str) -> List[Tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            lines.append(current)
            current = ""
    return [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]


def test_containerfile_takes_its_base_as_an_arg() -> None:
    steps = instructions((DEPLOY / "Containerfile").read_text(encoding="utf-8"))
    assert steps[0] == ("ARG", "BASE=python:3.10-slim"), "the first line must be ARG BASE=python:3.10-slim"
    froms = [args for kind, args in steps if kind == "FROM"]
    assert froms[0].split()[0] == "${BASE}"
    assert all(f.split()[0] in ("${BASE}", "runtime") for f in froms)


def test_containerfile_runs_unprivileged_with_a_healthcheck() -> None:
    steps = instructions((DEPLOY / "Containerfile").read_text(encoding="utf-8"))
    final = steps[max(i for i, (kind, _) in enumerate(steps) if kind == "FROM"):]
    users = [args for kind, args in final if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(kind == "HEALTHCHECK" and "healthcheck.py" in args for kind, args in final)
    entry = next(args for kind, args in final if kind == "ENTRYPOINT")
    script = ROOT / yaml.safe_load(entry)[0].replace("/app/", "", 1)
    assert script.is_file() and script.stat().st_mode & 0o111, f"{script} must be executable"
    env = " ".join(args for kind, args in final if kind == "ENV")
    for var in ("BACLOFEN_KB_URL", "BACLOFEN_SPACY_PATH", "BACLOFEN_TRIAGE_NET_PATH", "BACLOFEN_MODELS_DIR",
                "BACLOFEN_ACTIONS_URL", "BACLOFEN_DATA_DIR", "BACLOFEN_MAX_REQUEST_BYTES",
                "BACLOFEN_BIND_ADDRESS", "RASA_TELEMETRY_ENABLED"):
        assert f"{var}=" in env, f"the image sets no default for {var}"
    build = " ".join(args for kind, args in steps if kind == "RUN")
    assert "-c constraints.txt ." in build and "scripts/build.sh" in build


def test_build_context_leaves_out_local_state() -> None:
    ignored = {l.strip().rstrip("/") for l in (ROOT / ".dockerignore").read_text().splitlines()
               if l.strip() and not l.startswith("#")}
    assert {".venv", "build", "models", "var", ".git"} <= ignored
    assert ".env" in ignored and "deploy/.env" in ignored
