/* fuzz-keyslot.c - key slots (full and backup-only: the seed corpus has both, made with
 * this passphrase): bk_keyslot_parse_info, and bk_keyslot_open with a fixed passphrase.  The slot names its own Argon2id cost, so inputs asking for more than a
 * tiny one are only parsed (otherwise one input could take seconds and gigabytes). */
#include "crypto.h"

#define PASS "correct horse battery staple"
#define MAX_OPS 2
#define MAX_MEM (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return bk_crypto_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_keyslot_info info;
    if (bk_keyslot_parse_info(data, size, &info) < 0)
        return 0;
    if (strnlen(info.host, sizeof(info.host)) == sizeof(info.host) ||
        strnlen(info.user, sizeof(info.user)) == sizeof(info.user) ||
        strnlen(info.backup_host, sizeof(info.backup_host)) == sizeof(info.backup_host))
        __builtin_trap();
    if (info.kdf.opslimit > MAX_OPS || info.kdf.memlimit > MAX_MEM)
        return 0;
    bk_keys *k = NULL;
    int r = bk_keyslot_open(data, size, PASS, sizeof(PASS) - 1, &k);
    if ((r == 0) != (k != NULL))
        __builtin_trap();
    /* a backup-only slot's keys: its host a string, its config within bounds, no secrets */
    if (k && k->backup_only &&
        (strnlen(k->backup_host, sizeof(k->backup_host)) == sizeof(k->backup_host) ||
         k->backup_config_len > sizeof(k->backup_config) || k->master[0] || k->box_sk[0]))
        __builtin_trap();
    if (r != 0 && r != -EKEYREJECTED && r != -EBADMSG && r != -EPROTONOSUPPORT && r != -ENOMEM)
        __builtin_trap();
    bk_keys_free(k);
    return 0;
}
