#!/usr/bin/env bash
# compare.sh: taxagg against DuckDB, Miller and jq on the same generated files.
#
#   benchmarks/compare.sh                 # 1M transactions, 1M x 1M reconcile, 10M RSS row
#   N=200000 BIG_N=0 RUNS=2 benchmarks/compare.sh   # quicker; BIG_N=0 skips the 10M row
#
# The --state rows time a first run into an empty state and a second run
# over the same file (all duplicates), as ratios of a run without a state.
#
# Installs what it needs (Debian packages miller, jq, time; the npm package
# @duckdb/node-api in a scratch directory), generates the data into
# benchmarks/data/ (git-ignored), times every tool with /usr/bin/time in
# interleaved rounds (round 1 runs every command once, then round 2, ...) so
# that a busy spell of a shared machine hits every command alike, and prints
# the medians of wall time and of CPU time (user + sys) with peak RSS, the
# load average before and after, and one table. It also checks that
# --workers 1 and --workers N give byte-identical output.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

N=${N:-1000000}
BIG_N=${BIG_N:-10000000}
RUNS=${RUNS:-3}
SLOW_RUNS=${SLOW_RUNS:-1}
WORKERS=${WORKERS:-$(nproc)}
DATA=${DATA:-$root/benchmarks/data}
mkdir -p "$DATA"

log() { printf '== %s\n' "$*" >&2; }

# --- tools ---------------------------------------------------------------
need_apt=()
command -v mlr >/dev/null || need_apt+=(miller)
command -v jq >/dev/null || need_apt+=(jq)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
	log "installing ${need_apt[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
duckdir=$DATA/duckdb
if [ ! -d "$duckdir/node_modules/@duckdb/node-api" ]; then
	log "installing @duckdb/node-api"
	mkdir -p "$duckdir"
	(cd "$duckdir" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent @duckdb/node-api >/dev/null)
fi
cat >"$duckdir/q.mjs" <<'JS'
// DuckDB peers: a plain group-by of the transactions by state, from NDJSON
// (declared columns, amounts DECIMAL(18,2)) or CSV, and a full outer join
// of two billing exports on id that writes its ledger to a file as taxagg
// reconcile does: one NDJSON object a row with the key, both ids, source,
// status, the values and the list of differing fields, in key order.
import { DuckDBInstance } from '@duckdb/node-api';
const [mode, a, b, out] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const tx = `{id:'VARCHAR',date:'VARCHAR',type:'VARCHAR',original_date:'VARCHAR',currency:'VARCHAR',amount:'DECIMAL(18,2)',quantity:'VARCHAR',product:'VARCHAR',customer:'VARCHAR',country:'VARCHAR',state:'VARCHAR',county:'VARCHAR',city:'VARCHAR',postal_code:'VARCHAR'}`;
const led = `{id:'VARCHAR',date:'VARCHAR',customer:'VARCHAR',currency:'VARCHAR',amount:'DECIMAL(18,2)',tax:'DECIMAL(18,2)',state:'VARCHAR'}`;
// One entry of the join's diffs: {field, a, b} when the two sides differ.
const diffs = ['amount', 'tax', 'currency', 'state', 'date', 'customer'].map((f) =>
  `CASE WHEN x.${f} IS DISTINCT FROM y.${f} THEN {'field': '${f}', 'a': x.${f}::VARCHAR, 'b': y.${f}::VARCHAR} END`).join(', ');
