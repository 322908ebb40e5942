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

{{/* Optional Secrets loaded whole as environment variables (hosted LLM keys, MLflow login):
a pod starts without them. */}}
{{- define "stockops.extraEnvFrom" -}}
{{- range .Values.secrets.extraEnvSecrets }}
- secretRef:
    name: {{ . }}
    optional: true
{{- end }}
{{- end -}}

{{/* Pods the cluster autoscaler must not evict to empty a node: a run pod (backoffLimit 0:
an evicted run fails), the daemon (its runs and ticks stop), Redis (an emptyDir: the Feast
online store is gone until re-materialized). */}}
{{- define "stockops.notEvictable" -}}
cluster-autoscaler.kubernetes.io/safe-to-evict: "false"
{{- end -}}

{{/* Annotations for the ALB target group of a Service (AWS Load Balancer Controller): the
health check path of its pods, since the controller's default is GET / (which the API answers
404 and MLflow refuses for a Host it does not know). Call with (list $ "/path" extra-dict). */}}
{{- define "stockops.albTargetAnnotations" -}}
{{- $root := index . 0 -}}
{{- if and $root.Values.ingress.enabled (eq $root.Values.ingress.className "alb") -}}
alb.ingress.kubernetes.io/healthcheck-path: {{ index . 1 }}
{{- with index . 2 }}
{{ toYaml . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* Checkov suppressions shared by the project's workloads; each says why. */}}
{{- define "stockops.checkovDigest" -}}
checkov.io/skip1: CKV_K8S_43=Images are pinned to immutable release tags (ECR tag immutability); digests are not known when the chart is written
{{ include "stockops.checkovPullPolicy" . }}
{{- end -}}

{{- define "stockops.checkovPullPolicy" -}}
checkov.io/skip4: CKV_K8S_15=Every tag names one image for good (immutable ECR tags, pinned third-party releases), so IfNotPresent pulls it once per node instead of at every start
{{- end -}}

{{- define "stockops.checkovSecretEnv" -}}
checkov.io/skip2: CKV_K8S_35=The applications read these settings from the environment only; the values come from an existing Secret by reference, never from the chart
{{- end -}}

{{/*
The shared data volume. ReadWriteOnce attaches to one node: every pod that mounts it (run pods
included) then carries the label below and a required affinity to the node of the others, so the
first one picks the node and the rest follow. ReadWriteMany (EFS) needs neither.
*/}}
{{- define "stockops.dataIsSingleNode" -}}
{{- if not (has "ReadWriteMany" .Values.persistence.data.accessModes) -}}true{{- end -}}
{{- end -}}

{{- define "stockops.dataPodLabels" -}}
{{- if include "stockops.dataIsSingleNode" . -}}
stockops.io/data-volume: {{ include "stockops.dataClaimName" . | trunc 63 | trimSuffix "-" | quote }}
{{- end -}}
{{- end -}}

{{/* The pod affinity term as a dict (Kubernetes field names), or nothing. */}}
{{- define "stockops.dataAffinity" -}}
{{- if include "stockops.dataIsSingleNode" . -}}
podAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "stockops.dataPodLabels" . | nindent 10 }}
{{- end -}}
{{- end -}}

{{/* The image of GPU training runs: the CUDA build of the user-code image. */}}
{{- define "stockops.gpuImage" -}}
{{- $gpu := .Values.runs.gpu.image -}}
{{- $tag := default (printf "%s-cuda" (.Values.dagster.userCode.image.tag | toString)) $gpu.tag -}}
{{- include "stockops.image" (list . (dict "repository" $gpu.repository "tag" $tag) true) -}}
{{- end -}}

{{/*
Run tags of GPU training runs (STOCKOPS_GPU_RUN_TAGS; the training jobs put them on every run):
dagster-k8s/config places the run's pod on the GPU node group with the CUDA image, and
stockops/gpu=true is the tag the run queue limits.
*/}}
{{- define "stockops.gpuRunTags" -}}
{{- $gpu := .Values.runs.gpu -}}
{{- $k8sConfig := dict
      "pod_spec_config" (dict "node_selector" $gpu.nodeSelector "tolerations" $gpu.tolerations)
      "container_config" (dict "image" (include "stockops.gpuImage" .) "image_pull_policy" $gpu.image.pullPolicy "resources" $gpu.resources) -}}
{{- dict "dagster-k8s/config" ($k8sConfig | toJson) "stockops/gpu" "true" | toJson -}}
{{- end -}}

