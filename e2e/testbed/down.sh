#!/usr/bin/env bash
# Stops the test bed: exactly the PIDs recorded in pids/ by up.sh, in reverse
# start order, with TERM and then KILL after a grace period. Logs stay.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GRACE=${GITCANARY_TESTBED_STOP_GRACE:-10}

# expected_comm NAME: a word the process's command line must contain, so a
# PID reused by an unrelated process after a reboot is never signalled.
expected() {
	case $1 in
	redis) echo redis-server ;;
	*) echo "$1" ;;
	esac
}

ours() { # NAME PID: true when PID runs the program of NAME
	local cmdline
	cmdline=$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"$(expected "$1")"* ]]
}

stopped=() signalled=()
for ((i = ${#TB_COMPONENTS[@]} - 1; i >= 0; i--)); do
	c=${TB_COMPONENTS[i]}
	f=$TB_DIR/pids/$c.pid
	[[ -s $f ]] || continue
	pid=$(<"$f")
	if kill -0 "$pid" 2>/dev/null && ours "$c" "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		signalled+=("$c:$pid")
	else
		rm -f "$f"
	fi
done

deadline=$((SECONDS + GRACE))
for entry in "${signalled[@]}"; do
	c=${entry%%:*} pid=${entry##*:}
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	if kill -0 "$pid" 2>/dev/null; then
		tb_log "$c ($pid) still running after ${GRACE}s; KILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$TB_DIR/pids/$c.pid"
	stopped+=("$c")
done
rm -f "$TB_DIR/env" "$TB_DIR/started"
if ((${#stopped[@]} == 0)); then
	tb_log "test bed not running"
else
	tb_log "stopped: ${stopped[*]}; logs in $TB_DIR/logs"
fi