const sql = {
  noop: `SELECT 1`,
  groupby: `SELECT state, count(*) n, sum(amount) s FROM read_json('${a}', format='newline_delimited', columns=${tx}) GROUP BY state ORDER BY state`,
  'groupby-csv': `SELECT state, count(*) n, sum(amount) s FROM read_csv('${a}', header=true, types={'amount':'DECIMAL(18,2)'}) GROUP BY state ORDER BY state`,
  join: `COPY (SELECT coalesce(x.id, y.id) AS key, coalesce(x.id, '') AS id_a, coalesce(y.id, '') AS id_b,
           CASE WHEN y.id IS NULL THEN 'a' WHEN x.id IS NULL THEN 'b' ELSE 'both' END AS source,
           CASE WHEN y.id IS NULL THEN 'only_a' WHEN x.id IS NULL THEN 'only_b'
                WHEN x.amount <> y.amount OR x.tax <> y.tax OR x.currency <> y.currency OR x.state <> y.state
                  OR x.date <> y.date OR x.customer <> y.customer THEN 'diff' ELSE 'match' END AS status,
           coalesce(x.date, y.date) AS date, coalesce(x.customer, y.customer) AS customer,
           coalesce(x.currency, y.currency) AS currency, coalesce(x.amount, y.amount)::VARCHAR AS amount,
           coalesce(x.tax, y.tax)::VARCHAR AS tax, coalesce(x.state, y.state) AS state,
           CASE WHEN x.id IS NULL OR y.id IS NULL THEN [] ELSE list_filter([${diffs}], v -> v IS NOT NULL) END AS diffs
         FROM read_json('${a}', format='newline_delimited', columns=${led}) x
         FULL OUTER JOIN read_json('${b}', format='newline_delimited', columns=${led}) y ON x.id = y.id
         ORDER BY key, source) TO '${out}' (FORMAT json)`,
}[mode];
const r = await c.runAndReadAll(sql);
process.stdout.write(JSON.stringify(r.getRowObjectsJson()) + '\n');
JS

# --- build and data ------------------------------------------------------
log "building taxagg and the generator"
go build -o "$DATA/taxagg" ./cmd/taxagg
go build -o "$DATA/gen" ./benchmarks/gen
taxagg=$DATA/taxagg
rules=$root/benchmarks/rules.yaml
nd=$DATA/tx-$N.ndjson
csv=$DATA/tx-$N.csv
pa=$DATA/pair-$N-a.ndjson
pb=$DATA/pair-$N-b.ndjson
[ -s "$nd" ] || { log "generating $nd"; "$DATA/gen" -n "$N" -seed 1 -format ndjson -o "$nd"; }
[ -s "$csv" ] || { log "generating $csv"; "$DATA/gen" -n "$N" -seed 1 -format csv -o "$csv"; }
[ -s "$pa" ] || { log "generating $pa $pb"; "$DATA/gen" -n "$N" -seed 1 -pair -a "$pa" -b "$pb"; }
has_reconcile=0
"$taxagg" reconcile --help >/dev/null 2>&1 && has_reconcile=1

# --- measurements --------------------------------------------------------
# Every command runs RUNS times (SLOW_RUNS for Miller and jq), interleaved:
# each round runs each command once. A run appends "wall user sys maxrss_kb"
# to $DATA/t-NAME.txt; the table shows medians.
declare -A cmds prep
order=()
add() { order+=("$1"); cmds[$1]=$2; }
# add_prep NAME PREP CMD: PREP runs before each timed run of CMD, untimed.
add_prep() { add "$1" "$3"; prep[$1]=$2; }
q=(-q --rules "$rules" --format csv)
add duckdb_noop "node $duckdir/q.mjs noop"
add duckdb_ndjson "node $duckdir/q.mjs groupby $nd"
add duckdb_csv "node $duckdir/q.mjs groupby-csv $csv"
add taxagg_agg_ndjson "$taxagg aggregate ${q[*]} $nd"
add taxagg_agg_csv "$taxagg aggregate ${q[*]} $csv"
add taxagg_calc_ndjson "$taxagg calc -q --rules $rules --format ndjson $nd"
add taxagg_nexus_ndjson "$taxagg nexus -q --rules $rules --format csv $nd"
# --state: a first run into an empty state (removed before each run), then,
# right after it in the same round, a second run over the same file against
# the state it left (all duplicates).
st=$DATA/bench.state
add_prep taxagg_state_first "rm -f $st $st-journal" "$taxagg aggregate ${q[*]} --state $st $nd"
add taxagg_state_again "$taxagg aggregate ${q[*]} --state $st $nd"
add duckdb_join "node $duckdir/q.mjs join $pa $pb $DATA/duckdb-ledger.ndjson"
if [ $has_reconcile = 1 ]; then
	add taxagg_reconcile "$taxagg reconcile -q -o $DATA/ledger.ndjson --report $DATA/report.json $pa $pb"
