{{/* Names: sre-daemon by default, so that the scrape job is the one the rules select. */}}
{{- define "sre.name" -}}
{{- default "sre-daemon" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sre.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "sre.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "sre.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sre.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sre.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sre.labels" -}}
{{ include "sre.selectorLabels" . }}
app.kubernetes.io/part-of: sre
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "sre.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sre.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sre.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* sre.yaml as text: configFile verbatim, or config as YAML, or else the repository's
     own sre.yaml (the chart's sre.yaml is a link to it). */}}
{{- define "sre.configText" -}}
{{- if .Values.configFile -}}
{{- .Values.configFile -}}
{{- else if .Values.config -}}
{{- toYaml .Values.config -}}
{{- else -}}
{{- .Files.Get "sre.yaml" -}}
{{- end -}}
{{- end -}}

{{/* sre.yaml as a map, for the values the chart derives from it (as JSON, since include
     returns a string). */}}
{{- define "sre.configJson" -}}
{{- if .Values.config -}}
{{- toJson .Values.config -}}
{{- else -}}
{{- $parsed := include "sre.configText" . | fromYaml -}}
{{- if hasKey $parsed "Error" -}}
{{- fail (printf "configFile is not a YAML mapping: %s" $parsed.Error) -}}
{{- end -}}
{{- toJson $parsed -}}
{{- end -}}
{{- end -}}

{{- define "sre.daemonConfig" -}}
{{- $cfg := include "sre.configJson" . | fromJson -}}
{{- toJson (default dict $cfg.daemon) -}}
{{- end -}}

{{/* "true" when daemon.state points at PostgreSQL (several replicas can share it). */}}
{{- define "sre.postgresState" -}}
{{- $daemon := include "sre.daemonConfig" . | fromJson -}}
{{- $state := default "sqlite:///var/lib/sre/state.db" $daemon.state -}}
{{- if or (hasPrefix "postgresql://" $state) (hasPrefix "postgres://" $state) -}}true{{- end -}}
{{- end -}}

{{/* The port of daemon.listen (default 0.0.0.0:9877). */}}
{{- define "sre.port" -}}
{{- $daemon := include "sre.daemonConfig" . | fromJson -}}
{{- $listen := toString (default "0.0.0.0:9877" $daemon.listen) -}}
{{- splitList ":" $listen | last | int -}}
{{- end -}}

{{/* The checks the schema cannot do: they need the config and several values at once. */}}
{{- define "sre.validate" -}}
{{- if and .Values.configFile .Values.config -}}
{{- fail "set configFile or config, not both" -}}
{{- end -}}
{{- $cfg := include "sre.configJson" . | fromJson -}}
{{- if not $cfg -}}
{{- fail "the daemon's configuration is empty: set configFile (helm ... --set-file configFile=sre.yaml) or config" -}}
{{- end -}}
{{- $daemon := include "sre.daemonConfig" . | fromJson -}}
{{- if and (gt (int .Values.replicas) 1) (not (include "sre.postgresState" .)) -}}
{{- fail (printf "replicas: %d needs the shared state store: set daemon.state in the config to postgresql://HOST:PORT/DB (it is %s; SQLite serves one replica only)" (int .Values.replicas) (default "sqlite:///var/lib/sre/state.db" $daemon.state | quote)) -}}
{{- end -}}
{{- range $path, $name := include "sre.envNames" . | fromJson -}}
{{- if not (hasKey $.Values.secretEnv $name) -}}
{{- fail (printf "config %s names the variable %s, but secretEnv has no entry for it: add secretEnv.%s: {secretName: ..., key: ...}" $path $name $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Every environment variable the config names for a secret: {"key.path": "NAME"}. */}}
{{- define "sre.envNames" -}}
{{- $cfg := include "sre.configJson" . | fromJson -}}
{{- $names := dict -}}
{{- $daemon := default dict $cfg.daemon -}}
{{- if hasKey $daemon "webhook_token_env" -}}
{{- if $daemon.webhook_token_env -}}{{- $_ := set $names "daemon.webhook_token_env" $daemon.webhook_token_env -}}{{- end -}}
{{- else -}}
{{- $_ := set $names "daemon.webhook_token_env" "SRE_WEBHOOK_TOKEN" -}}
{{- end -}}
{{- with $cfg.slack -}}
{{- $_ := set $names "slack.token_env" (default "SLACK_BOT_TOKEN" .token_env) -}}
{{- $_ := set $names "slack.signing_secret_env" (default "SLACK_SIGNING_SECRET" .signing_secret_env) -}}
{{- end -}}
{{- with $cfg.grafana -}}
{{- $_ := set $names "grafana.token_env" (default "GRAFANA_TOKEN" .token_env) -}}
{{- end -}}
{{- range $i, $backup := default list $cfg.backups -}}
{{- with $backup.restore_test -}}
{{- with .dsn_env -}}{{- $_ := set $names (printf "backups[%d].restore_test.dsn_env" $i) . -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* One env entry from a Secret: (list $root $varName $entry). */}}
{{- define "sre.secretEnvVar" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $entry := default dict (index . 2) -}}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ default $root.Values.existingSecret $entry.secretName | required (printf "secretEnv.%s: no secretName and no existingSecret" $name) }}
      key: {{ default $name $entry.key }}
      {{- if $entry.optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* In-cluster service URLs: "name.namespace[.svc...][:port]" -> (namespace, port).
     Returns {} for hosts outside the cluster (more than two labels and no .svc). */}}
{{- define "sre.clusterEndpoint" -}}
{{- $root := index . 0 -}}
{{- $url := urlParse (index . 1) -}}
{{- $hostPort := splitList ":" $url.host -}}
{{- $host := first $hostPort -}}
{{- $labels := splitList "." $host -}}
{{- $port := 0 -}}
{{- if gt (len $hostPort) 1 -}}{{- $port = last $hostPort | int -}}
{{- else if eq $url.scheme "https" -}}{{- $port = 443 -}}
{{- else if eq $url.scheme "http" -}}{{- $port = 80 -}}
{{- else if has $url.scheme (list "postgresql" "postgres") -}}{{- $port = 5432 -}}
{{- end -}}
{{- if and $host (or (le (len $labels) 2) (has "svc" $labels)) -}}
{{- $namespace := $root.Release.Namespace -}}
{{- if gt (len $labels) 1 -}}{{- $namespace = index $labels 1 -}}{{- end -}}
{{- toJson (dict "namespace" $namespace "port" $port) -}}
{{- else -}}
{{- toJson dict -}}
{{- end -}}
{{- end -}}
