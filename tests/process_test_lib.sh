# Helpers of the shell tests that drive kvbench processes (robustness_test.sh, hostile_test.sh): source it.
fail() { echo "FAILED: $*"; exit 1; }
step() { echo "== $*"; }
wait_rows() {  # wait_rows FILE N: until FILE has N lines (at most 60 s)
  for _ in $(seq 1 1200); do
    [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
  fail "no $2 rows in $1 after 60 s"
}
