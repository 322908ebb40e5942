{{/* Names, labels and the pieces every workload shares. */}}

{{- define "stockops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stockops.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects: <fullname>-<component>. Call with (list $ "api"). */}}
{{- define "stockops.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "stockops.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stockops.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "stockops.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "stockops.labels" -}}
{{- $root := index . 0 -}}
{{ include "stockops.selectorLabels" . }}
app.kubernetes.io/part-of: stockops
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels shared by every pod of the release (the default-deny NetworkPolicy selects them). */}}
{{- define "stockops.releaseSelector" -}}
app.kubernetes.io/name: {{ include "stockops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* An image reference. Call with (list $ .Values.api.image true): true prefixes the registry. */}}
{{- define "stockops.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- $prefix := ternary $root.Values.global.imageRegistry "" (index . 2) -}}
{{- printf "%s%s:%s" $prefix $image.repository ($image.tag | toString) -}}
{{- end -}}

{{- define "stockops.podSecurityContext" -}}
{{- toYaml .Values.global.podSecurityContext -}}
{{- end -}}

{{- define "stockops.containerSecurityContext" -}}
{{- toYaml .Values.global.containerSecurityContext -}}
{{- end -}}

{{- define "stockops.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Service names and in-cluster URLs. */}}
{{- define "stockops.postgresHost" -}}
{{- if .Values.postgresql.enabled -}}
{{- include "stockops.componentName" (list . "postgresql") -}}
{{- else -}}
{{- required "postgresql.host is required when postgresql.enabled is false" .Values.postgresql.host -}}
{{- end -}}
{{- end -}}

{{- define "stockops.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s:6379/0" (include "stockops.componentName" (list . "redis")) -}}
{{- else -}}
{{- .Values.redis.externalUrl -}}
{{- end -}}
{{- end -}}

{{- define "stockops.qdrantUrl" -}}
{{- if .Values.qdrant.enabled -}}
{{- printf "http://%s:6333" (include "stockops.componentName" (list . "qdrant")) -}}
{{- else -}}
{{- .Values.qdrant.externalUrl -}}
{{- end -}}
{{- end -}}

{{- define "stockops.mlflowUri" -}}
{{- if .Values.mlflow.enabled -}}
{{- printf "http://%s:5000" (include "stockops.componentName" (list . "mlflow")) -}}
{{- else -}}
{{- .Values.mlflow.externalUri -}}
{{- end -}}
{{- end -}}

{{- define "stockops.dataClaimName" -}}
{{- default (include "stockops.componentName" (list . "data")) .Values.persistence.data.existingClaim -}}
{{- end -}}

{{/* Dagster's home: the instance ConfigMap is mounted here (dagster.yaml, workspace.yaml). */}}
{{- define "stockops.dagsterHome" -}}
/opt/dagster/dagster_home
{{- end -}}

{{/* Postgres password for Dagster's instance config ({env: DAGSTER_PG_PASSWORD}). */}}
{{- define "stockops.pgPasswordEnv" -}}
- name: DAGSTER_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.postgresql.name }}
      key: {{ .Values.secrets.postgresql.passwordKey }}
{{- end -}}

{{/* Optional Secrets loaded whole as environment variables (hosted LLM keys, MLflow login). */}}
{{- define "stockops.extraEnvFrom" -}}
{{- range .Values.secrets.extraEnvSecrets }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end -}}

{{/* Checkov suppressions shared by the project's workloads; each says why. */}}
{{- define "stockops.checkovDigest" -}}
checkov.io/skip1: CKV_K8S_43=Images are pinned to immutable release tags (ECR tag immutability); digests are not known when the chart is written
{{- end -}}

{{- define "stockops.checkovSecretEnv" -}}
checkov.io/skip2: CKV_K8S_35=The applications read these settings from the environment only; the values come from an existing Secret by reference, never from the chart
{{- end -}}
