# Sourced by bench/*-pair: the rounds of one pair, the same for every gate.
#
#   measure_pair NAME_A PID_A NAME_B PID_B UNIT
#
# Calls `load_pair SECONDS` (defined by the script: both wrk runs at once, their reports written
# to $PAIR_A and $PAIR_B) once to warm up, then ROUNDS times for SECONDS_PER_ROUND; each round
# reads both processes' CPU ticks (all their threads) around the load and prints their CPU µs
# per request and B/A; the pair ends with the median ratio and its range.
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

measure_pair() {
  local a=$1 pa=$2 b=$3 pb=$4 unit=$5 ratios=() round a0 b0 a1 b1 na nb
  load_pair 2
  for round in $(seq 1 "$ROUNDS"); do
    a0=$(cpu_ticks "$pa"); b0=$(cpu_ticks "$pb")
    load_pair "$SECONDS_PER_ROUND"
    a1=$(cpu_ticks "$pa"); b1=$(cpu_ticks "$pb")
    na=$(grep -oP '\d+(?= requests in)' "$PAIR_A"); nb=$(grep -oP '\d+(?= requests in)' "$PAIR_B")
    if grep -q "Non-2xx" "$PAIR_A" "$PAIR_B"; then echo "errors in round $round"; exit 1; fi
    ratios+=("$(python3 -c "a=($a1-$a0)/$hz*1e6/$na; b=($b1-$b0)/$hz*1e6/$nb
print(f'{b/a:.3f}'); import sys; print(f'  round $round: $a {a:6.1f}  $b {b:6.1f} µs/$unit  $b/$a {b/a:.3f}', file=sys.stderr)")")
  done
  python3 -c "import statistics; r=[float(x) for x in '${ratios[*]}'.split()]; print(f'$b / $a CPU per $unit: median {statistics.median(r):.3f} (rounds {min(r):.3f}-{max(r):.3f}); throughput at equal CPU {1/statistics.median(r):.2f}x')"
}
