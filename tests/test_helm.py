"""The Helm chart passes Helm's own lint (helm-sdkpy bundles Helm's library) with every option on,
and every object it renders validates against the Kubernetes schemas (kubernetes-validate, offline)."""
import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CHART = Path(__file__).resolve().parent.parent / "helm"


def _lint(path: Path) -> dict:
    import helm_sdkpy

    config = helm_sdkpy.Configuration(namespace="camnet")
    return asyncio.run(helm_sdkpy.Lint(config).run(str(path)))


def _chart_with(tmp_path: Path, overrides: dict) -> Path:
    dest = tmp_path / "camnet"
    shutil.copytree(CHART, dest)
    values = yaml.safe_load((dest / "values.yaml").read_text())

    def merge(base, extra):
        for key, value in extra.items():
            if isinstance(value, dict):
                merge(base.setdefault(key, {}), value)
            else:
                base[key] = value

    merge(values, overrides)
    (dest / "values.yaml").write_text(yaml.safe_dump(values, allow_unicode=True))
    return dest


FULL = {
    "secrets": {"secretKey": "x" * 40, "cameraSecretKey": "k" * 44, "databaseUrl": "postgresql+psycopg://camnet@db/camnet"},
    "ingress": {"enabled": True, "className": "nginx", "tlsSecret": "camnet-tls"},
    "web": {"autoscaling": {"enabled": True}},
}


@pytest.mark.parametrize("overrides", [FULL, {"secrets": {"existingSecret": "camnet-prod"}}],
                         ids=["all-options", "existing-secret"])
def test_chart_lints_clean_with_helms_engine(tmp_path, overrides):
    result = _lint(_chart_with(tmp_path, overrides))
    assert result["TotalChartsLinted"] == 1
    assert not result.get("Errors"), result
    # severities: 1 info, 2 warning, 3+ error
    assert all(m["Severity"] < 2 for m in result["Messages"]), result["Messages"]


def test_lint_catches_a_broken_template(tmp_path):
    """Does the lint really render? A template error must fail it."""
    import helm_sdkpy

    chart = _chart_with(tmp_path, FULL)
    (chart / "templates" / "service.yaml").write_text("kind: Service\nmetadata: {{ .Values.nope.deeper }}\n")
    try:
        result = _lint(chart)
    except helm_sdkpy.ChartError:
        return
    assert result.get("Errors") or any(m["Severity"] >= 3 for m in result["Messages"]), result


