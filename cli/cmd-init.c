/* cmd-init.c - arca init: create a repository. */
#include <errno.h>
#include <string.h>

#include "cli.h"

struct init_opts {
    uint64_t kdf_mem, pack_size, chunk_min, chunk_avg, chunk_max;
    long kdf_ops, compression;
    int cipher, id_hash;
    bool copy_chunker_params;
};

enum { O_KDF_MEM = 1, O_KDF_OPS, O_PACK_SIZE, O_COMPRESSION, O_CHUNK_MIN, O_CHUNK_AVG, O_CHUNK_MAX,
       O_CIPHER, O_ID_HASH, O_COPY_CHUNKER_PARAMS };

static const struct option opts[] = {
    { "kdf-memory", required_argument, NULL, O_KDF_MEM },
    { "kdf-ops", required_argument, NULL, O_KDF_OPS },
    { "pack-size", required_argument, NULL, O_PACK_SIZE },
    { "compression", required_argument, NULL, O_COMPRESSION },
    { "chunk-min", required_argument, NULL, O_CHUNK_MIN },
    { "chunk-avg", required_argument, NULL, O_CHUNK_AVG },
    { "chunk-max", required_argument, NULL, O_CHUNK_MAX },
    { "cipher", required_argument, NULL, O_CIPHER },
    { "id-hash", required_argument, NULL, O_ID_HASH },
    { "copy-chunker-params", no_argument, NULL, O_COPY_CHUNKER_PARAMS },
    FROM_OPTIONS,
    { 0 },
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct init_opts *o = ctx;
    uint64_t *size = NULL;
    if (cli_from_opt(c, opt, arg) == 0)
        return 0;
    switch (opt) {
    case O_COPY_CHUNKER_PARAMS: o->copy_chunker_params = true; return 0;
    case O_KDF_MEM: size = &o->kdf_mem; break;
    case O_PACK_SIZE: size = &o->pack_size; break;
    case O_CHUNK_MIN: size = &o->chunk_min; break;
    case O_CHUNK_AVG: size = &o->chunk_avg; break;
    case O_CHUNK_MAX: size = &o->chunk_max; break;
    case O_CIPHER:
        if (strcmp(arg, "aes-256-gcm") == 0)
            o->cipher = BK_CIPHER_AES;
        else if (strcmp(arg, "xchacha20-poly1305") == 0)
            o->cipher = BK_CIPHER_XCHACHA;
        else if (strcmp(arg, "auto") == 0)
            o->cipher = -1;
        else
            return cli_usage(c, "--cipher: expected aes-256-gcm, xchacha20-poly1305 or auto, got '%s'", arg);
        return 0;
    case O_ID_HASH:
        if (strcmp(arg, "hmac-sha256") == 0)
            o->id_hash = BK_ID_HASH_HMAC_SHA256;
        else if (strcmp(arg, "blake2b") == 0)
            o->id_hash = BK_ID_HASH_BLAKE2B;
        else if (strcmp(arg, "auto") == 0)
            o->id_hash = -1;
        else
            return cli_usage(c, "--id-hash: expected hmac-sha256, blake2b or auto, got '%s'", arg);
        return 0;
    case O_KDF_OPS:
    case O_COMPRESSION: {
        char *end;
        long v = strtol(arg, &end, 10);
        if (*end || end == arg || v < 0 || v > 100)
            return cli_usage(c, "expected a small number, got '%s'", arg);
        if (opt == O_KDF_OPS)
            o->kdf_ops = v;
        else
            o->compression = v;
        return 0;
    }
    default:
        return cli_usage(c, "unknown option");
    }
    if (cli_parse_size(arg, size) < 0)
        return cli_usage(c, "invalid size '%s' (e.g. 16M, 512K)", arg);
    return 0;
}

static int set(cli *c, int option, int64_t v, const char *name)
{
    int r = bk_repo_set_int(c->repo, option, v);
    if (r < 0)
        return cli_usage(c, "--%s: value out of range", name);
    return 0;
}

