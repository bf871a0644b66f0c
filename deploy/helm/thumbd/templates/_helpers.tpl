{{/* Names and labels. */}}
{{- define "thumbd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "thumbd.fullname" -}}
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

{{- define "thumbd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "thumbd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "thumbd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "thumbd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "thumbd.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "thumbd.keysSecret" -}}
{{- if .Values.keys.create -}}
{{- printf "%s-keys" (include "thumbd.fullname" .) -}}
{{- else -}}
{{- required "keys.existingSecret: name the Secret holding the signing keys, or set keys.create and keys.value" .Values.keys.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "thumbd.indexClaim" -}}
{{- default (printf "%s-index" (include "thumbd.fullname" .)) .Values.index.persistence.existingClaim -}}
{{- end -}}

{{- define "thumbd.cacheClaim" -}}
{{- default (printf "%s-cache" (include "thumbd.fullname" .)) .Values.diskCache.persistence.existingClaim -}}
{{- end -}}

{{/* Where the chart mounts things; the config points at the same paths. */}}
{{- define "thumbd.configDir" -}}/etc/thumbd{{- end -}}
{{- define "thumbd.indexDir" -}}/var/lib/thumbd{{- end -}}
{{- define "thumbd.cacheDir" -}}/var/cache/thumbd{{- end -}}

{{/* config.yaml: the user's config with the keys the chart owns set. */}}
{{- define "thumbd.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- range $k := list "listen" "admin_listen" "originals" "index_file" "disk_cache_dir" "disk_cache_mb" "keys" -}}
{{- if hasKey $cfg $k -}}
{{- fail (printf "config.%s is set by the chart (from ports, originals, index, diskCache or keys); remove it from config" $k) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.ports.http)) -}}
{{- $_ := set $cfg "admin_listen" (printf "0.0.0.0:%d" (int .Values.ports.admin)) -}}
{{- $_ := set $cfg "originals" "/photos" -}}
{{- if .Values.index.enabled -}}
{{- $_ := set $cfg "index_file" (printf "%s/index.jsonl" (include "thumbd.indexDir" .)) -}}
{{- end -}}
{{- if .Values.diskCache.enabled -}}
{{- $_ := set $cfg "disk_cache_dir" (include "thumbd.cacheDir" .) -}}
{{- $_ := set $cfg "disk_cache_mb" (int .Values.diskCache.sizeMB) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The photo library's volume source: originals.volume, or the claim. */}}
{{- define "thumbd.originalsVolume" -}}
{{- if .Values.originals.volume -}}
{{- toYaml .Values.originals.volume -}}
{{- else -}}
persistentVolumeClaim:
  claimName: {{ required "originals.claimName (or originals.volume): the photo library" .Values.originals.claimName }}
  readOnly: true
{{- end -}}
{{- end -}}
