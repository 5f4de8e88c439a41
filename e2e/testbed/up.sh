#!/usr/bin/env bash
# Starts the local test bed on 127.0.0.1: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok (one fake Node), the Istio and
# Argo CD CRDs, redis, Argo CD (repo-server, application controller, server),
# a git daemon, Prometheus (prometheus.sh) and Argo CD's notifications
# controller (notifications.sh). Idempotent: when the bed is already up it
# says so and returns; when only components of TB_LATE_COMPONENTS are
# missing (a bed started before they were part of it) it starts those alone.
# State lives in ${GITCANARY_TESTBED_DIR:-<repo>/.work/testbed}; `env` there
# holds what clients need (see README.md).
set -Eeuo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WAIT_SECS=${GITCANARY_TESTBED_WAIT:-120}
APP_RESYNC=${GITCANARY_TESTBED_APP_RESYNC:-60}

start_time=$SECONDS

# --- already up? -------------------------------------------------------------

alive=() dead=()
for c in "${TB_COMPONENTS[@]}"; do
	if tb_pid_alive "$c"; then alive+=("$c"); else dead+=("$c"); fi
done
if ((${#dead[@]} == 0)) && [[ -s $TB_DIR/env ]] &&
	curl -fsSk --max-time 3 "https://$TB_HOST:$TB_PORT_APISERVER/readyz" >/dev/null &&
	curl -fsS --max-time 3 "http://$TB_HOST:$TB_PORT_ARGOCD/healthz" >/dev/null; then
	tb_log "test bed already up (started $(cat "$TB_DIR/started" 2>/dev/null || echo '?')); env: $TB_DIR/env"
	exit 0
fi
# notifications_ready: the notifications controller serves its metrics and
# says it works in namespace argocd (2.14 takes it from the kubeconfig).
notifications_ready() {
	curl -fsS --max-time 3 "http://$TB_HOST:$TB_PORT_NOTIFICATIONS_METRICS/metrics" >/dev/null &&
		grep -q 'namespace=argocd' "$TB_DIR/logs/argocd-notifications.log"
}

# start_late NAME: starts one of TB_LATE_COMPONENTS on a running bed, as the
# full start below does, and waits until it answers.
start_late() {
	local name=$1 port ready deadline
	port=$(tb_port_of "$name")
	tb_port_open "$port" &&
		tb_die "port $TB_HOST:$port for $name is in use by another process; stop it or override the port (see lib.sh)"
	case $name in
	prometheus)
		command -v prometheus >/dev/null || "$TB_HERE/install-deps.sh"
		rm -rf "$TB_DIR/prometheus"
		setsid "$TB_HERE/prometheus.sh" "$TB_DIR/prometheus" "$TB_PORT_PROMETHEUS" >"$TB_DIR/logs/prometheus.log" 2>&1 </dev/null &
		ready=(curl -fsS --max-time 3 "http://$TB_HOST:$TB_PORT_PROMETHEUS/-/ready")
		;;
	argocd-notifications)
		# The running Argo CD's own binary, whatever build.sh would build now.
		local bin
		bin=$(sed -n "s/^GITCANARY_TESTBED_BIN='\(.*\)'$/\1/p" "$TB_DIR/env")
		[[ -x $bin/argocd ]] || tb_die "no argocd binary in $TB_DIR/env's GITCANARY_TESTBED_BIN ($bin)"
		setsid "$TB_HERE/notifications.sh" "$TB_DIR" "$bin" "$TB_HOST:$TB_PORT_REPO_SERVER" "$TB_PORT_NOTIFICATIONS_METRICS" \
			>"$TB_DIR/logs/argocd-notifications.log" 2>&1 </dev/null &
		ready=(notifications_ready)
		;;
	*) tb_die "$name cannot be started alone" ;;
	esac
	echo $! >"$TB_DIR/pids/$name.pid"
	deadline=$((SECONDS + WAIT_SECS))
	until "${ready[@]}" >/dev/null 2>&1; do
		tb_pid_alive "$name" || { tail -n 30 "$TB_DIR/logs/$name.log" >&2; tb_die "$name exited"; }
		((SECONDS < deadline)) || tb_die "$name did not answer within ${WAIT_SECS}s"
		sleep 0.3
	done
	if [[ $name == prometheus ]]; then
		grep -v -e '^GITCANARY_PROMETHEUS_URL=' -e '^GITCANARY_TESTBED_PROMETHEUS_TARGETS=' "$TB_DIR/env" >"$TB_DIR/env.tmp"
		tb_prometheus_env >>"$TB_DIR/env.tmp"
		mv "$TB_DIR/env.tmp" "$TB_DIR/env"
	fi
	tb_log "test bed was up without $name; started it alone (port $port)"
}

