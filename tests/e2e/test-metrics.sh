#!/bin/bash
# --metrics-file and ARCA_METRICS_FILE: node_exporter textfile metrics that backup, forget,
# prune and check write; one file for two repositories and several commands (merged, not
# clobbered), a failed run keeps the last success time, the counters add up, label values
# are escaped, promtool accepts the file, and it is replaced by rename (never rewritten in
# place); concurrent runs all land.
source "$(dirname "$0")/lib.sh"

command -v promtool > /dev/null || fail "promtool is missing (Debian package prometheus)"
R1=$(new_repo one)
R2=$(new_repo two)
arca_init "$R1" > /dev/null
arca_init "$R2" > /dev/null
mkdir -p "$T/src" "$T/prom"
echo hello > "$T/src/f"
M=$T/prom/arca.prom
host=$(hostname)
lbl() { printf 'repository="%s",command="%s",host="%s",paths="%s"' "$1" "$2" "${4:-$host}" "$3"; }
val() {   # val METRIC LABELS: the sample's value
    python3 - "$M" "$1{$2}" <<'PY'
import sys
for line in open(sys.argv[1]):
    if line.startswith(sys.argv[2] + " "):
        print(line.split()[-1]); break
else:
    sys.exit("no sample " + sys.argv[2])
PY
}
promcheck() { promtool check metrics < "$M" > "$T/promtool.out" 2>&1 || fail "promtool check metrics: $(cat "$T/promtool.out"; cat "$M")"; }

# ---- backup into two repositories, check and forget on one ------------------------------------
arca -r "$R1" --metrics-file "$M" backup "$T/src" > /dev/null
ino1=$(stat -c %i "$M")
ARCA_METRICS_FILE=$M arca -r "$R2" backup "$T/src" > /dev/null
ino2=$(stat -c %i "$M")
[ "$ino1" != "$ino2" ] || fail "the metrics file was rewritten in place, not replaced"
arca -r "$R1" --metrics-file "$M" check > /dev/null
arca -r "$R1" --metrics-file "$M" forget --keep-last 5 > /dev/null
arca -r "$R2" --metrics-file "$M" prune > /dev/null
promcheck
B1=$(lbl "$R1" backup "$T/src") B2=$(lbl "$R2" backup "$T/src") C1=$(lbl "$R1" check "")
F1=$(lbl "$R1" forget "") P2=$(lbl "$R2" prune "")
for l in "$B1" "$B2" "$C1" "$F1" "$P2"; do
    for m in arca_last_success_timestamp_seconds arca_last_run_timestamp_seconds arca_duration_seconds arca_exit_code; do
        val "$m" "$l" > /dev/null || fail "$m{$l} missing: $(cat "$M")"
    done
    [ "$(val arca_exit_code "$l")" = 0 ] || fail "exit code of {$l}"
