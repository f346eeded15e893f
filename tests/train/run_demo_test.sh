#!/usr/bin/env bash
# The main job (scripts/run-demo.sh: configs/long_context.yaml, 2 ranks, cp=2, ring, zigzag) for a
# few steps, against the same config on one rank (parallel.cp=1).
#   run_demo_test.sh shm   MPIEXEC ATTNSCALE SOURCE_DIR
#       mpirun -np 2 on this machine (shared memory): every logged loss within a relative 1e-4 of
#       the one-rank run (fp32 sums in another order: 2e-6 measured), and the
#       overlap line printed.
#   run_demo_test.sh netns MPIEXEC ATTNSCALE SOURCE_DIR
#       the same 2-rank run with one rank in each of two network namespaces joined by a bridge, over
#       TCP only (two "nodes"): losses bitwise equal to the shared-memory run, and within 1e-4 of
#       one rank. Needs root and `ip netns`; otherwise exits 77 (CTest SKIP_RETURN_CODE) with the
#       reason. The namespaces it made are removed on every exit (each run is limited to 180 s, so
#       the script ends before CTest's timeout could kill it), and ones a killed run left behind at
#       the next start.
set -uo pipefail
mode=$1 mpiexec=$2 program=$3 source_dir=$4
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
steps=3
tag="[demo test $mode]"
fail() { echo "$tag FAILED: $*"; exit 1; }
skip() { echo "$tag SKIPPED: $*"; exit 77; }

dir=$(mktemp -d)
cleanup_namespaces() { :; }
trap 'cleanup_namespaces; rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM

# The demo's config, shortened: `steps` steps, every one logged, one evaluation batch at the end.
demo_args() {  # RUN_DIR [OVERRIDES...]
  local run_dir=$1
  shift
  echo "$source_dir/configs/long_context.yaml" "run.dir=$run_dir" "train.steps=$steps" train.log_every=1 \
    train.eval_every=0 train.eval_batches=1 logging.progress=off "$@"
}

# Every loss of run A within a relative TOLERANCE of run B's, and one per step.
compare_losses() {  # A B TOLERANCE
  python3 - "$1/metrics.jsonl" "$2/metrics.jsonl" "$3" "$steps" <<'EOF' || fail "losses of $1 and $2 differ"
import json, math, sys
a, b = ([json.loads(l)["loss"] for l in open(path)] for path in sys.argv[1:3])
tolerance, steps = float(sys.argv[3]), int(sys.argv[4])
print(f"  {sys.argv[1]}: {a}\n  {sys.argv[2]}: {b}")
assert len(a) == len(b) == steps, f"{len(a)} and {len(b)} losses, expected {steps}"
for step, (x, y) in enumerate(zip(a, b), 1):
    gap = abs(x - y) / abs(y)
    assert math.isfinite(x) and math.isfinite(y) and gap <= tolerance, f"step {step}: {x} vs {y} (relative {gap:.2e})"
EOF
}

run_one_rank() {
  # shellcheck disable=SC2046
  timeout 180 "$program" train $(demo_args "$dir/one" parallel.cp=1) >"$dir/one.log" 2>&1 ||
    { cat "$dir/one.log"; fail "the one-rank run failed"; }
}

run_shared_memory() {
  # shellcheck disable=SC2046
  timeout 180 "$mpiexec" -n 2 --oversubscribe "$program" train $(demo_args "$dir/shm") >"$dir/shm.log" 2>&1 ||
    { cat "$dir/shm.log"; fail "mpirun -np 2 (shared memory) failed"; }
  grep -E "context parallel \(ring, zigzag layout\): [0-9]+ K/V transfers, [0-9.]+ MiB sent per rank, blocked" "$dir/shm.log" ||
    { cat "$dir/shm.log"; fail "no overlap line in the 2-rank run's output"; }
}

if [ "$mode" = shm ]; then
  run_one_rank
  run_shared_memory
  compare_losses "$dir/shm" "$dir/one" 1e-4
  echo "$tag passed"
  exit 0
fi
[ "$mode" = netns ] || fail "unknown mode '$mode' (shm or netns)"