{{/* Secret-backed settings every process of the code location needs (code server, run pods,
API): the Feast SQL registry URL. A list of Kubernetes env entries. */}}
{{- define "stockops.codeSecretEnv" -}}
{{- if eq .Values.feast.registry "sql" }}
- name: STOCKOPS_FEAST_REGISTRY_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.feast.name }}
      key: {{ .Values.secrets.feast.registryUrlKey }}
{{- end }}
{{- end -}}

{{/*
Refusals: settings the chart does not render because the install would not work or not be safe.
Included by the NOTES and by every template that depends on them, so any render fails.
*/}}
{{- define "stockops.validate" -}}
{{- $v := .Values -}}
{{- if and (not $v.dagster.enabled) (not $v.api.dagsterGraphqlUrl) -}}
{{- fail "dagster.enabled=false (Dagster+ hybrid) needs api.dagsterGraphqlUrl: the API launches runs through Dagster's GraphQL endpoint" -}}
{{- end -}}
{{- if and (not $v.dagster.enabled) (include "stockops.dataIsSingleNode" .) -}}
{{- fail "dagster.enabled=false (Dagster+ hybrid) needs a ReadWriteMany data volume: the agent's code servers and run pods mount it from any node" -}}
{{- end -}}
{{- if and (not $v.dagster.enabled) $v.ingress.enabled $v.ingress.private.hosts.dagster -}}
{{- fail "ingress.private.hosts.dagster: dagster.enabled=false runs no Dagster webserver here (the UI is Dagster+'s)" -}}
{{- end -}}
{{- if and $v.runs.gpu.enabled (include "stockops.dataIsSingleNode" .) -}}
{{- fail "runs.gpu.enabled needs a ReadWriteMany data volume (persistence.data.accessModes): a ReadWriteOnce volume keeps every run on one node, never the GPU nodes" -}}
{{- end -}}
{{- if and (eq $v.feast.onlineStore "redis") (not $v.redis.enabled) (not $v.redis.externalUrl) -}}
{{- fail "feast.onlineStore=redis needs redis.enabled or redis.externalUrl" -}}
{{- end -}}
{{- if and $v.api.requireApiKeys (not $v.secrets.api.apiKeysKey) -}}
{{- fail "api.requireApiKeys needs secrets.api.apiKeysKey: the key of the api-keys entry in the API Secret" -}}
{{- end -}}
{{- if $v.ingress.enabled -}}
{{- $annotations := merge (deepCopy $v.ingress.private.annotations) $v.ingress.annotations -}}
{{- $public := eq (get $annotations "alb.ingress.kubernetes.io/scheme") "internet-facing" -}}
{{- $login := or (has (get $annotations "alb.ingress.kubernetes.io/auth-type") (list "oidc" "cognito")) (hasKey $annotations "nginx.ingress.kubernetes.io/auth-url") -}}
{{- if and $public (not $login) (or $v.ingress.private.hosts.streamlit $v.ingress.private.hosts.dagster $v.ingress.private.hosts.mlflow) -}}
{{- fail "ingress.private: Streamlit, the Dagster UI and MLflow have no login of their own; use an internal load balancer (alb.ingress.kubernetes.io/scheme: internal) or log users in at the ALB (alb.ingress.kubernetes.io/auth-type: oidc or cognito)" -}}
{{- end -}}
{{- end -}}
{{- if and (not $v.dagster.enabled) (not $v.networkPolicy.externalDagsterPods) -}}
{{- fail "dagster.enabled=false (Dagster+ hybrid) needs networkPolicy.externalDagsterPods: the labels of the agent's pods, which the NetworkPolicies admit to Redis, Qdrant, MLflow and Postgres (values-hybrid.yaml)" -}}
{{- end -}}
{{- if and (gt (int $v.mlflow.replicas) 1) (hasPrefix "/" $v.mlflow.artifactsDestination) -}}
{{- fail "mlflow.replicas > 1 needs artifacts in S3 (mlflow.artifactsDestination s3://...): a path is a ReadWriteOnce volume one pod mounts" -}}
{{- end -}}
{{- if eq $v.global.environment "production" -}}
{{- if and $v.qdrant.enabled (not $v.qdrant.apiKeySecret.name) -}}
{{- fail "global.environment=production needs qdrant.apiKeySecret.name: the Qdrant server takes its API key from that Secret (the clients read the same key as STOCKOPS_QDRANT_API_KEY)" -}}
{{- end -}}
{{- if not $v.api.requireApiKeys -}}
{{- fail "global.environment=production needs api.requireApiKeys=true (and the api-keys key in the API Secret)" -}}
{{- end -}}
{{- if not $v.networkPolicy.enabled -}}
{{- fail "global.environment=production needs networkPolicy.enabled" -}}
{{- end -}}
{{- /* A peer admits a load balancer's subnets or a named namespace: never a block wider than
/16 (0.0.0.0/0, or the internet in pieces: 0.0.0.0/1 + 128.0.0.0/1), every namespace or every
pod. (That the blocks are the ALB subnets and not the VPC is tests/deploy/test_terraform.py's.) */ -}}
{{- range $group, $peers := $v.networkPolicy.ingressFrom -}}
{{- range $peers -}}
{{- if .ipBlock -}}
{{- $prefix := int (index (splitList "/" (.ipBlock.cidr | toString)) 1 | default "0") -}}
{{- if lt $prefix 16 -}}
{{- fail (printf "networkPolicy.ingressFrom.%s: ipBlock %s is wider than /16; name the load balancer's subnets" $group .ipBlock.cidr) -}}
{{- end -}}
{{- end -}}
{{- if and (hasKey . "namespaceSelector") (not (or .namespaceSelector.matchLabels .namespaceSelector.matchExpressions)) -}}
{{- fail (printf "networkPolicy.ingressFrom.%s: an empty namespaceSelector admits every namespace; select one by its labels" $group) -}}
{{- end -}}
{{- if and (hasKey . "podSelector") (not (hasKey . "namespaceSelector")) (not (or .podSelector.matchLabels .podSelector.matchExpressions)) -}}
{{- fail (printf "networkPolicy.ingressFrom.%s: an empty podSelector admits every pod of the namespace; select them by their labels" $group) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- end -}}
{{- if not $v.global.imageRegistry -}}
{{- fail "global.imageRegistry is required: the registry the project's images were pushed to, with a trailing slash (terraform output ecr_registry plus '/'; e.g. localhost:5000/ for a local cluster). They are not on Docker Hub." -}}
{{- end -}}
{{- end -}}

