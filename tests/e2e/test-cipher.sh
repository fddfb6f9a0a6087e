#!/bin/bash
# Cipher suites (init --cipher, docs/FORMAT.md section 4): AES-256-GCM where the CPU has
# AES-NI, XChaCha20-Poly1305 otherwise or when asked; the config records the choice, the
# objects are sealed with it (their first byte says so), and either kind of repository
# backs up, restores byte for byte and checks.  An unknown name is a usage error that
# creates nothing.
source "$(dirname "$0")/lib.sh"

make_fixture "$T/src"
aes=no
if contains -w aes < /proc/cpuinfo && contains -w pclmulqdq < /proc/cpuinfo; then
    aes=yes
fi

# first_byte REPO: the first byte of one of its snapshot objects, as a number
first_byte() {
    local name
    name=$(list_objects "$1" snapshots | sort | sed -n 1p)
    obj_get "$1" "snapshots/$name" "$T/object"
    od -An -tu1 -N1 "$T/object" | tr -d ' '
}

for cipher in default aes-256-gcm xchacha20-poly1305; do
    [ "$cipher" != aes-256-gcm ] || [ "$aes" = yes ] || continue
    R=$(new_repo "$cipher")
    opt=()
    [ "$cipher" = default ] || opt=(--cipher "$cipher")
    arca_init "$R" "${opt[@]}" >/dev/null
    arca -r "$R" --json cat config > "$T/config.json"
    # (the id function has a feature of its own: test-id-hash.sh)
    features=$(json_get "$T/config.json" '[f for f in j["features"] if f != "hmac-sha256"]')
    uses=xchacha20-poly1305
    [ "$cipher" = aes-256-gcm ] || { [ "$cipher" = default ] && [ "$aes" = yes ]; } && uses=aes-256-gcm
    if [ "$uses" = aes-256-gcm ]; then
        [ "$features" = "['aes-256-gcm']" ] || fail "$cipher: the config says $features"
    else
        [ "$features" = "[]" ] || fail "$cipher: the config says $features"
    fi
    arca -r "$R" backup -q "$T/src"
    b=$(first_byte "$R")
    if [ "$uses" = aes-256-gcm ]; then
        [ "$b" -ge 128 ] || fail "$cipher: a snapshot object is not sealed with AES-256-GCM (enc $b)"
    else
        [ "$b" -lt 128 ] || fail "$cipher: a snapshot object is sealed with AES-256-GCM (enc $b)"
    fi
    rm -rf "$T/r"
    arca -r "$R" restore -q latest --target "$T/r"
    compare_trees "$T/src" "$T/r$T/src"
    arca -r "$R" check --read-data > /dev/null || fail "$cipher: check --read-data"
    # a damaged pack is found whatever the cipher
    pack=$(list_objects "$R" data | sort | sed -n 1p)
    damage "$R" "data/$pack" flip
    expect_rc 1 arca -r "$R" check --read-data
done

expect_rc 2 arca_init "$T/bogus" --cipher rot13
[ ! -e "$T/bogus" ] || fail "a refused --cipher left a repository behind"
pass
