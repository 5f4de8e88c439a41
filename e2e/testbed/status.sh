#!/usr/bin/env bash
# Prints each component of the test bed: PID, alive or dead, port, answering.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

printf '%-31s %-8s %-6s %-17s %s\n' COMPONENT PID STATE ADDRESS PORT
up=0
for c in "${TB_COMPONENTS[@]}"; do
	f=$TB_DIR/pids/$c.pid pid=- state=dead port=$(tb_port_of "$c") open=closed
	if [[ -s $f ]]; then
		pid=$(<"$f")
		tb_pid_alive "$c" && state=alive && up=$((up + 1))
	fi
	tb_port_open "$port" && open=listening
	printf '%-31s %-8s %-6s %-17s %s\n' "$c" "$pid" "$state" "$TB_HOST:$port" "$open"
done
echo "state dir: $TB_DIR"
if ((up == ${#TB_COMPONENTS[@]})) && [[ -s $TB_DIR/env ]]; then
	echo "test bed UP (started $(cat "$TB_DIR/started" 2>/dev/null)); env file: $TB_DIR/env"
elif ((up == 0)); then
	echo "test bed DOWN"
else
	echo "test bed PARTLY up ($up of ${#TB_COMPONENTS[@]}); \`make testbed-up\` restarts it"
fi
