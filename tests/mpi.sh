#!/usr/bin/env bash
# mpi.sh -- data-parallel training through the reduction hook under mpirun
# (tests/mpi/mpi_check.c): 2 ranks against 1, batch norm's semantics, the
# same compress on every rank, checkpoints across rank counts, and a rank
# that dies. Loopback only. Skipped without mpirun or the MPI build.
set -euo pipefail
bin="$SC_ROOT/build/tests/mpi/mpi_check"
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$bin" ]; then
	echo "mpi.sh: SKIP: mpirun or $bin missing (make deps installs Open MPI)"
	exit 0
fi
mpi=(mpirun --oversubscribe --mca btl self,tcp --mca btl_tcp_if_include lo
     --mca oob_tcp_if_include lo)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() { # ranks mode: 30 s at most each
	echo "mpi.sh: $1 ranks: $2"
	timeout 30 "${mpi[@]}" -n "$1" "$bin" "$2" "$dir"
}
export OMPI_MCA_rmaps_base_oversubscribe=1
run 2 equiv
run 2 bn
run 1 bn
run 2 compress
run 2 ckpt-write
run 1 ckpt-resume
run 2 ckpt-resume

# a rank killed at step 5: the job must end, non-zero, with a message
echo "mpi.sh: 2 ranks: die (rank 1 is killed at step 5)"
start=$(date +%s)
set +e
timeout 30 "${mpi[@]}" -n 2 "$bin" die "$dir" >"$dir/die.log" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
	cat "$dir/die.log"
	echo "mpi.sh: FAIL: a dead rank gave exit $rc after ${took}s (124: timeout)"
	exit 1
fi
if ! grep -q "signal 9" "$dir/die.log"; then
	cat "$dir/die.log"
	echo "mpi.sh: FAIL: no message naming the killed rank"
	exit 1
fi
echo "mpi.sh: die: exit $rc after ${took}s: $(grep -m1 'signal 9' "$dir/die.log")"
