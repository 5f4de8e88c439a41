# Shared by build.sh, up.sh, down.sh and status.sh. Sourced, not run.
# Everything is derived from this file's place in the repo and from env
# variables; no path of one machine is written here.

TB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_REPO=$(cd "$TB_HERE/../.." && pwd)
TB_MODULES="$TB_HERE/modules"

# The lock that every heavy Go build on this machine takes (shared with the
# other engineers' builds), so that only one runs at a time on 2 cores.
TB_HEAVY_LOCK=${GITCANARY_HEAVY_LOCK:-/tmp/gitcanary-heavy.lock}

TB_CACHE_ROOT=${GITCANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitcanary}/testbed

# Runtime state of a running bed (pids, logs, certs, kubeconfig, env file).
TB_DIR=${GITCANARY_TESTBED_DIR:-$TB_REPO/.work/testbed}

# Loopback ports, overridable one by one.
TB_HOST=127.0.0.1
TB_PORT_ETCD=${GITCANARY_TESTBED_ETCD_PORT:-12379}
TB_PORT_ETCD_PEER=${GITCANARY_TESTBED_ETCD_PEER_PORT:-12380}
TB_PORT_APISERVER=${GITCANARY_TESTBED_APISERVER_PORT:-16443}
TB_PORT_KCM=${GITCANARY_TESTBED_KCM_PORT:-16257}
TB_PORT_SCHEDULER=${GITCANARY_TESTBED_SCHEDULER_PORT:-16259}
TB_PORT_KWOK=${GITCANARY_TESTBED_KWOK_PORT:-16080}
TB_PORT_REDIS=${GITCANARY_TESTBED_REDIS_PORT:-16379}
TB_PORT_REPO_SERVER=${GITCANARY_TESTBED_REPO_SERVER_PORT:-18081}
TB_PORT_REPO_SERVER_METRICS=${GITCANARY_TESTBED_REPO_SERVER_METRICS_PORT:-18084}
TB_PORT_CONTROLLER_METRICS=${GITCANARY_TESTBED_CONTROLLER_METRICS_PORT:-18082}
TB_PORT_ARGOCD=${GITCANARY_TESTBED_ARGOCD_PORT:-18080}
TB_PORT_ARGOCD_METRICS=${GITCANARY_TESTBED_ARGOCD_METRICS_PORT:-18083}
# The notifications controller's metrics: Argo CD 2.14 binds it on 0.0.0.0
# (hard-coded); it serves only metrics.
TB_PORT_NOTIFICATIONS_METRICS=${GITCANARY_TESTBED_NOTIFICATIONS_METRICS_PORT:-18085}
TB_PORT_GIT=${GITCANARY_TESTBED_GIT_PORT:-19418}
TB_PORT_PROMETHEUS=${GITCANARY_TESTBED_PROMETHEUS_PORT:-19090}

# Components in start order; down stops them in reverse.
TB_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok redis argocd-repo-server argocd-application-controller argocd-server git-daemon prometheus argocd-notifications)

# Components added to the bed after others were running: up.sh starts them
# alone on a running bed that lacks them, without restarting the rest.
TB_LATE_COMPONENTS=(prometheus argocd-notifications)

tb_log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
tb_die() { tb_log "ERROR: $*"; exit 1; }

# tb_key prints the cache key: a hash of the wrapper modules' go.mod/go.sum,
# build.sh and the Go version (binaries differ per toolchain). Not of this
# file: ports and helpers here do not change what is built.
tb_key() {
	(
		cd "$TB_HERE"
		cat build.sh modules/*/go.mod modules/*/go.sum
		go env GOVERSION GOOS GOARCH
	) | sha256sum | cut -c1-16
}

tb_cache_dir() { printf '%s/%s\n' "$TB_CACHE_ROOT" "$(tb_key)"; }

# tb_fmt_secs 125 -> 2m05s
tb_fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# tb_port_of component -> the port that tells whether it is listening.
tb_port_of() {
	case $1 in
	etcd) echo "$TB_PORT_ETCD" ;;
	kube-apiserver) echo "$TB_PORT_APISERVER" ;;
	kube-controller-manager) echo "$TB_PORT_KCM" ;;
	kube-scheduler) echo "$TB_PORT_SCHEDULER" ;;
	kwok) echo "$TB_PORT_KWOK" ;;
	redis) echo "$TB_PORT_REDIS" ;;
	argocd-repo-server) echo "$TB_PORT_REPO_SERVER" ;;
	argocd-application-controller) echo "$TB_PORT_CONTROLLER_METRICS" ;;
	argocd-server) echo "$TB_PORT_ARGOCD" ;;
	git-daemon) echo "$TB_PORT_GIT" ;;
	prometheus) echo "$TB_PORT_PROMETHEUS" ;;
	argocd-notifications) echo "$TB_PORT_NOTIFICATIONS_METRICS" ;;
	esac
}

# tb_pid_alive component: true when its recorded PID runs.
tb_pid_alive() {
	local f="$TB_DIR/pids/$1.pid" pid
	[[ -s $f ]] || return 1
	pid=$(<"$f")
	kill -0 "$pid" 2>/dev/null
}

# tb_port_open port: true when something accepts TCP on 127.0.0.1:port.
tb_port_open() { (exec 3<>"/dev/tcp/$TB_HOST/$1") 2>/dev/null; }

# tb_prometheus_env prints the env file's lines about the bed's Prometheus.
tb_prometheus_env() {
	printf "GITCANARY_PROMETHEUS_URL='http://%s:%s'\n" "$TB_HOST" "$TB_PORT_PROMETHEUS"
	printf "GITCANARY_TESTBED_PROMETHEUS_TARGETS='%s'\n" "$TB_DIR/prometheus/targets"
}
