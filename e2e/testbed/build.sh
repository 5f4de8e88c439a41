#!/usr/bin/env bash
# Builds every binary of the test bed into a cache outside the work tree:
#   ${GITCANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitcanary}/testbed/<key>/bin
# <key> hashes the wrapper modules' go.mod/go.sum, this script and the Go
# version. When <key>/complete exists nothing runs (a warm run takes well
# under a second). A cold build is ~30 CPU-minutes; each heavy `go build` holds
# the machine-wide heavy-build lock so builds of other engineers do not overlap.
#
# Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_VERSION=v1.33.13
ARGOCD_VERSION=2.14.21
ISTIO_API_VERSION=v1.31.1

# Identical flags on every run and machine, whatever the caller's env says,
# so that Go's build cache and this cache are hit.
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" GOTOOLCHAIN=local GO111MODULE=on

key=$(tb_key)
dir=$TB_CACHE_ROOT/$key
bin=$dir/bin
if [[ -f $dir/complete ]]; then
	printf '%s\n' "$bin"
	exit 0
fi

mkdir -p "$bin" "$dir/stamps"
buildlog=$dir/build.log
tb_log "no completion stamp: building into $dir (log: $buildlog)"
total_start=$SECONDS

# build NAME MODULE LDFLAGS OUT PKG... builds PKGs of modules/MODULE into OUT
# (a file, or bin/ for several), once per cache key; prints a heartbeat.
build() {
	local name=$1 mod=$2 ldflags=$3 out=$4 start pid rc=0 last=0
	shift 4
	if [[ -f $dir/stamps/$name ]]; then
		tb_log "$name: already built"
		return
	fi
	local pkgs=() a
	for a; do [[ $a == -* ]] || pkgs+=("$a"); done
	tb_log "$name: building ${pkgs[*]}"
	start=$SECONDS
	if ! flock -n -E 75 "$TB_HEAVY_LOCK" true; then
		tb_log "  waiting for the heavy-build lock $TB_HEAVY_LOCK (another build holds it)"
	fi
	(
		cd "$TB_MODULES/$mod"
		printf '\n== %s\n' "$name"
		/usr/bin/time -f "$name: wall %es, cpu %Us user + %Ss sys, max rss %MKiB" \
			-a -o "$dir/times.log" \
			flock "$TB_HEAVY_LOCK" go build -trimpath -ldflags "$ldflags" -o "$out" "$@"
	) >>"$buildlog" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		if ((SECONDS - start - last >= 60)); then
			last=$((SECONDS - start))
			tb_log "  $name: still building, $(tb_fmt_secs "$last") elapsed"
		fi
	done
	wait "$pid" || rc=$?
	if ((rc != 0)); then
		tail -n 40 "$buildlog" >&2
		tb_die "$name: go build failed (exit $rc); full log: $buildlog"
	fi
	touch "$dir/stamps/$name"
	tb_log "$name: done in $(tb_fmt_secs $((SECONDS - start)))"
}