def test_chart_has_every_part_production_needs():
    kinds = {}
    for path in (CHART / "templates").glob("*.yaml"):
        for line in path.read_text().splitlines():
            if line.startswith("kind: "):
                kinds.setdefault(line.split(": ", 1)[1].strip(), []).append(path.name)
    for kind in ("Deployment", "Job", "CronJob", "Service", "Ingress", "ConfigMap", "Secret",
                 "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert kind in kinds, kind
    web = (CHART / "templates" / "web.yaml").read_text()
    assert "/healthz" in web and "/readyz" in web and "resources:" in web
    job = (CHART / "templates" / "migrate-job.yaml").read_text()
    assert "pre-install,pre-upgrade" in job and '"db", "upgrade"' in job


# --- rendered manifests against the Kubernetes schemas -------------------------------------------
#
# helm-sdkpy exposes no dry-run/template action, so the chart is rendered by helm-python-sdk, another
# binding of Helm's own Go library: Chart.render is Helm's template engine (hooks included), and
# Config.install(dry_run="client") is `helm template`/`helm install --dry-run=client` (no cluster;
# it also checks the chart's kubeVersion and splits hooks out of the release manifest).
# Two Go runtimes in one process are not supported by Go, so the rendering runs in a child process.

RELEASE = "prod"
NAMESPACE = "camnet"
FULLNAME = f"{RELEASE}-camnet"
EXISTING = {"secrets": {"existingSecret": "camnet-prod"}}
VALUE_SETS = {"all-options": FULL, "existing-secret": EXISTING}

_RENDER = r"""
import json, sys
import helm_python as helm

req = json.load(sys.stdin)
out = []
with helm.Chart.load(req["chart"]) as chart:
    for values in req["value_sets"]:
        templates = chart.render(values, name=req["release"], namespace=req["namespace"], is_install=True)
        with helm.Config(namespace=req["namespace"], storage_driver="memory") as cfg:
            release = cfg.install(chart, req["release"], values, namespace=req["namespace"], dry_run="client")
        out.append({"templates": templates, "manifest": release["manifest"]})
json.dump(out, sys.stdout)
"""


def _render(chart: Path, value_sets: list) -> list:
    """[{"templates": {path: text}, "manifest": text}] per value set, rendered by Helm's library."""
    proc = subprocess.run([sys.executable, "-c", _RENDER], capture_output=True, text=True, timeout=120,
                          input=json.dumps({"chart": str(chart), "release": RELEASE, "namespace": NAMESPACE,
                                            "value_sets": value_sets}))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _docs(text: str) -> list:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _objects(templates: dict) -> list:
    return [doc for _, text in sorted(templates.items()) for doc in _docs(text)]


def _k8s_versions() -> list:
    """The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest bundled."""
    import kubernetes_validate

    floor = re.search(r">=\s*v?(\d+\.\d+)", yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"])
    newest = kubernetes_validate.utils.latest_version()
    assert tuple(map(int, kubernetes_validate.utils.major_minor(newest).split("."))) >= (1, 30), newest
    return [floor.group(1), newest]


def _schema_errors(objects: list) -> list:
    """Strict validation (unknown fields are errors) of every object; no network is used."""
    import kubernetes_validate

    errors = []
    for obj in objects:
        name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        for version in _k8s_versions():
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                errors.append(f"{name} (k8s {e.version}): {'.'.join(map(str, e.path))}: {e.message}")
            except kubernetes_validate.utils.SchemaNotFoundError as e:
                errors.append(f"{name}: {e.message}")
    return errors


@pytest.fixture(scope="module")
def rendered():
    results = _render(CHART, list(VALUE_SETS.values()))
    return dict(zip(VALUE_SETS, results, strict=True))


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_rendered_objects_validate_against_kubernetes_schemas(rendered, value_set):
    objects = _objects(rendered[value_set]["templates"])
    assert len(objects) >= 8
    assert _schema_errors(objects) == []


def _by_kind(objects: list) -> dict:
    kinds = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    return kinds


def test_rendered_chart_has_every_part_production_needs(rendered):
    full = _by_kind(_objects(rendered["all-options"]["templates"]))
    assert set(full["Deployment"]) == {f"{FULLNAME}-web", f"{FULLNAME}-worker"}
    migrate = full["Job"][f"{FULLNAME}-migrate"]
    assert migrate["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert migrate["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    assert set(full["CronJob"]) == {f"{FULLNAME}-retention", f"{FULLNAME}-orphans", f"{FULLNAME}-tlog"}
    sweeps = {name: job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
              for name, job in full["CronJob"].items()}
    assert sweeps == {f"{FULLNAME}-retention": ["retention", "sweep", "--skip-orphans"],
                      f"{FULLNAME}-orphans": ["retention", "sweep", "--orphan-grace", "60"],
                      f"{FULLNAME}-tlog": ["tlog", "publish"]}
    tlog = full["CronJob"][f"{FULLNAME}-tlog"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert [c["args"] for c in tlog["initContainers"]] == [["tlog", "checkpoint"]]
    assert set(full["Service"]) == {FULLNAME}
    assert set(full["Ingress"]) == {FULLNAME}
    assert set(full["ConfigMap"]) == {f"{FULLNAME}-config"}
    assert set(full["Secret"]) == {f"{FULLNAME}-secrets"}
    assert set(full["PodDisruptionBudget"]) == {f"{FULLNAME}-web", f"{FULLNAME}-worker"}
    hpa = full["HorizontalPodAutoscaler"][f"{FULLNAME}-web"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{FULLNAME}-web"}
    assert "replicas" not in full["Deployment"][f"{FULLNAME}-web"]["spec"]  # the HPA owns it

    # Helm itself treats the migration Job as a hook: it is left out of the release manifest.
    release = _by_kind(_docs(rendered["all-options"]["manifest"]))
    assert "Job" not in release and set(release["Deployment"]) == set(full["Deployment"])

    existing = _by_kind(_objects(rendered["existing-secret"]["templates"]))
    assert "Secret" not in existing and "Ingress" not in existing and "HorizontalPodAutoscaler" not in existing
    assert existing["Deployment"][f"{FULLNAME}-web"]["spec"]["replicas"] == 2
    assert set(existing["Job"]) == {f"{FULLNAME}-migrate"} and set(existing["CronJob"]) == {f"{FULLNAME}-retention", f"{FULLNAME}-orphans",
                                                                           f"{FULLNAME}-tlog"}


def _pod_specs(kinds: dict) -> dict:
    specs = {}
    for kind, objs in kinds.items():
        for name, obj in objs.items():
            if kind in ("Deployment", "Job"):
                specs[name] = obj["spec"]["template"]
            elif kind == "CronJob":
                specs[name] = obj["spec"]["jobTemplate"]["spec"]["template"]
    return specs


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_rendered_objects_reference_each_other(rendered, value_set):
    """What the schemas cannot see but the API server or the pods would: selectors that match pod labels,
    named ports that exist, and ConfigMap/Secret references that resolve."""
    kinds = _by_kind(_objects(rendered[value_set]["templates"]))
    pods = _pod_specs(kinds)
    assert len(pods) == 6  # web, worker, migrate, retention, orphans, tlog
    labels_of = {name: pod["metadata"]["labels"] for name, pod in pods.items()}

    def selected(selector):
        return [n for n, labels in labels_of.items() if selector.items() <= labels.items()]

    for name, dep in kinds["Deployment"].items():
        assert dep["spec"]["selector"]["matchLabels"].items() <= labels_of[name].items(), name
    for name, pdb in kinds["PodDisruptionBudget"].items():
        assert selected(pdb["spec"]["selector"]["matchLabels"]) == [name], name
    service = kinds["Service"][FULLNAME]
    assert selected(service["spec"]["selector"]) == [f"{FULLNAME}-web"]
    web = pods[f"{FULLNAME}-web"]["spec"]["containers"][0]
    web_ports = {p["name"] for p in web["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= web_ports
    assert {web["livenessProbe"]["httpGet"]["port"], web["readinessProbe"]["httpGet"]["port"]} <= web_ports
    for ingress in kinds.get("Ingress", {}).values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] == FULLNAME
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}

    secret = VALUE_SETS[value_set]["secrets"].get("existingSecret") or f"{FULLNAME}-secrets"
    for name, pod in pods.items():
        spec = pod["spec"]
        if name.endswith(("-migrate", "-retention")):
            assert spec["restartPolicy"] in ("Never", "OnFailure"), name
        volumes = {v["name"] for v in spec["volumes"]}
        for container in spec["containers"]:
            assert {m["name"] for m in container["volumeMounts"]} <= volumes, name
            refs = container["envFrom"]
            assert {"configMapRef": {"name": f"{FULLNAME}-config"}} in refs, name
            assert {"secretRef": {"name": secret}} in refs, name
    if "Secret" in kinds:
        assert set(kinds["Secret"]) == {secret}


def test_schema_validation_catches_wrong_fields(tmp_path):
    """Would the validation notice a broken manifest that Helm renders without complaint?"""
    chart = _chart_with(tmp_path, FULL)
    templates = chart / "templates"

    def edit(name, old, new):
        text = (templates / name).read_text()
        assert old in text, (name, old)
        (templates / name).write_text(text.replace(old, new, 1))

    edit("worker.yaml", "replicas: {{ .Values.worker.replicas }}", 'replicas: "two"')
    edit("service.yaml", "  type: {{ .Values.service.type }}", "  type: {{ .Values.service.type }}\n  sessionAfinity: None")
    edit("web.yaml", "imagePullPolicy:", "imagePulPolicy:")

    [result] = _render(chart, [{}])  # the chart's own values.yaml now holds FULL
    errors = _schema_errors(_objects(result["templates"]))
    joined = "\n".join(errors)
    assert f"Deployment/{FULLNAME}-worker" in joined and "spec.replicas: 'two' is not of type 'integer'" in joined, joined
    assert f"Service/{FULLNAME}" in joined and "'sessionAfinity' was unexpected" in joined, joined
    assert f"Deployment/{FULLNAME}-web" in joined and "'imagePulPolicy' was unexpected" in joined, joined
    # each broken object is reported for both Kubernetes versions, and nothing else is
    assert len(errors) == 3 * len(_k8s_versions()), joined
