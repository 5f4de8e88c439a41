#!/usr/bin/env bash
# Installs with apt what the test bed needs from Debian and is missing:
# redis (Argo CD's cache), openssl (the throwaway CA), curl (health checks),
# git (the git daemon), GNU time and flock (build.sh), Prometheus (analysis
# reads it). Idempotent and quiet when everything is there.
#
# Packages' service starts are blocked while installing (a policy-rc.d that
# exits 101): Debian's prometheus would start a daemon on :9090 on every
# interface. The bed runs its own instances on 127.0.0.1.
set -euo pipefail

# command -> Debian package
declare -A need=(
	[redis-server]=redis-server
	[openssl]=openssl
	[curl]=curl
	[git]=git
	[flock]=util-linux
	[/usr/bin/time]=time
	[sha256sum]=coreutils
	[prometheus]=prometheus
)
missing=()
for cmd in "${!need[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# git daemon is a separate program in some layouts.
if command -v git >/dev/null 2>&1 && ! [[ -x "$(git --exec-path)/git-daemon" ]]; then
	missing+=(git-daemon-run)
fi
((${#missing[@]} == 0)) && exit 0

sudo=
if ((EUID != 0)); then sudo=sudo; fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "[testbed] installing with apt: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Block service starts unless a policy already does (a container image's).
policy=/usr/sbin/policy-rc.d ours_policy=
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\n# gitcanary test bed: no service starts during its apt install\nexit 101\n' | $sudo tee "$policy" >/dev/null
	$sudo chmod 755 "$policy"
	ours_policy=1
	trap '$sudo rm -f "$policy"' EXIT
fi
before=$(pgrep -x prometheus || true)
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ -n $ours_policy ]]; then $sudo rm -f "$policy"; fi
# Should a package have started Prometheus anyway (systemd ignores
# policy-rc.d when a unit is started by other means), stop the daemon this
# install started, and only that one: the bed's instances and any other
# user's from before stay.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null &&
	! grep -qx "$(systemctl show -p MainPID --value prometheus 2>/dev/null)" <<<"$before"; then
	$sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
for pid in $(pgrep -x prometheus || true); do
	grep -qx "$pid" <<<"$before" && continue
	[[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == /usr/bin/prometheus* ]] || continue
	echo "[testbed] stopping the Prometheus (PID $pid) the package started" >&2
	$sudo kill "$pid" 2>/dev/null || true
done
# Debian starts a system redis on 6379 after install; the bed runs its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
	$sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
echo "[testbed] installed: ${missing[*]}" >&2