# moddir MODULE MODPATH prints the module cache dir of MODPATH as required by
# wrapper MODULE, downloading its source first: on a fresh module cache
# `go list -m` knows the version but prints an empty Dir.
moddir() {
	local d
	d=$(go -C "$TB_MODULES/$1" mod download -json "$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[[ -n $d && -d $d ]] || tb_die "cannot find the source of $2 (required by e2e/testbed/modules/$1)"
	printf '%s\n' "$d"
}

strip='-s -w'

build kustomize kustomize "$strip" "$bin/kustomize" sigs.k8s.io/kustomize/kustomize/v5
build kwok kwok "$strip" "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok
build etcd etcd "$strip" "$bin/etcd" go.etcd.io/etcd/server/v3

kube_ldflags=$strip
kube_minor=${KUBE_VERSION#v1.}
kube_minor=${kube_minor%%.*}
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$kube_minor"
	kube_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
build kube kube "$kube_ldflags" "$bin/" \
	k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl

# The application controller's metrics/health server binds 0.0.0.0 (hard-coded
# in 2.14). Go refuses -overlay for files in the module cache, so the module is
# copied (hard links where possible) with that one line patched to 127.0.0.1,
# and built through a go.mod that replaces argo-cd/v2 with the copy.
argocd_dir=$(moddir argocd github.com/argoproj/argo-cd/v2)
src=$dir/src/argo-cd
if [[ ! -f $dir/stamps/argocd ]]; then
	rm -rf "$dir/src"
	mkdir -p "$dir/src"
	cp -rl "$argocd_dir" "$src" 2>/dev/null || { rm -rf "$src"; cp -r "$argocd_dir" "$src"; }
	chmod u+w "$src" "$src/controller"
	rm -f "$src/controller/appcontroller.go"
	sed 's/fmt.Sprintf("0.0.0.0:%d", metricsPort)/fmt.Sprintf("127.0.0.1:%d", metricsPort)/' \
		"$argocd_dir/controller/appcontroller.go" >"$src/controller/appcontroller.go"
	grep -q 'fmt.Sprintf("127.0.0.1:%d", metricsPort)' "$src/controller/appcontroller.go" ||
		tb_die "argo-cd controller/appcontroller.go changed: the 127.0.0.1 patch no longer applies"
	{ cat "$TB_MODULES/argocd/go.mod"; printf '\nreplace github.com/argoproj/argo-cd/v2 => %s\n' "$src"; } >"$dir/src/argocd.mod"
	cp "$TB_MODULES/argocd/go.sum" "$dir/src/argocd.sum"
fi
build argocd argocd "$strip -X github.com/argoproj/argo-cd/v2/common.version=$ARGOCD_VERSION" \
	"$bin/argocd" -modfile="$dir/src/argocd.mod" github.com/argoproj/argo-cd/v2/cmd
# The one Argo CD binary dispatches on argv[0].
for n in argocd-server argocd-repo-server argocd-application-controller; do
	ln -sfn argocd "$bin/$n"
done

# Manifests the bed applies: Istio and Argo CD CRDs, kwok's stock stages.
tb_log "copying CRDs and kwok stages"
mkdir -p "$dir/crds" "$dir/kwok-stages"
istio_dir=$(cd "$dir" && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -n $istio_dir ]] || tb_die "cannot download istio.io/api@$ISTIO_API_VERSION"
cp "$istio_dir/kubernetes/customresourcedefinitions.gen.yaml" "$dir/crds/istio.yaml"
for f in application appproject applicationset; do
	cp "$argocd_dir/manifests/crds/$f-crd.yaml" "$dir/crds/argocd-$f.yaml"
done
kwok_dir=$(moddir kwok sigs.k8s.io/kwok)
(cd "$kwok_dir/kustomize/stage" && find . -name '*.yaml' ! -path '*/testdata/*' ! -name kustomization.yaml) |
	while read -r f; do
		mkdir -p "$dir/kwok-stages/$(dirname "$f")"
		cp "$kwok_dir/kustomize/stage/$f" "$dir/kwok-stages/$f"
	done
chmod -R u+w "$dir/crds" "$dir/kwok-stages"
rm -rf "$dir/src" # the patched copy is only needed to build

"$bin/kubectl" version --client >/dev/null
"$bin/etcd" --version >/dev/null
date -u +%FT%TZ >"$dir/complete"
# Keep the two newest complete builds (a running bed may use the older one).
for old in $(ls -1dt "$TB_CACHE_ROOT"/*/complete 2>/dev/null | tail -n +3); do
	old=$(dirname "$old")
	tb_log "removing old build $old"
	rm -rf "$old"
done
tb_log "build done in $(tb_fmt_secs $((SECONDS - total_start))); per part (wall includes lock waits):"
sed 's/^/    /' "$dir/times.log" >&2
printf '%s\n' "$bin"