{{/* Dagster's run, event and schedule storage (Postgres), as JSON. psycopg2 explicitly:
SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, not installed. */}}
{{- define "stockops.dagsterStorage" -}}
{{- dict "postgres" (dict "postgres_db" (dict
      "scheme" "postgresql+psycopg2"
      "username" .Values.postgresql.username
      "password" (dict "env" "DAGSTER_PG_PASSWORD")
      "hostname" (include "stockops.postgresHost" .)
      "db_name" .Values.postgresql.dagsterDatabase
      "port" (int .Values.postgresql.port)
      "params" (dict "sslmode" .Values.postgresql.sslMode))) | toJson -}}
{{- end -}}

{{/* MLflow's entry point: the backend store URI from its parts, user and password URL-encoded
(psycopg2 explicitly: SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3), then `mlflow` with
it in MLFLOW_BACKEND_STORE_URI and in place of any argument "{backend_store_uri}". */}}
{{- define "stockops.mlflowLauncher" -}}
import os, sys; from urllib.parse import quote; e = os.environ; uri = e["MLFLOW_BACKEND_STORE_URI"] = "postgresql+psycopg2://%s:%s@%s:%s/%s?sslmode=%s" % (quote(e["MLFLOW_DB_USER"], safe=""), quote(e["MLFLOW_DB_PASSWORD"], safe=""), e["MLFLOW_DB_HOST"], e["MLFLOW_DB_PORT"], e["MLFLOW_DB_NAME"], e["MLFLOW_DB_SSLMODE"]); os.execvp("mlflow", ["mlflow", *(uri if a == "{backend_store_uri}" else a for a in sys.argv[1:])])
{{- end -}}

{{/* MLflow's environment: the parts of the backend store URI (stockops.mlflowLauncher). */}}
{{- define "stockops.mlflowEnv" -}}
- name: HOME
  value: /tmp
- name: MLFLOW_DISABLE_TELEMETRY
  value: "true"
- name: MLFLOW_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.postgresql.name }}
      key: {{ .Values.secrets.postgresql.passwordKey }}
- name: MLFLOW_DB_USER
  value: {{ .Values.postgresql.username | quote }}
- name: MLFLOW_DB_HOST
  value: {{ include "stockops.postgresHost" . | quote }}
- name: MLFLOW_DB_PORT
  value: {{ .Values.postgresql.port | quote }}
- name: MLFLOW_DB_NAME
  value: {{ .Values.postgresql.mlflowDatabase | quote }}
- name: MLFLOW_DB_SSLMODE
  value: {{ .Values.postgresql.sslMode | quote }}
{{- end -}}