# A bed started before some components were part of it (TB_LATE_COMPONENTS,
# e.g. Prometheus): start those alone rather than restart everything under
# the feet of its users.
late_only=1
for c in "${dead[@]}"; do
	[[ " ${TB_LATE_COMPONENTS[*]} " == *" $c "* ]] || late_only=0
done
if ((${#dead[@]} > 0 && ${#alive[@]} > 0 && late_only)) && [[ -s $TB_DIR/env ]] &&
	curl -fsSk --max-time 3 "https://$TB_HOST:$TB_PORT_APISERVER/readyz" >/dev/null &&
	curl -fsS --max-time 3 "http://$TB_HOST:$TB_PORT_ARGOCD/healthz" >/dev/null; then
	mkdir -p "$TB_DIR/logs" "$TB_DIR/pids"
	umask 077
	for c in "${dead[@]}"; do start_late "$c"; done
	exit 0
fi
if ((${#alive[@]} > 0)); then
	tb_log "test bed partly up (not running: ${dead[*]:-none}); restarting it"
	"$TB_HERE/down.sh"
fi

# --- binaries, dirs, ports ---------------------------------------------------

"$TB_HERE/install-deps.sh"
BIN=$("$TB_HERE/build.sh")
CACHE=$(dirname "$BIN")
export PATH="$BIN:$PATH"

for c in "${TB_COMPONENTS[@]}"; do
	p=$(tb_port_of "$c")
	if tb_port_open "$p"; then
		tb_die "port $TB_HOST:$p for $c is in use by another process; stop it or override the port (see lib.sh)"
	fi
done

# A fresh cluster on every start: tests must not depend on leftovers. The
# previous run's logs are kept in logs.prev/.
mkdir -p "$TB_DIR"
rm -rf "$TB_DIR/logs.prev"
[[ -d $TB_DIR/logs ]] && mv "$TB_DIR/logs" "$TB_DIR/logs.prev"
rm -rf "$TB_DIR/pids" "$TB_DIR/etcd" "$TB_DIR/certs" "$TB_DIR/git" "$TB_DIR/redis" \
	"$TB_DIR/argocd" "$TB_DIR/tmp" "$TB_DIR/env" "$TB_DIR/kubeconfig" "$TB_DIR/started" "$TB_DIR/prometheus"
mkdir -p "$TB_DIR"/{pids,logs,etcd,certs,git,redis,tmp,argocd/{ssh,tls,gpg,plugins}}
chmod 700 "$TB_DIR/etcd" "$TB_DIR/certs"
LOGS=$TB_DIR/logs
CERTS=$TB_DIR/certs
KUBECONFIG_FILE=$TB_DIR/kubeconfig
export KUBECONFIG=$KUBECONFIG_FILE

# start NAME CMD... runs CMD in its own session with output to logs/NAME.log
# and records its real PID (setsid execs in place: the shell has no job
# control, so the child is no process-group leader and setsid does not fork).
start() {
	local name=$1
	shift
	setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$TB_DIR/pids/$name.pid"
}

failed() { # NAME WHY: print the tail of NAME's log, stop what runs, exit
	local name=$1 why=$2
	tb_log "ERROR: $name $why; last lines of $LOGS/$name.log:"
	tail -n 30 "$LOGS/$name.log" >&2 || true
	tb_log "stopping what was started; logs stay in $LOGS"
	"$TB_HERE/down.sh" >/dev/null 2>&1 || true
	exit 1
}

# wait_for NAME CMD...: retry CMD until it succeeds, NAME dies or time runs out.
wait_for() {
	local name=$1 deadline=$((SECONDS + WAIT_SECS))
	shift
	until "$@" >/dev/null 2>&1; do
		tb_pid_alive "$name" || failed "$name" "exited"
		((SECONDS < deadline)) || failed "$name" "did not answer within ${WAIT_SECS}s"
		sleep 0.3
	done
}

http_ok() { curl -fsS --max-time 3 "$@"; }
https_ok() { curl -fsS --max-time 3 --cacert "$CERTS/ca.crt" "$@"; }
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# Any unexpected failure from here on: stop what was started, keep the logs.
trap 'tb_log "ERROR: up.sh failed at line $LINENO; stopping what was started (logs in $LOGS)"; "$TB_HERE/down.sh" >/dev/null 2>&1' ERR

# --- throwaway CA and certificates --------------------------------------------

tb_log "starting the test bed in $TB_DIR"
(
	cd "$CERTS"
	umask 077
	ossl() { openssl "$@" 2>/dev/null; }
	ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=gitcanary-testbed-ca"
	# cert NAME SUBJECT [SAN]: a key and a cert signed by the CA.
	cert() {
		local ext="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=${3:+serverAuth,}clientAuth"
		[[ -n ${3:-} ]] && ext+=$'\n'"subjectAltName=$3"
		ossl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
		ossl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out "$1.crt" \
			-extfile <(printf '%s\n' "$ext")
		rm -f "$1.csr"
	}
	cert apiserver "/CN=kube-apiserver" \
		"IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert admin "/O=system:masters/CN=gitcanary-testbed-admin"
	cert front-proxy-client "/CN=front-proxy-client"
	ossl genrsa -out sa.key 2048
	ossl rsa -in sa.key -pubout -out sa.pub
) || tb_die "openssl failed to make the certificates in $CERTS"

b64() { base64 -w0 <"$1"; }
cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://$TB_HOST:$TB_PORT_APISERVER
    certificate-authority-data: $(b64 "$CERTS/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$CERTS/admin.crt")
    client-key-data: $(b64 "$CERTS/admin.key")
contexts:
- name: testbed
  context: {cluster: testbed, user: admin}
current-context: testbed
EOF
chmod 600 "$KUBECONFIG_FILE"

# --- etcd and kube-apiserver --------------------------------------------------

start etcd etcd --name testbed --data-dir "$TB_DIR/etcd" --unsafe-no-fsync \
	--listen-client-urls "http://$TB_HOST:$TB_PORT_ETCD" --advertise-client-urls "http://$TB_HOST:$TB_PORT_ETCD" \
	--listen-peer-urls "http://$TB_HOST:$TB_PORT_ETCD_PEER" --initial-advertise-peer-urls "http://$TB_HOST:$TB_PORT_ETCD_PEER" \
	--initial-cluster "testbed=http://$TB_HOST:$TB_PORT_ETCD_PEER" --log-level warn
wait_for etcd http_ok "http://$TB_HOST:$TB_PORT_ETCD/health"
tb_log "etcd ready"

start kube-apiserver kube-apiserver \
	--etcd-servers "http://$TB_HOST:$TB_PORT_ETCD" \
	--bind-address "$TB_HOST" --advertise-address "$TB_HOST" --secure-port "$TB_PORT_APISERVER" \
	--endpoint-reconciler-type none \
	--tls-cert-file "$CERTS/apiserver.crt" --tls-private-key-file "$CERTS/apiserver.key" \
	--client-ca-file "$CERTS/ca.crt" \
	--requestheader-client-ca-file "$CERTS/ca.crt" --requestheader-allowed-names front-proxy-client \
	--requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
	--requestheader-extra-headers-prefix X-Remote-Extra- \
	--proxy-client-cert-file "$CERTS/front-proxy-client.crt" --proxy-client-key-file "$CERTS/front-proxy-client.key" \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$CERTS/sa.pub" --service-account-signing-key-file "$CERTS/sa.key" \
	--service-cluster-ip-range 10.96.0.0/16 \
	--authorization-mode Node,RBAC --allow-privileged \
	--profiling=false
wait_for kube-apiserver https_ok "https://$TB_HOST:$TB_PORT_APISERVER/readyz"
tb_log "kube-apiserver ready"

# --- everything that only needs the apiserver, started together ----------------

start kube-controller-manager kube-controller-manager \
	--kubeconfig "$KUBECONFIG_FILE" \
	--authentication-kubeconfig "$KUBECONFIG_FILE" --authorization-kubeconfig "$KUBECONFIG_FILE" \
	--bind-address "$TB_HOST" --secure-port "$TB_PORT_KCM" --leader-elect=false \
	--controllers '*,-node-ipam-controller,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller,-persistentvolume-binder-controller,-persistentvolume-attach-detach-controller,-persistentvolume-expander-controller,-persistentvolume-protection-controller,-persistentvolumeclaim-protection-controller' \
	--service-account-private-key-file "$CERTS/sa.key" --root-ca-file "$CERTS/ca.crt" \
	--cluster-signing-cert-file "$CERTS/ca.crt" --cluster-signing-key-file "$CERTS/ca.key" \
	--service-cluster-ip-range 10.96.0.0/16 --profiling=false
start kube-scheduler kube-scheduler \
	--kubeconfig "$KUBECONFIG_FILE" \
	--authentication-kubeconfig "$KUBECONFIG_FILE" --authorization-kubeconfig "$KUBECONFIG_FILE" \
	--bind-address "$TB_HOST" --secure-port "$TB_PORT_SCHEDULER" --leader-elect=false --profiling=false

# kwok: the stock stages of the kwok module (pod delays capped at 1 s so a
# rollout takes seconds), plus one that keeps pods whose image tag is
# "never-ready" Running but not Ready: the "broken canary". The stock
# pod-ready stage gets a matching exclusion, else kwok picks among both.
never_ready='.spec.containers.[].image | endswith(":never-ready")'
kwok_config=$TB_DIR/kwok.yaml
{
	for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
		pod/general/pod-create.yaml pod/general/pod-init-container-running.yaml \
		pod/general/pod-init-container-completed.yaml pod/general/pod-ready.yaml \
		pod/general/pod-complete.yaml pod/general/pod-delete.yaml; do
		echo ---
		if [[ $f == */pod-* ]]; then
			sed 's/jitterDurationMilliseconds: 5000/jitterDurationMilliseconds: 1000/' "$CACHE/kwok-stages/$f"
		else
			cat "$CACHE/kwok-stages/$f"
		fi |
			if [[ $f == */pod-ready.yaml ]]; then
				awk -v k="$never_ready" '{print} /^    matchExpressions:$/ && !done {
					print "    - key: '\''" k "'\''"; print "      operator: NotIn"; print "      values: [\"true\"]"; done=1 }'
			else cat; fi
	done
	cat <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-never-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '$never_ready'
      operator: In
      values: ["true"]
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: [Pending]
    - key: '.status.conditions.[] | select( .type == "Initialized" ) | .status'
      operator: In
      values: ["True"]
    - key: '.status.containerStatuses.[].state.running.startedAt'
      operator: DoesNotExist
  delay:
    durationMilliseconds: 1000
  next:
    statusTemplate: |
      {{ \$now := Now }}
      conditions:
      - lastProbeTime: null
        lastTransitionTime: {{ \$now | Quote }}
        message: 'containers with unready status: [{{ range .spec.containers }} {{ .name }} {{ end }}]'
        reason: ContainersNotReady
        status: "False"
        type: Ready
      - lastProbeTime: null
        lastTransitionTime: {{ \$now | Quote }}
        message: 'containers with unready status: [{{ range .spec.containers }} {{ .name }} {{ end }}]'
        reason: ContainersNotReady
        status: "False"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: true
        state:
          running:
            startedAt: {{ \$now | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ \$now | Quote }}
EOF
} >"$kwok_config"
start kwok kwok --kubeconfig "$KUBECONFIG_FILE" --config "$kwok_config" \
	--manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
	--server-address "$TB_HOST:$TB_PORT_KWOK" --node-ip 10.250.0.1 --cidr 10.244.0.0/16

start redis redis-server --bind "$TB_HOST" --port "$TB_PORT_REDIS" --protected-mode yes \
	--save '' --appendonly no --dir "$TB_DIR/redis" --daemonize no
# git-daemon itself, not `git daemon`, which would run it as a child.
start git-daemon "$(git --exec-path)/git-daemon" --listen="$TB_HOST" --port="$TB_PORT_GIT" --export-all \
	--enable=receive-pack --reuseaddr --informative-errors --base-path="$TB_DIR/git" "$TB_DIR/git"
# Prometheus (Debian's), scraping every 1 s the traffic simulators whose
# addresses tests write to prometheus/targets/*.json (prometheus.sh).
start prometheus "$TB_HERE/prometheus.sh" "$TB_DIR/prometheus" "$TB_PORT_PROMETHEUS"

# --- cluster objects: node, CRDs, Argo CD config --------------------------------

# retry N CMD...: the apiserver needs a moment for new CRDs and namespaces.
retry() {
	local n=$1 i
	shift
	for ((i = 1; ; i++)); do
		"$@" && return 0
		((i < n)) || return 1
		sleep 1
	done
}

kc apply -f - >/dev/null <<EOF || failed kube-apiserver "rejected the fake Node"
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    type: kwok
EOF

kc apply --server-side -f "$CACHE/crds/istio.yaml" -f "$CACHE/crds/argocd-application.yaml" \
	-f "$CACHE/crds/argocd-appproject.yaml" -f "$CACHE/crds/argocd-applicationset.yaml" >/dev/null ||
	failed kube-apiserver "rejected the CRDs"
retry 30 kc wait --for condition=Established --timeout 30s crd --all >/dev/null 2>&1 ||
	failed kube-apiserver "did not establish the CRDs"

admin_password=$(openssl rand -hex 12)
printf '%s\n' "$admin_password" >"$TB_DIR/argocd/admin-password"
chmod 600 "$TB_DIR/argocd/admin-password"
admin_hash=$(argocd account bcrypt --password "$admin_password")
secret_key=$(openssl rand -base64 32)
now=$(date -u +%FT%TZ)
retry 10 kc apply -f - >/dev/null <<EOF || failed kube-apiserver "rejected the Argo CD config"
apiVersion: v1
kind: Namespace
metadata:
  name: argocd
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
data:
  admin.enabled: "true"
  accounts.gitcanary: apiKey, login
  # The default (180 s) refresh of the controller is --app-resync; gitcanary
  # syncs and refreshes explicitly anyway.
  timeout.reconciliation: ${APP_RESYNC}s
  # Argo CD 3.0's default exclusions (2.14 only excludes Events and
  # Leases): every pod's readiness change rewrites Endpoints and
  # EndpointSlices, and each rewrite made the controller refresh the
  # Application of their Service, a load on a 2-core bed that slowed
  # every scenario. gitcanary reads endpoints from the cluster itself.
  resource.exclusions: |
    - apiGroups: [""]
      kinds: [Endpoints]
    - apiGroups: [discovery.k8s.io]
      kinds: [EndpointSlice]
    - apiGroups: [coordination.k8s.io]
      kinds: [Lease]
    - apiGroups: [authentication.k8s.io, authorization.k8s.io]
      kinds: [SelfSubjectReview, TokenReview, LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview]
    - apiGroups: [certificates.k8s.io]
      kinds: [CertificateSigningRequest]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-rbac-cm
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
data:
  policy.default: role:readonly
  policy.csv: |
    g, gitcanary, role:admin
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cmd-params-cm
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-ssh-known-hosts-cm
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-tls-certs-cm
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-gpg-keys-cm
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: Secret
metadata:
  name: argocd-secret
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
type: Opaque
stringData:
  admin.password: '$admin_hash'
  admin.passwordMtime: '$now'
  server.secretkey: '$secret_key'
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: default
  namespace: argocd
spec:
  sourceRepos: ['*']
  destinations:
  - {namespace: '*', server: '*'}
  clusterResourceWhitelist:
  - {group: '*', kind: '*'}
EOF

# --- Argo CD --------------------------------------------------------------------

wait_for redis tb_port_open "$TB_PORT_REDIS"

# Out of cluster: the in-cluster destination is built from $KUBECONFIG.
# Every socket and data path is the bed's own: the repo-server's git askpass
# socket defaults to /tmp/reposerver-ask-pass.sock, which a second bed on
# the machine would take over (its http repositories' credentials then fail
# with "unable to read askpass response").
argo_env=(env ARGOCD_FAKE_IN_CLUSTER=true KUBECONFIG="$KUBECONFIG_FILE" TMPDIR="$TB_DIR/tmp"
	ARGOCD_GPG_ENABLED=false ARGOCD_GNUPGHOME="$TB_DIR/argocd/gpg"
	ARGOCD_SSH_DATA_PATH="$TB_DIR/argocd/ssh" ARGOCD_TLS_DATA_PATH="$TB_DIR/argocd/tls"
	ARGOCD_PLUGINSOCKFILEPATH="$TB_DIR/argocd/plugins" PATH="$PATH"
	ARGOCD_ASK_PASS_SOCK="$TB_DIR/tmp/reposerver-ask-pass.sock")
redis=$TB_HOST:$TB_PORT_REDIS
repo=$TB_HOST:$TB_PORT_REPO_SERVER
start argocd-repo-server "${argo_env[@]}" argocd-repo-server \
	--address "$TB_HOST" --port "$TB_PORT_REPO_SERVER" \
	--metrics-address "$TB_HOST" --metrics-port "$TB_PORT_REPO_SERVER_METRICS" \
	--disable-tls --redis "$redis" --loglevel info
start argocd-application-controller "${argo_env[@]}" argocd-application-controller --namespace argocd \
	--metrics-port "$TB_PORT_CONTROLLER_METRICS" --redis "$redis" \
	--repo-server "$repo" --repo-server-plaintext \
	--app-resync "$APP_RESYNC" --status-processors 4 --operation-processors 2 --loglevel info
start argocd-server "${argo_env[@]}" argocd-server --namespace argocd --insecure \
	--address "$TB_HOST" --port "$TB_PORT_ARGOCD" \
	--metrics-address "$TB_HOST" --metrics-port "$TB_PORT_ARGOCD_METRICS" \
	--redis "$redis" --repo-server "$repo" --repo-server-plaintext \
	--staticassets "$TB_DIR/argocd/no-ui" --loglevel info
# Argo CD's notifications controller (notifications.sh): Applications and
# argocd-notifications-cm in namespace argocd; commit messages through the
# repo-server.
start argocd-notifications "$TB_HERE/notifications.sh" "$TB_DIR" "$BIN" "$repo" "$TB_PORT_NOTIFICATIONS_METRICS"

# --- wait for every component ---------------------------------------------------

wait_for kube-controller-manager https_ok -k "https://$TB_HOST:$TB_PORT_KCM/healthz"
wait_for kube-scheduler https_ok -k "https://$TB_HOST:$TB_PORT_SCHEDULER/healthz"
wait_for kwok http_ok "http://$TB_HOST:$TB_PORT_KWOK/healthz"
wait_for kwok kc wait --for condition=Ready --timeout 2s node/kwok-node-0
wait_for git-daemon tb_port_open "$TB_PORT_GIT"
wait_for prometheus http_ok "http://$TB_HOST:$TB_PORT_PROMETHEUS/-/ready"
wait_for argocd-repo-server http_ok "http://$TB_HOST:$TB_PORT_REPO_SERVER_METRICS/healthz"
wait_for argocd-application-controller http_ok "http://127.0.0.1:$TB_PORT_CONTROLLER_METRICS/healthz"
wait_for argocd-server http_ok "http://$TB_HOST:$TB_PORT_ARGOCD/healthz"
wait_for argocd-notifications notifications_ready

# An API token of the gitcanary account, made through Argo CD itself.
api=http://$TB_HOST:$TB_PORT_ARGOCD/api/v1
json_token() { sed -n 's/.*"token":"\([^"]*\)".*/\1/p'; }
jcurl() { curl -fsS --max-time 10 -H 'Content-Type: application/json' "$@"; }
session=$(jcurl "$api/session" -d "{\"username\":\"admin\",\"password\":\"$admin_password\"}" | json_token) || true
[[ -n $session ]] || failed argocd-server "refused the admin login"
token=$(jcurl -H "Authorization: Bearer $session" "$api/account/gitcanary/token" \
	-d '{"name":"gitcanary","id":"testbed"}' | json_token) || true
[[ -n $token ]] || failed argocd-server "did not issue a token for the gitcanary account"
jcurl -H "Authorization: Bearer $token" "$api/applications" >/dev/null ||
	failed argocd-server "rejected the gitcanary token"

# --- env file ---------------------------------------------------------------------

umask 077
cat >"$TB_DIR/env.tmp" <<EOF
# Written by e2e/testbed/up.sh; source it (set -a; . env) or read it with the
# Go package github.com/gitcanary/gitcanary/e2e/testbed.
GITCANARY_TESTBED_DIR='$TB_DIR'
GITCANARY_TESTBED_BIN='$BIN'
KUBECONFIG='$KUBECONFIG_FILE'
ARGOCD_SERVER='$TB_HOST:$TB_PORT_ARGOCD'
ARGOCD_AUTH_TOKEN='$token'
ARGOCD_OPTS='--plaintext'
ARGOCD_ADMIN_PASSWORD='$admin_password'
GITCANARY_TESTBED_GIT='git://$TB_HOST:$TB_PORT_GIT/'
GITCANARY_TESTBED_GIT_DIR='$TB_DIR/git'
EOF
tb_prometheus_env >>"$TB_DIR/env.tmp"
mv "$TB_DIR/env.tmp" "$TB_DIR/env"
date -u +%FT%TZ >"$TB_DIR/started"

tb_log "test bed up in $((SECONDS - start_time))s: apiserver https://$TB_HOST:$TB_PORT_APISERVER, argocd $TB_HOST:$TB_PORT_ARGOCD (plaintext), git git://$TB_HOST:$TB_PORT_GIT/, prometheus http://$TB_HOST:$TB_PORT_PROMETHEUS"
tb_log "env: $TB_DIR/env  (set -a; . $TB_DIR/env; set +a; kubectl get nodes; argocd app list)"
