"""The Helm chart passes Helm's own lint (helm-sdkpy bundles Helm's library) with every option on."""
import asyncio
import shutil
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