static int run(cli *c, int argc, char **argv)
{
    struct init_opts o = { .compression = -1, .cipher = -1, .id_hash = -1 };
    int optind_;
    int e = cli_parse(c, argc, argv, "", opts, on_opt, &o, &optind_);
    if (e)
        return e;
    if (optind_ < argc)
        return cli_usage(c, "init takes no arguments");
    /* --from-repo (the option; ARCA_FROM_REPOSITORY is copy's) goes with
     * --copy-chunker-params: what init takes from the source is its keys and chunker */
    bool from = c->from.repo != NULL;
    if (from != o.copy_chunker_params)
        return cli_usage(c, from ? "--from-repo needs --copy-chunker-params (the keys and "
                                   "chunker parameters are what init takes from it)"
                                 : "--copy-chunker-params needs --from-repo REPO");
    if (from && (o.chunk_min || o.chunk_avg || o.chunk_max || o.id_hash >= 0))
        return cli_usage(c, "--copy-chunker-params takes the chunk sizes and the id function "
                            "from the source: --chunk-* and --id-hash do not go with it");
    if (from && (e = cli_open_source(c)))
        return e;
    if ((e = cli_new_repo(c)))
        return e;
    if ((o.kdf_mem && (e = set(c, BK_REPO_KDF_MEMORY, (int64_t)o.kdf_mem, "kdf-memory"))) ||
        (o.kdf_ops && (e = set(c, BK_REPO_KDF_OPS, o.kdf_ops, "kdf-ops"))) ||
        (o.pack_size && (e = set(c, BK_REPO_PACK_SIZE, (int64_t)o.pack_size, "pack-size"))) ||
        (o.compression >= 0 && (e = set(c, BK_REPO_COMPRESSION, o.compression, "compression"))) ||
        (o.chunk_min && (e = set(c, BK_REPO_CHUNK_MIN, (int64_t)o.chunk_min, "chunk-min"))) ||
        (o.chunk_avg && (e = set(c, BK_REPO_CHUNK_AVG, (int64_t)o.chunk_avg, "chunk-avg"))) ||
        (o.chunk_max && (e = set(c, BK_REPO_CHUNK_MAX, (int64_t)o.chunk_max, "chunk-max"))) ||
        (e = set(c, BK_REPO_CIPHER, o.cipher, "cipher")) ||
        (e = set(c, BK_REPO_ID_HASH, o.id_hash, "id-hash")))
        return e;
    char *pass;
    size_t len;
    if ((e = cli_password_get(c, PASS_INIT, &pass, &len)))
        return e;
    int r = from ? bk_repo_init_from(c->repo, c->repo_location, pass, len, c->src)
                 : bk_repo_init(c->repo, c->repo_location, pass, len);
    cli_password_free(pass, len);
    if (r < 0)
        return cli_fail(c, r);
    if (c->json) {
        json_t *j = json_pack("{s:s, s:s, s:b}", "id", bk_repo_id(c->repo), "location",
                              c->repo_location, "changed", 1);
        if (from)
            json_object_set_new(j, "keys_from", json_string(bk_repo_id(c->src)));
        cli_json_print(j);
    } else {
        cli_info(c, "created repository %.8s at %s\n", bk_repo_id(c->repo), c->repo_location);
        if (from)
            cli_info(c, "with the keys and chunker parameters of repository %.8s (%s): copies "
                     "between them travel as stored\n", bk_repo_id(c->src), cli_from_location(c));
        cli_info(c, "Keep the passphrase safe: without it the data cannot be read.\n");
    }
    return EXIT_OK;
}

const command cmd_init = {
    "init", run, "init [--kdf-memory SIZE] [--kdf-ops N] [--pack-size SIZE] [--compression N]\n"
    "          [--cipher aes-256-gcm|xchacha20-poly1305|auto] [--id-hash hmac-sha256|blake2b|auto]\n"
    "          [--from-repo REPO --copy-chunker-params [--from-password-file F] ...]",
    "Create a new repository at -r REPO.  The passphrase comes from --password-file,\n"
    "ARCA_PASSWORD_FILE, ARCA_PASSWORD_COMMAND or a prompt.\n\n"
    "Options:\n"
    "      --kdf-memory SIZE      Argon2id memory for the key slot (default 32M)\n"
    "      --kdf-ops N            Argon2id passes (default 6)\n"
    "      --pack-size SIZE       pack target size (default 16M)\n"
    "      --compression N        zstd level, 0 = off (default 3)\n"
    "      --chunk-min/--chunk-avg/--chunk-max SIZE\n"
    "                             chunker sizes for files (default 512K/1M/8M)\n"
    "      --cipher NAME          aes-256-gcm, xchacha20-poly1305, or auto (default): AES\n"
    "                             where this CPU has AES-NI\n"
    "      --id-hash NAME         hmac-sha256, blake2b, or auto (default): HMAC-SHA-256\n"
    "                             where this CPU has SHA extensions (SHA-NI, ARMv8 SHA2)\n"
    "      --copy-chunker-params  with --from-repo: take the master key (so the chunker\n"
    "                             secret and the id key), chunk sizes and id function of\n"
    "                             the source, so that arca copy moves blobs as stored and\n"
    "                             backups into either deduplicate against copies; the new\n"
    "                             repository has its own passphrase.  Whoever can open\n"
    "                             either can read both.\n"
    FROM_HELP,
    .opts = opts,
};
