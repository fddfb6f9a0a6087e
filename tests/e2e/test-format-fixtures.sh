#!/bin/bash
# Repositories as older versions wrote them, never regenerated, are read by this version:
# tests/data/repo-v1 (format 1 as arca 0.1.0 wrote it) and tests/data/repo-xchacha (as
# arca wrote it just before the cipher suites: every object sealed with
# XChaCha20-Poly1305; new repositories default to AES-256-GCM where the CPU can).  Their snapshots list, check --read-data passes, both
# snapshots restore byte for byte with their metadata, and a new backup into each dedups
# against what it holds (the fixtures' ids are BLAKE2b, and so are the new objects' names);
# a backup-only key added to each keeps it readable.  The fixtures are local repositories, the same on either
# backend's run.
source "$(dirname "$0")/lib.sh"

DATA=$HERE/../data
export ARCA_PASSWORD_FILE=$DATA/repo-v1.pass
for V in v1 xchacha; do
    R=$T/repo-$V
    cp -a "$DATA/repo-$V" "$R"          # a copy: a run writes lock records
    SRC=/tmp/arca-$V-fixture/src           # where the tree was when it was backed up

    arca -r "$R" snapshots --json > "$T/snaps.json"
    [ "$(json_get "$T/snaps.json" 'len(j)')" = 2 ] || fail "fixture $V lists $(cat "$T/snaps.json")"
    [ "$(json_get "$T/snaps.json" 'sorted(p for s in j for p in s["paths"])')" = "['/db/dump.sql', '$SRC']" ] ||
        fail "fixture $V's paths: $(cat "$T/snaps.json")"
    arca -r "$R" check --read-data >/dev/null || fail "check --read-data of fixture $V"

    # the tree, as repo-v1-tree.py writes it
    python3 "$DATA/repo-v1-tree.py" "$T/$V-expect"
    owner=()
    [ "$(id -u)" -eq 0 ] || owner=(--no-owner)
    arca -r "$R" restore latest --path "$SRC" --target "$T/$V-r" >/dev/null
    compare_trees "$T/$V-expect" "$T/$V-r$SRC" "${owner[@]}"
    [ "$(stat -c %h "$T/$V-r$SRC/etc/hardlink.conf")" = 2 ] || fail "the hard link came back apart"

    # the stream
    arca -r "$R" restore latest --path /db/dump.sql --target "$T/$V-d" >/dev/null
    printf 'CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1),(2);\n' > "$T/dump.sql"
    cmp "$T/dump.sql" "$T/$V-d/db/dump.sql" || fail "the stream restored differs"

    # this version writes into it, and what it holds is not stored again
    mkdir -p "$T/$V-again"
    cp -a "$T/$V-expect" "$T/$V-again/src"
    arca -r "$R" backup --json "$T/$V-again/src" > "$T/b.json"
    [ "$(json_get "$T/b.json" 'j["summary"]["bytes_added_raw"] < 20000')" = True ] ||
        fail "a backup of the same tree into fixture $V stored it again: $(cat "$T/b.json")"
    arca -r "$R" check >/dev/null || fail "check after a backup into fixture $V"
    # and the objects it added are named by BLAKE2b, as the fixture's are, whatever this
    # machine's default id function for new repositories (test-id-hash.sh)
    for f in "$R"/snapshots/* "$R"/index/* "$R"/data/*/*; do
        [ "$(b2sum -l 256 < "$f" | cut -c1-64)" = "$(basename "$f")" ] ||
            fail "fixture $V: $(basename "$(dirname "$f")")/$(basename "$f") is not named by its BLAKE2b"
    done

    # a backup-only key added to an old repository (its index sealed again): it stays
    # readable, and the backup-only key's backup deduplicates against what it holds
    printf 'backups only\n' > "$T/pass-bo"
    arca -r "$R" key add --backup-only --new-password-file "$T/pass-bo" >/dev/null ||
        fail "key add --backup-only on fixture $V"
    arca -r "$R" --password-file "$T/pass-bo" backup --json "$T/$V-again/src" > "$T/bo.json" ||
        fail "a backup-only backup into fixture $V"
    [ "$(json_get "$T/bo.json" 'j["summary"]["bytes_added_raw"] < 20000')" = True ] ||
        fail "the backup-only backup into fixture $V stored the tree again: $(cat "$T/bo.json")"
    arca -r "$R" check --read-data >/dev/null || fail "check --read-data of fixture $V with a backup-only key"
    rm -rf "$T/$V-r2"
    arca -r "$R" restore "$(json_get "$T/snaps.json" '[s["id"] for s in j if s["paths"] == ["'"$SRC"'"]][0]')" \
        --target "$T/$V-r2" >/dev/null
    compare_trees "$T/$V-expect" "$T/$V-r2$SRC" "${owner[@]}"
done
pass
