#!/usr/bin/env bash
# prometheus.sh DIR PORT: runs the test bed's Prometheus (Debian's package,
# /usr/bin/prometheus) on 127.0.0.1:PORT with everything under DIR:
#
#   DIR/prometheus.yml   written here: scrape every 1 s, one job `trafficsim`
#   DIR/targets/*.json   file_sd: one file per scrape target, written by
#                        whoever runs a traffic simulator (e2e/trafficsim)
#   DIR/data/            the TSDB
#
# It execs Prometheus, so the PID of this script is Prometheus's. up.sh runs
# it for the bed; tests that find no Prometheus in the bed run the same
# script (testbed.StartPrometheus) in a directory of their own.
set -euo pipefail
(($# == 2)) || { echo "usage: $0 DIR PORT" >&2; exit 2; }
dir=$1 port=$2
[[ $port =~ ^[0-9]+$ ]] || { echo "prometheus.sh: bad port: $port" >&2; exit 2; }
command -v prometheus >/dev/null || {
	echo "prometheus.sh: no prometheus on PATH; install Debian's package (e2e/testbed/install-deps.sh)" >&2
	exit 1
}
mkdir -p "$dir/targets" "$dir/data"
dir=$(cd "$dir" && pwd)

# scrape_timeout 1s: a sample is stamped with its scrape's start and stored
# at most 1 s later, so a look is settled (pkg/prom) 1 s after its end plus
# a margin. The series carry namespace and pod themselves, as the
# relabelling of Istio's kubernetes-pods job would add them; honor_labels
# keeps them as they are.
cat >"$dir/prometheus.yml.tmp" <<EOF
# Written by e2e/testbed/prometheus.sh.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: trafficsim
    honor_labels: true
    file_sd_configs:
      - files: ['$dir/targets/*.json']
        refresh_interval: 5s
EOF
mv "$dir/prometheus.yml.tmp" "$dir/prometheus.yml"

exec prometheus \
	--config.file="$dir/prometheus.yml" \
	--storage.tsdb.path="$dir/data" \
	--storage.tsdb.retention.time=7d \
	--web.listen-address="127.0.0.1:$port" \
	--log.level=info
