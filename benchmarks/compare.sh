#!/usr/bin/env bash
# compare.sh: taxagg against DuckDB, Miller and jq on the same generated files.
#
#   benchmarks/compare.sh                 # 1M transactions, 1M x 1M reconcile, 10M RSS row
#   N=200000 BIG_N=0 RUNS=2 benchmarks/compare.sh   # quicker; BIG_N=0 skips the 10M row
#
# The --state rows time a first run into an empty state and a second run
# over the same file (all duplicates), as ratios of a run without a state.
#
# Installs what it needs (Debian packages miller, jq, hyperfine, time; the
# npm package @duckdb/node-api in a scratch directory), generates the data
# into benchmarks/data/ (git-ignored), times every tool with hyperfine, takes
# peak RSS from /usr/bin/time, checks that --workers 1 and --workers N give
# byte-identical output, and prints one table.
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
command -v hyperfine >/dev/null || need_apt+=(hyperfine)
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
// of two billing exports on id.
import { DuckDBInstance } from '@duckdb/node-api';
const [mode, a, b] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const tx = `{id:'VARCHAR',date:'VARCHAR',type:'VARCHAR',original_date:'VARCHAR',currency:'VARCHAR',amount:'DECIMAL(18,2)',quantity:'VARCHAR',product:'VARCHAR',customer:'VARCHAR',country:'VARCHAR',state:'VARCHAR',county:'VARCHAR',city:'VARCHAR',postal_code:'VARCHAR'}`;
const led = `{id:'VARCHAR',date:'VARCHAR',customer:'VARCHAR',currency:'VARCHAR',amount:'DECIMAL(18,2)',tax:'DECIMAL(18,2)',state:'VARCHAR'}`;
const sql = {
  groupby: `SELECT state, count(*) n, sum(amount) s FROM read_json('${a}', format='newline_delimited', columns=${tx}) GROUP BY state ORDER BY state`,
  'groupby-csv': `SELECT state, count(*) n, sum(amount) s FROM read_csv('${a}', header=true, types={'amount':'DECIMAL(18,2)'}) GROUP BY state ORDER BY state`,
  join: `SELECT count(*) FILTER (WHERE x.id IS NULL) only_b, count(*) FILTER (WHERE y.id IS NULL) only_a,
         count(*) FILTER (WHERE x.amount<>y.amount OR x.tax<>y.tax OR x.state<>y.state) diff
         FROM read_json('${a}', format='newline_delimited', columns=${led}) x
         FULL OUTER JOIN read_json('${b}', format='newline_delimited', columns=${led}) y ON x.id = y.id`,
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
declare -A mean rss
# bench NAME RUNS CMD: mean wall seconds (hyperfine) and peak RSS in MB.
bench() {
	local name=$1 runs=$2 cmd=$3
	log "$name: $cmd"
	hyperfine --style none -N -i --warmup 0 --runs "$runs" --export-json "$DATA/h-$name.json" "$cmd" >/dev/null 2>&1 ||
		hyperfine --style none -i --runs "$runs" --export-json "$DATA/h-$name.json" "$cmd" >/dev/null
	mean[$name]=$(jq -r '.results[0].mean' "$DATA/h-$name.json")
	local kb
	kb=$( { /usr/bin/time -f '%M' bash -c "$cmd >/dev/null 2>&1" || true; } 2>&1 | tail -1)
	rss[$name]=$((kb / 1024))
}

q=(-q --rules "$rules" --format csv)
bench duckdb_ndjson "$RUNS" "node $duckdir/q.mjs groupby $nd"
bench duckdb_csv "$RUNS" "node $duckdir/q.mjs groupby-csv $csv"
bench taxagg_agg_ndjson "$RUNS" "$taxagg aggregate ${q[*]} $nd"
bench taxagg_agg_csv "$RUNS" "$taxagg aggregate ${q[*]} $csv"
bench taxagg_calc_ndjson "$RUNS" "$taxagg calc -q --rules $rules --format ndjson $nd"
# --state: a first run into an empty state (removed before each run), then
# a second run over the same file against it (all duplicates).
st=$DATA/bench.state
bench_prep() { # like bench, with a command run before each timed run
	local name=$1 runs=$2 prep=$3 cmd=$4
	log "$name: $cmd"
	hyperfine --style none -N -i --warmup 0 --runs "$runs" --prepare "$prep" --export-json "$DATA/h-$name.json" "$cmd" >/dev/null 2>&1 ||
		hyperfine --style none -i --runs "$runs" --prepare "$prep" --export-json "$DATA/h-$name.json" "$cmd" >/dev/null
	mean[$name]=$(jq -r '.results[0].mean' "$DATA/h-$name.json")
	local kb
	kb=$( { bash -c "$prep"; /usr/bin/time -f '%M' bash -c "$cmd >/dev/null 2>&1" || true; } 2>&1 | tail -1)
	rss[$name]=$((kb / 1024))
}
bench_prep taxagg_state_first "$RUNS" "rm -f $st $st-journal" "$taxagg aggregate ${q[*]} --state $st $nd"
"$taxagg" aggregate "${q[@]}" --state "$st" "$nd" >/dev/null 2>&1 || true
bench taxagg_state_again "$RUNS" "$taxagg aggregate ${q[*]} --state $st $nd"
state_mb=$(du -m "$st" | cut -f1)
bench mlr_csv "$SLOW_RUNS" "mlr --icsv --ojson stats1 -a count,sum -f amount -g state $csv"
bench mlr_ndjson "$SLOW_RUNS" "mlr --ijsonl --ojson stats1 -a count,sum -f amount -g state $nd"
bench jq_ndjson "$SLOW_RUNS" "jq -n 'reduce inputs as \$r ({}; .[\$r.state] += (\$r.amount|tonumber))' $nd"
bench duckdb_join "$RUNS" "node $duckdir/q.mjs join $pa $pb"
if [ $has_reconcile = 1 ]; then
	bench taxagg_reconcile "$RUNS" "$taxagg reconcile -q -o $DATA/ledger.ndjson --report $DATA/report.json $pa $pb"
fi

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
d=${mean[duckdb_ndjson]}
dc=${mean[duckdb_csv]}
dj=${mean[duckdb_join]}
row() { # name, mean, reference mean, reference label
	awk -v n="$1" -v m="$2" -v r="$3" -v l="$4" -v mb="$5" 'BEGIN { printf "| %-34s | %8.2f | %7.2fx %-16s | %6s |\n", n, m, m / r, l, mb }'
}
echo
echo "$("$taxagg" version 2>/dev/null | head -1 || true); $(date -u +%Y-%m-%d); $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$N transactions: $(du -m "$nd" | cut -f1) MB NDJSON, $(du -m "$csv" | cut -f1) MB CSV; reconcile $N x ~$N; hyperfine mean of $RUNS runs ($SLOW_RUNS for Miller and jq)"
echo
echo "| command                            |  wall s  | ratio                      | RSS MB |"
echo "|------------------------------------|----------|----------------------------|--------|"
row "duckdb group-by state (NDJSON)" "$d" "$d" "of DuckDB NDJSON" "${rss[duckdb_ndjson]}"
row "duckdb group-by state (CSV)" "$dc" "$dc" "of DuckDB CSV" "${rss[duckdb_csv]}"
row "taxagg aggregate (NDJSON)" "${mean[taxagg_agg_ndjson]}" "$d" "of DuckDB NDJSON" "${rss[taxagg_agg_ndjson]}"
row "taxagg aggregate (CSV)" "${mean[taxagg_agg_csv]}" "$dc" "of DuckDB CSV" "${rss[taxagg_agg_csv]}"
row "taxagg calc (NDJSON)" "${mean[taxagg_calc_ndjson]}" "${mean[taxagg_agg_ndjson]}" "of aggregate" "${rss[taxagg_calc_ndjson]}"
row "taxagg aggregate --state, 1st run" "${mean[taxagg_state_first]}" "${mean[taxagg_agg_ndjson]}" "of aggregate" "${rss[taxagg_state_first]}"
row "taxagg aggregate --state, again" "${mean[taxagg_state_again]}" "${mean[taxagg_agg_ndjson]}" "of aggregate" "${rss[taxagg_state_again]}"
row "miller stats1 (CSV)" "${mean[mlr_csv]}" "${mean[taxagg_agg_csv]}" "of taxagg CSV" "${rss[mlr_csv]}"
row "miller stats1 (NDJSON)" "${mean[mlr_ndjson]}" "${mean[taxagg_agg_ndjson]}" "of taxagg NDJSON" "${rss[mlr_ndjson]}"
row "jq reduce (NDJSON)" "${mean[jq_ndjson]}" "${mean[taxagg_agg_ndjson]}" "of taxagg NDJSON" "${rss[jq_ndjson]}"
row "duckdb full outer join" "$dj" "$dj" "of DuckDB join" "${rss[duckdb_join]}"
if [ $has_reconcile = 1 ]; then
	row "taxagg reconcile (ledger+report)" "${mean[taxagg_reconcile]}" "$dj" "of DuckDB join" "${rss[taxagg_reconcile]}"
else
	echo "| taxagg reconcile                   |  pending | (no reconcile command yet) |        |"
fi
echo
echo "aggregate peak RSS: ${rss[taxagg_agg_ndjson]} MB at $N rows; at $BIG_N rows: $big_rss"
echo "state file after one run: $state_mb MB"
echo "output identical for --workers 1 and --workers $WORKERS (aggregate, calc): $identical"
