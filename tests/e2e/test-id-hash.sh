#!/bin/bash
# Id functions (init --id-hash, docs/FORMAT.md sections 1, 2 and 9): HMAC-SHA-256 where
# the CPU has SHA extensions, keyed BLAKE2b otherwise or when asked.  The config records
# the choice (feature hmac-sha256); packs, index objects and snapshots are named by the
# SHA-256 or the BLAKE2b of their bytes, key slots by BLAKE2b in either, and so are the
# objects a later run adds, whatever this machine's default: a repository never mixes
# the two.  Either kind backs up, restores byte for byte, checks, finds a damaged pack, and
# keeps its function when repair makes a lost config again.  An unknown name is a usage
# error that creates nothing.
source "$(dirname "$0")/lib.sh"

make_fixture "$T/src"
fast=no
if contains -w -e sha_ni -e sha2 < /proc/cpuinfo; then
    fast=yes   # x86 SHA-NI, or the "sha2" of an ARMv8 CPU's Features
fi

# names_by REPO TYPE sha256|blake2b: every object of TYPE is named by that hash of its bytes
names_by() {
    local repo=$1 type=$2 fn=$3 name got n=0
    for name in $(list_objects "$repo" "$type"); do
        obj_get "$repo" "$type/$name" "$T/object"
        case $fn in
            sha256) got=$(sha256sum < "$T/object") ;;
            blake2b) got=$(b2sum -l 256 < "$T/object") ;;
        esac
        [ "${got%% *}" = "$name" ] || fail "$type/$name is not named by its $fn"
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] || fail "no $type objects to look at"
}

for idh in default hmac-sha256 blake2b; do
    R=$(new_repo "$idh")
    opt=()
    [ "$idh" = default ] || opt=(--id-hash "$idh")
    arca_init "$R" "${opt[@]}" >/dev/null
    uses=blake2b
    [ "$idh" = hmac-sha256 ] || { [ "$idh" = default ] && [ "$fast" = yes ]; } && uses=hmac-sha256
    names=blake2b
    [ "$uses" = blake2b ] || names=sha256

    arca -r "$R" --json cat config > "$T/config.json"
    has=$(json_get "$T/config.json" '"hmac-sha256" in j["features"]')
    if [ "$uses" = hmac-sha256 ]; then
        [ "$has" = True ] || fail "$idh: the config says $(cat "$T/config.json")"
    else
        [ "$has" = False ] || fail "$idh: the config says $(cat "$T/config.json")"
    fi

    # two backups, in two runs: the second one's copy of a file dedups against the first
    # (the same ids), and a new file is stored
    rm -f "$T/src/copy.bin" "$T/src/new.txt"
    arca -r "$R" backup -q "$T/src"
    cp "$T/src/random.bin" "$T/src/copy.bin"
    echo "new after the first backup" > "$T/src/new.txt"
    arca -r "$R" backup --json "$T/src" > "$T/b.json"
    [ "$(json_get "$T/b.json" 'j["summary"]["files_new"] == 2 and j["summary"]["bytes_added_raw"] < 20000')" = True ] ||
        fail "$idh: a second backup stored a copy again: $(cat "$T/b.json")"
    for type in data index snapshots; do
        names_by "$R" "$type" "$names"
    done
    names_by "$R" keys blake2b

    rm -rf "$T/r"
    arca -r "$R" restore -q latest --target "$T/r"
    compare_trees "$T/src" "$T/r$T/src"
    arca -r "$R" check --read-data > /dev/null || fail "$idh: check --read-data"

    # a lost config is made again with the function the objects are named by
    obj_rm "$R" config
    expect_rc 1 arca -r "$R" snapshots
    arca -r "$R" repair > /dev/null 2> "$T/repair" || fail "$idh: repair: $(cat "$T/repair")"
    arca -r "$R" --json cat config > "$T/config.json"
    [ "$(json_get "$T/config.json" '"hmac-sha256" in j["features"]')" = "$has" ] ||
        fail "$idh: repair wrote $(cat "$T/config.json")"
    arca -r "$R" check --read-data > /dev/null || fail "$idh: check --read-data after repair"

    # a damaged pack is found whatever the function
    pack=$(list_objects "$R" data | sort | sed -n 1p)
    damage "$R" "data/$pack" flip
    expect_rc 1 arca -r "$R" check --read-data
done

expect_rc 2 arca_init "$T/bogus" --id-hash sha1
[ ! -e "$T/bogus" ] || fail "a refused --id-hash left a repository behind"
pass
