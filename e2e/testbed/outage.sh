#!/usr/bin/env bash
# outage.sh COMPONENT SECONDS: takes one component of the running test bed
# away for SECONDS, then brings it back, e.g. `outage.sh argocd-repo-server 60`.
# It stops exactly the PID recorded in pids/COMPONENT.pid (TERM, then KILL
# after 10 s), waits, and starts the same program again with the same
# arguments, environment and working directory (read from /proc before the
# stop), appending to logs/COMPONENT.log and recording the new PID. One outage
# at a time per bed (a lock in the state directory). The e2e tests run it
# detached (setsid), so the component comes back even if the test dies.
# Prints "stopped PID" once the component is down and "started PID" at the end.
set -euo pipefail
if [[ -n ${GITCANARY_TESTBED_DIR:-} ]]; then
	TB_DIR=$GITCANARY_TESTBED_DIR
else
	. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi
log() { printf '[outage %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

(($# == 2)) || die "usage: $0 COMPONENT SECONDS"
name=$1 secs=$2
[[ $name =~ ^[a-z-]+$ ]] || die "bad component name: $name"
[[ $secs =~ ^[0-9]+$ ]] || die "bad number of seconds: $secs"
pidfile=$TB_DIR/pids/$name.pid
[[ -s $pidfile ]] || die "no $pidfile: is the test bed up?"

exec 9>"$TB_DIR/outage.lock"
flock -n 9 || die "another outage of this test bed is in progress"

pid=$(<"$pidfile")
kill -0 "$pid" 2>/dev/null || die "$name ($pid) is not running"
mapfile -d '' argv <"/proc/$pid/cmdline"
mapfile -d '' envv <"/proc/$pid/environ"
cwd=$(readlink "/proc/$pid/cwd")
# Never signal a PID that was reused by another program.
want=$name
[[ $name == redis ]] && want=redis-server
[[ " ${argv[*]} " == *"$want"* ]] || die "PID $pid runs ${argv[0]}, not $name"

kill -TERM "$pid"
for ((i = 0; i < 50; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
	log "$name ($pid) still running after 10s; KILL"
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.5
fi
log "stopped $name ($pid) for ${secs}s"
echo "stopped $pid"
sleep "$secs"

# As up.sh starts it: its own session, the same argv[0] (Argo CD's binary
# dispatches on it), the lock not inherited.
cd "$cwd"
# Close every inherited descriptor above 2: a caller run under `flock` (the
# Makefile's heavy-build lock) must not leave the lock held by the component.
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	((fd > 2)) && eval "exec $fd>&-" 2>/dev/null || true
done
setsid env -i "${envv[@]}" "${argv[@]}" >>"$TB_DIR/logs/$name.log" 2>&1 </dev/null &
new=$!
echo "$new" >"$pidfile"
sleep 1
kill -0 "$new" 2>/dev/null || die "$name exited right after its restart; see $TB_DIR/logs/$name.log"
log "started $name again ($new)"
echo "started $new"
