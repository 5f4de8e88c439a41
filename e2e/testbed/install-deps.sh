#!/usr/bin/env bash
# Installs with apt what the test bed needs from Debian and is missing:
# redis (Argo CD's cache), openssl (the throwaway CA), curl (health checks),
# git (the git daemon), GNU time and flock (build.sh). Idempotent and quiet
# when everything is there.
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
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a system redis on 6379 after install; the bed runs its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
	$sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
echo "[testbed] installed: ${missing[*]}" >&2