done
[ "$(val arca_files_total "$B1")" = 1 ] || fail "files of the first backup: $(cat "$M")"
val arca_bytes_added_total "$B1" | contains -E '^[1-9][0-9]*$' || fail "bytes added: $(cat "$M")"
[ "$(val arca_errors_total "$C1")" = 0 ] || fail "errors of check"
[ "$(val arca_snapshots_removed_total "$F1")" = 0 ] || fail "snapshots removed by forget"
val arca_bytes_freed_total "$P2" > /dev/null || fail "bytes freed by prune"
# HELP and TYPE once per family, the families' samples together
for fam in arca_last_success_timestamp_seconds arca_exit_code arca_files_total; do
    [ "$(grep -c "^# HELP $fam " "$M")" -eq 1 ] || fail "HELP of $fam not once"
    [ "$(grep -c "^# TYPE $fam " "$M")" -eq 1 ] || fail "TYPE of $fam not once"
done
contains -x '# TYPE arca_files_total counter' < "$M" || fail "arca_files_total is not a counter"
contains -x '# TYPE arca_exit_code gauge' < "$M" || fail "arca_exit_code is not a gauge"

# ---- the counters add up, the other series stay -------------------------------------------------
echo more > "$T/src/g"
arca -r "$R1" --metrics-file "$M" backup "$T/src" > /dev/null
[ "$(val arca_files_total "$B1")" = 3 ] || fail "files_total after a second backup (1 + 2): $(val arca_files_total "$B1")"
[ "$(val arca_files_total "$B2")" = 1 ] || fail "the other repository's series changed"

# ---- a failed run: exit code and last run, not last success -----------------------------------
ok_before=$(val arca_last_success_timestamp_seconds "$B1")
run_before=$(val arca_last_run_timestamp_seconds "$B1")
sleep 1
rc=0
arca -r "$R1" --metrics-file "$M" backup "$T/src" "$T/does-not-exist" > /dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a backup of a missing path succeeded"
# the paths label is the run's: a series of its own
BX=$(lbl "$R1" backup "$T/src,$T/does-not-exist")
[ "$(val arca_exit_code "$BX")" = "$rc" ] || fail "exit code of the failed run"
val arca_last_success_timestamp_seconds "$BX" > /dev/null 2>&1 && fail "a failed run has a last success time"
# the same series failing: a repository that is not there
mv "$R1" "$R1.away" 2>/dev/null || true
case $BACKEND in rados) mv "$ARCA_PASSWORD_FILE" "$T/pass.real"; echo wrong > "$ARCA_PASSWORD_FILE" ;; esac
rc=0
arca -r "$R1" --metrics-file "$M" backup "$T/src" > /dev/null 2>&1 || rc=$?
case $BACKEND in rados) mv "$T/pass.real" "$ARCA_PASSWORD_FILE" ;; local) mv "$R1.away" "$R1" ;; esac
[ "$rc" -ne 0 ] || fail "backup into a missing repository succeeded"
[ "$(val arca_exit_code "$B1")" = "$rc" ] || fail "exit code after the failure: $(val arca_exit_code "$B1")"
[ "$(val arca_last_success_timestamp_seconds "$B1")" = "$ok_before" ] || fail "a failed run moved the last success time"
python3 -c "import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))" \
    "$(val arca_last_run_timestamp_seconds "$B1")" "$run_before" || fail "a failed run did not move the last run time"
[ "$(val arca_files_total "$B1")" = 3 ] || fail "a failed run changed files_total"
promcheck

# ---- label values are escaped; lines of others stay ----------------------------------------------
printf '# HELP node_other_metric Someone else'"'"'s.\n# TYPE node_other_metric gauge\nnode_other_metric{a="b"} 7\n' >> "$M"
arca -r "$R2" --metrics-file "$M" backup --host 'we"b\01' "$T/src" > /dev/null
contains -F 'host="we\"b\\01"' < "$M" || fail "label value not escaped: $(cat "$M")"
contains -x 'node_other_metric{a="b"} 7' < "$M" || fail "another family was dropped"
contains -x "# HELP node_other_metric Someone else's." < "$M" || fail "its HELP was dropped"
promcheck

# ---- concurrent runs: every series lands (the flock) ---------------------------------------------
pids=()
for i in 1 2 3 4; do
    arca -r "$R2" --metrics-file "$M" backup --host "par$i" "$T/src" > /dev/null 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent backup failed"; done
for i in 1 2 3 4; do
    val arca_exit_code "$(lbl "$R2" backup "$T/src" "par$i")" > /dev/null || fail "concurrent run par$i lost: $(cat "$M")"
done
promcheck
ls "$T/prom" | contains -v -e '^arca.prom$' -e '^arca.prom.lock$' && fail "temporary files left: $(ls "$T/prom")"
# a file that cannot be written: a warning, the run's own exit status
rc=0
arca -r "$R2" --metrics-file "$T/no/such/dir/m.prom" check > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 0 ] || fail "an unwritable metrics file changed check's exit status ($rc)"
contains -F 'warning: cannot update the metrics file' < "$T/err" || fail "no warning: $(cat "$T/err")"
pass
