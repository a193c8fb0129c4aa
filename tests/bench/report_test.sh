#!/usr/bin/env bash
# bench/report render on recorded benchmark outputs (tests/bench/fixtures: one run's sessions,
# ratelimit and cpu-per-request output; tokens and oauth missing on purpose): every value in
# the tables is the one the benchmark printed, a missing row is "-", the README block between
# the markers is replaced (and only it), and each chart is an SVG with the rows it charts.
set -euo pipefail
root=${1:?usage: report_test.sh SOURCE_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "report_test: $*" >&2; exit 1; }
run="$work/run-1"
mkdir -p "$run" "$work/images"
cp "$root"/tests/bench/fixtures/*.txt "$run/"
printf 'before\n<!-- bench-report:begin -->\nold table\n<!-- bench-report:end -->\nafter\n' >"$work/README.md"
BENCH_REPORT_README="$work/README.md" BENCH_REPORT_IMAGES="$work/images" python3 "$root/bench/report" render "$run" >"$work/out.md"

grep -qF '| validate | 67,034 | 6,188 | 10.8x | 0.94 |' "$work/out.md" || fail "validate row"
grep -qF '| fixed window (denied: 429) | 66,108 | - | - | 0.85 |' "$work/out.md" || fail "a row without a peer"
grep -qF '| verify HS256 (revocation checked) | - | - | - | - |' "$work/out.md" || fail "a run without tokens.txt"
grep -qF '| `POST /v1/sessions/validate` | 13.3 + 4.1 = 17.4 | 73,910 |' "$work/out.md" || fail "cpu row"
grep -qF 'latchkey 1,468 B, connect-redis 526 B (2.79x)' "$work/out.md" || fail "memory line"
grep -q 'old table' "$work/README.md" && fail "the old block stayed"
[ "$(head -1 "$work/README.md")" = before ] && [ "$(tail -1 "$work/README.md")" = after ] || fail "outside the markers changed"
grep -qF '| validate | 67,034 |' "$work/README.md" || fail "README block not written"
for svg in bench-sessions bench-rate-limiting bench-cpu; do
  [ -s "$work/images/$svg.svg" ] || fail "$svg.svg missing"
  /usr/bin/python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$work/images/$svg.svg" || fail "$svg.svg is not XML"
done
grep -q '67,034' "$work/images/bench-sessions.svg" || fail "chart value"
grep -q '10.8x' "$work/images/bench-sessions.svg" || fail "chart ratio"
[ ! -e "$work/images/bench-tokens.svg" ] || fail "a chart for a capability with no rows"
python3 "$root/bench/report" 2>/dev/null && fail "no arguments must be a usage error"
echo "bench report: ok"