# ---- two network namespaces joined by a bridge ------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
suffix=$$
ns_a=attnscale-test-a-$suffix ns_b=attnscale-test-b-$suffix ns_switch=attnscale-test-sw-$suffix
# Namespaces left by a run that was killed outright (SIGKILL skips the trap): their pid is gone.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^attnscale-test-(a|b|sw)-[0-9]+$'); do
  kill -0 "${ns##*-}" 2>/dev/null || ip netns delete "$ns"
done
subnet=10.199.$((suffix % 250)).0/24
ip_a=10.199.$((suffix % 250)).1 ip_b=10.199.$((suffix % 250)).2
made=()
cleanup_namespaces() {
  for ns in "${made[@]}"; do ip netns delete "$ns" 2>/dev/null; done
  made=()
}
for ns in "$ns_a" "$ns_b" "$ns_switch"; do
  ip netns add "$ns" 2>"$dir/netns.err" || skip "cannot create network namespaces: $(cat "$dir/netns.err")"
  made+=("$ns")
  ip -n "$ns" link set lo up
done
# The bridge lives in a namespace of its own, so the host's network is never touched. Each node's
# veth pair has one end in the node (eth0) and the other on the bridge.
ip -n "$ns_switch" link add br0 type bridge 2>"$dir/netns.err" || skip "cannot create a bridge: $(cat "$dir/netns.err")"
ip -n "$ns_switch" link set br0 up
for node in a b; do
  ns_var=ns_$node ip_var=ip_$node
  ip link add "as$node$suffix" netns "${!ns_var}" type veth peer name "port_$node" netns "$ns_switch" \
    2>"$dir/netns.err" || skip "cannot create a veth pair: $(cat "$dir/netns.err")"
  ip -n "${!ns_var}" link set "as$node$suffix" name eth0
  ip -n "${!ns_var}" addr add "${!ip_var}/24" dev eth0
  ip -n "${!ns_var}" link set eth0 up
  ip -n "$ns_switch" link set "port_$node" master br0 up
done
echo "$tag namespaces $ns_a ($ip_a) and $ns_b ($ip_b) joined by a bridge in $ns_switch"

# mpirun runs in node a; it starts node b's daemon through this launch agent (in place of ssh),
# which runs the daemon's command line inside node b's namespace.
cat >"$dir/hostfile" <<EOF
$ip_a slots=1
$ip_b slots=1
EOF
cat >"$dir/netns-agent" <<EOF
#!/usr/bin/env bash
# Called by mpirun as ssh would be: [options] HOST COMMAND...
while [[ \$1 == -* ]]; do shift; done
host=\$1
shift
case \$host in
  $ip_a) ns=$ns_a ;;
  $ip_b) ns=$ns_b ;;
  *) echo "netns-agent: unknown host \$host" >&2; exit 1 ;;
esac
echo "\$host" >>"$dir/agent-launches"
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
chmod +x "$dir/netns-agent"

run_one_rank
run_shared_memory
# pml ob1 with only the tcp and self transports (no shared memory, no UCX); the runtime's own
# traffic (oob) on the bridge's subnet too.
# shellcheck disable=SC2046
timeout 180 ip netns exec "$ns_a" "$mpiexec" -n 2 --hostfile "$dir/hostfile" --map-by node \
  --mca plm rsh --mca plm_rsh_agent "$dir/netns-agent" --mca plm_rsh_no_tree_spawn 1 \
  --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet" \
  -x OMP_NUM_THREADS -x OMP_WAIT_POLICY \
  "$program" train $(demo_args "$dir/tcp") >"$dir/tcp.log" 2>&1 ||
  { cat "$dir/tcp.log"; fail "mpirun over TCP across the namespaces failed"; }
grep -E "rank\(s\)|context parallel" "$dir/tcp.log" | head -4
# mpirun (and rank 0) ran in node a; the agent started exactly one daemon, node b's.
[ "$(cat "$dir/agent-launches" 2>/dev/null)" = "$ip_b" ] || fail "node b's daemon was not started through the agent"
compare_losses "$dir/tcp" "$dir/shm" 0
compare_losses "$dir/tcp" "$dir/one" 1e-4
echo "$tag passed"
