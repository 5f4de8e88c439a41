#!/usr/bin/env bash
# notifications.sh DIR BIN REPO_SERVER METRICS_PORT: runs Argo CD's
# notifications controller for the test bed whose state is in DIR, from the
# argocd binary in BIN (Argo CD's one binary dispatches on
# ARGOCD_BINARY_NAME), reading git through the repo-server at REPO_SERVER
# (plaintext gRPC). It execs the controller, so the caller's PID is the
# controller's.
#
# Argo CD 2.14's controller takes the namespace it works in (Applications,
# argocd-notifications-cm, argocd-notifications-secret) from its
# kubeconfig's context: its --namespace flag is never read. It gets a copy
# of the bed's admin kubeconfig whose context names argocd
# (DIR/argocd/notifications.kubeconfig); the shared kubeconfig is left alone.
# --config-map-name and --secret-name are Argo CD's defaults, spelled out:
# they also name the process for down.sh and outage.sh, which look for
# "argocd-notifications" in its command line.
set -euo pipefail
(($# == 4)) || { echo "usage: $0 DIR BIN REPO_SERVER METRICS_PORT" >&2; exit 2; }
dir=$1 bin=$2 repo=$3 port=$4
kcfg=$dir/argocd/notifications.kubeconfig
umask 077
mkdir -p "$dir/argocd" "$dir/tmp"
cp "$dir/kubeconfig" "$kcfg.tmp"
"$bin/kubectl" --kubeconfig "$kcfg.tmp" config set-context testbed --namespace argocd >/dev/null
mv "$kcfg.tmp" "$kcfg"
exec env ARGOCD_BINARY_NAME=argocd-notifications TMPDIR="$dir/tmp" "$bin/argocd" \
	--kubeconfig "$kcfg" --config-map-name argocd-notifications-cm --secret-name argocd-notifications-secret \
	--argocd-repo-server "$repo" --argocd-repo-server-plaintext \
	--metrics-port "$port" --loglevel info
