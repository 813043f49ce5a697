"""The alerts worker's Deployment (helm/templates/alerts-deployment.yaml): rendered by Helm's library
with alerts enabled, it validates against the Kubernetes schemas and runs ``camnet alerts worker``."""
from __future__ import annotations

from .test_helm import CHART, FULL, FULLNAME, _lint, _chart_with, _objects, _render, _schema_errors


def test_alerts_deployment_renders_validates_and_lints(tmp_path):
    values = {**FULL, "alerts": {"enabled": True, "existingSecret": "camnet-alerts",
                                 "smtp": {"host": "smtp.example.vn"}}}
    chart = _chart_with(tmp_path, values)
    result = _lint(chart)
    assert not result.get("Errors") and all(m["Severity"] < 2 for m in result["Messages"]), result
    objects = _objects(_render(CHART, [values])[0]["templates"])
    alerts = [o for o in objects if o["metadata"]["name"] == f"{FULLNAME}-alerts"]
    assert len(alerts) == 1 and alerts[0]["kind"] == "Deployment"
    container = alerts[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["alerts", "worker"]
    env = {e["name"]: e for e in container["env"]}
    assert env["ALERTS_SMTP_HOST"]["value"] == "smtp.example.vn"
    assert env["ALERTS_VAPID_PRIVATE_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "camnet-alerts"
    assert _schema_errors(alerts) == []
