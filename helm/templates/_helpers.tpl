{{- define "camnet.name" -}}{{ .Chart.Name }}{{- end -}}
{{- define "camnet.fullname" -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "camnet.labels" -}}
app.kubernetes.io/name: {{ include "camnet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "camnet.selector" -}}
app.kubernetes.io/name: {{ include "camnet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "camnet.secretName" -}}{{ .Values.secrets.existingSecret | default (printf "%s-secrets" (include "camnet.fullname" .)) }}{{- end -}}
{{- define "camnet.image" -}}{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}{{- end -}}
{{- define "camnet.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "camnet.fullname" . }}-config
  - secretRef:
      name: {{ include "camnet.secretName" . }}
{{- end -}}
{{- define "camnet.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end -}}
{{- define "camnet.migrateSecretName" -}}{{ .Values.secrets.existingMigrateSecret | default (printf "%s-migrate" (include "camnet.fullname" .)) }}{{- end -}}