fi
slow=(mlr_csv mlr_ndjson jq_ndjson)
add mlr_csv "mlr --icsv --ojson stats1 -a count,sum -f amount -g state $csv"
add mlr_ndjson "mlr --ijsonl --ojson stats1 -a count,sum -f amount -g state $nd"
add jq_ndjson "jq -n 'reduce inputs as \$r ({}; .[\$r.state] += (\$r.amount|tonumber))' $nd"

is_slow() { local x; for x in "${slow[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for name in "${order[@]}"; do : >"$DATA/t-$name.txt"; done
for ((round = 1; round <= RUNS; round++)); do
	for name in "${order[@]}"; do
		if is_slow "$name" && [ "$round" -gt "$SLOW_RUNS" ]; then continue; fi
		log "round $round: $name"
		[ -z "${prep[$name]:-}" ] || bash -c "${prep[$name]}"
		# reconcile exits 1 when it finds differences: that is its result.
		/usr/bin/time -f '%e %U %S %M' -o "$DATA/t-$name.one" bash -c "${cmds[$name]} >/dev/null" 2>/dev/null || true
		tail -1 "$DATA/t-$name.one" >>"$DATA/t-$name.txt"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
state_mb=$(du -m "$st" 2>/dev/null | cut -f1)

# med NAME FIELD: the median of a column (1 wall, 2 user, 3 sys, 4 RSS KB,
# 5 user+sys).
med() {
	awk -v f="$2" '{ v = (f == 5) ? $2 + $3 : $f; print v }' "$DATA/t-$1.txt" | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
declare -A wall cpu rss
for name in "${order[@]}"; do
	wall[$name]=$(med "$name" 1)
	cpu[$name]=$(med "$name" 5)
	rss[$name]=$(($(med "$name" 4 | cut -d. -f1) / 1024))
done

# --workers 1 and --workers N: byte-identical output.
identical=yes
for cmd in "aggregate ${q[*]}" "calc -q --rules $rules --format ndjson"; do
	"$taxagg" $cmd --workers 1 "$nd" | sha256sum >"$DATA/w1.sum"
	"$taxagg" $cmd --workers "$WORKERS" "$nd" | sha256sum >"$DATA/wn.sum"
	cmp -s "$DATA/w1.sum" "$DATA/wn.sum" || { identical=no; log "DIFFERENT output for $cmd"; }
done

# Peak RSS flat as rows grow: N vs BIG_N (generated on the fly, then removed).
big_rss=skipped
if [ "$BIG_N" -gt 0 ]; then
	big=$DATA/tx-$BIG_N.ndjson
	[ -s "$big" ] || { log "generating $big"; "$DATA/gen" -n "$BIG_N" -seed 2 -format ndjson -o "$big"; }
	log "aggregate of $BIG_N rows (peak RSS)"
	kb=$( { /usr/bin/time -f '%M %e' "$taxagg" aggregate "${q[@]}" "$big" >/dev/null || true; } 2>&1 | tail -1)
	big_rss="$(( ${kb% *} / 1024 )) MB in ${kb#* } s"
	[ -n "${KEEP_BIG:-}" ] || rm -f "$big"
fi

# --- table ---------------------------------------------------------------
sub() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0.001) d = 0.001; print d }'; }
# DuckDB's query alone: its run minus the no-op run of the same script.
dq=$(sub "${wall[duckdb_ndjson]}" "${wall[duckdb_noop]}")
dqc=$(sub "${cpu[duckdb_ndjson]}" "${cpu[duckdb_noop]}")
dcq=$(sub "${wall[duckdb_csv]}" "${wall[duckdb_noop]}")
dcqc=$(sub "${cpu[duckdb_csv]}" "${cpu[duckdb_noop]}")
# row LABEL NAME REF_WALL REF_CPU REF_LABEL
row() {
	awk -v n="$1" -v w="${wall[$2]}" -v c="${cpu[$2]}" -v rw="$3" -v rc="$4" -v l="$5" -v mb="${rss[$2]}" \
		'BEGIN { printf "| %-34s | %7.2f | %7.2f | %6.2fx %6.2fx %-18s | %6s |\n", n, w, c, w / rw, c / rc, l, mb }'
}
echo
echo "$("$taxagg" version 2>/dev/null | head -1 || true); $(date -u +%Y-%m-%d); $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load average before $load_before, after $load_after"
echo "$N transactions: $(du -m "$nd" | cut -f1) MB NDJSON, $(du -m "$csv" | cut -f1) MB CSV; reconcile $N x ~$N; medians of $RUNS interleaved runs ($SLOW_RUNS for Miller and jq)"
echo
echo "| command                            |  wall s |   cpu s | ratio: wall, cpu                 | RSS MB |"
echo "|------------------------------------|---------|---------|----------------------------------|--------|"
row "duckdb no-op (start-up)" duckdb_noop "${wall[duckdb_noop]}" "${cpu[duckdb_noop]}" "of itself"
row "duckdb group-by state (NDJSON)" duckdb_ndjson "${wall[duckdb_ndjson]}" "${cpu[duckdb_ndjson]}" "of DuckDB NDJSON"
row "duckdb group-by state (CSV)" duckdb_csv "${wall[duckdb_csv]}" "${cpu[duckdb_csv]}" "of DuckDB CSV"
row "taxagg aggregate (NDJSON)" taxagg_agg_ndjson "${wall[duckdb_ndjson]}" "${cpu[duckdb_ndjson]}" "of DuckDB NDJSON"
row "taxagg aggregate (NDJSON)" taxagg_agg_ndjson "$dq" "$dqc" "of DuckDB's query"
row "taxagg aggregate (CSV)" taxagg_agg_csv "${wall[duckdb_csv]}" "${cpu[duckdb_csv]}" "of DuckDB CSV"
row "taxagg aggregate (CSV)" taxagg_agg_csv "$dcq" "$dcqc" "of DuckDB's query"
row "taxagg calc (NDJSON)" taxagg_calc_ndjson "${wall[taxagg_agg_ndjson]}" "${cpu[taxagg_agg_ndjson]}" "of aggregate"
row "taxagg nexus (NDJSON)" taxagg_nexus_ndjson "${wall[taxagg_agg_ndjson]}" "${cpu[taxagg_agg_ndjson]}" "of aggregate"
row "taxagg aggregate --state, 1st run" taxagg_state_first "${wall[taxagg_agg_ndjson]}" "${cpu[taxagg_agg_ndjson]}" "of aggregate"
row "taxagg aggregate --state, again" taxagg_state_again "${wall[taxagg_agg_ndjson]}" "${cpu[taxagg_agg_ndjson]}" "of aggregate"
row "miller stats1 (CSV)" mlr_csv "${wall[taxagg_agg_csv]}" "${cpu[taxagg_agg_csv]}" "of taxagg CSV"
row "miller stats1 (NDJSON)" mlr_ndjson "${wall[taxagg_agg_ndjson]}" "${cpu[taxagg_agg_ndjson]}" "of taxagg NDJSON"
row "jq reduce (NDJSON)" jq_ndjson "${wall[taxagg_agg_ndjson]}" "${cpu[taxagg_agg_ndjson]}" "of taxagg NDJSON"
row "duckdb join, ledger written" duckdb_join "${wall[duckdb_join]}" "${cpu[duckdb_join]}" "of DuckDB join"
if [ $has_reconcile = 1 ]; then
	row "taxagg reconcile (ledger+report)" taxagg_reconcile "${wall[duckdb_join]}" "${cpu[duckdb_join]}" "of DuckDB join"
fi
echo
echo "aggregate peak RSS: ${rss[taxagg_agg_ndjson]} MB at $N rows; at $BIG_N rows: $big_rss"
echo "state file after one run: ${state_mb:-?} MB"
echo "output identical for --workers 1 and --workers $WORKERS (aggregate, calc): $identical"
