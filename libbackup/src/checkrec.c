/* checkrec.c - the records check leaves in the repository (status/check, status/check-ok),
 * which arca status reads; and the list of other processes' locks with their ages. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "crypto.h"
#include "repo.h"
#include "util.h"

#define CHECKREC_VERSION 1

static const char *rec_name(bool ok)
{
    return ok ? "check-ok" : "check";
}

int bk_check_record_parse(const char *name, const uint8_t *p, size_t n, bk_check_record *ret)
{
    memset(ret, 0, sizeof(*ret));
    json_error_t jerr;
    json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return -EBADMSG;
    int r = -EBADMSG;
    json_t *v = json_object_get(o, "version");
    if (!json_is_object(o) || !json_is_integer(v))
        goto out;
    if (json_integer_value(v) != CHECKREC_VERSION) {
        r = json_integer_value(v) > CHECKREC_VERSION ? -EPROTONOSUPPORT : -EBADMSG;
        goto out;
    }
    json_t *nm = json_object_get(o, "name"), *t = json_object_get(o, "time"),
           *h = json_object_get(o, "host"), *rd = json_object_get(o, "read_data"),
           *sh = json_object_get(o, "read_share"), *e = json_object_get(o, "errors"),
           *sn = json_object_get(o, "snapshots"), *pk = json_object_get(o, "packs"),
           *d = json_object_get(o, "duration");
    if (!json_is_string(nm) || strcmp(json_string_value(nm), name) != 0 || !json_is_integer(t) ||
        json_integer_value(t) < 0 || !json_is_string(h) || json_string_length(h) >= sizeof(ret->host) ||
        strlen(json_string_value(h)) != json_string_length(h) || !json_is_boolean(rd) ||
        !json_is_number(sh) || json_number_value(sh) < 0 || json_number_value(sh) > 1 ||
        !json_is_integer(e) || json_integer_value(e) < 0 || !json_is_integer(sn) ||
        json_integer_value(sn) < 0 || !json_is_integer(pk) || json_integer_value(pk) < 0 ||
        !json_is_number(d) || !(json_number_value(d) >= 0))
        goto out;
    ret->time = json_integer_value(t);
    snprintf(ret->host, sizeof(ret->host), "%s", json_string_value(h));
    ret->read_data = json_is_true(rd);
    ret->read_share = json_number_value(sh);
    ret->errors = (uint64_t)json_integer_value(e);
    ret->snapshots = (uint64_t)json_integer_value(sn);
    ret->packs = (uint64_t)json_integer_value(pk);
    ret->duration = json_number_value(d);
    /* a record that says it found errors cannot be the last good one */
    r = strcmp(name, "check-ok") == 0 && ret->errors ? -EBADMSG : 0;
out:
    json_decref(o);
    return r;
}

static int save_one(bk_repo *repo, const char *name, const bk_check_record *rec)
{
    json_t *o = json_pack("{s:i, s:s, s:I, s:s, s:b, s:f, s:I, s:I, s:I, s:f, s:s}",
                          "version", CHECKREC_VERSION, "name", name, "time", (json_int_t)rec->time,
                          "host", rec->host, "read_data", rec->read_data, "read_share",
                          rec->read_share, "errors", (json_int_t)rec->errors, "snapshots",
                          (json_int_t)rec->snapshots, "packs", (json_int_t)rec->packs,
                          "duration", rec->duration, "program", "arca " BK_VERSION_STRING);
    char *doc = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!doc)
        return -ENOMEM;
    bk_buf box = BK_BUF_INIT;
    int r = bk_seal(repo->keys, BK_KIND_STATUS, NULL, BK_ENC_RAW, doc, strlen(doc), &box);
    free(doc);
    if (r < 0)
        return r;
    /* objects are written create-exclusive: the record before goes first.  A crash in
     * between leaves none, which status reports as "no check recorded": harmless. */
    r = bk_be_put(repo->be, BK_OBJ_STATUS, name, box.data, box.len);
    for (int tries = 0; r == -EEXIST && tries < 3; tries++) {
        int k = bk_be_remove(repo->be, BK_OBJ_STATUS, name);
        r = k < 0 && k != -ENOENT ? k : bk_be_put(repo->be, BK_OBJ_STATUS, name, box.data, box.len);
    }
    bk_buf_free(&box);
    return r;
}

int bk_check_record_save(bk_repo *repo, const bk_check_record *rec)
{
    if (!repo->be || !repo->keys)
        return bk_repo_error(repo, -EINVAL, "no open repository");
    if (repo->read_only)
        return bk_repo_error(repo, -EROFS, "the repository is opened read-only");
    int r = save_one(repo, rec_name(false), rec);
    if (r == 0 && rec->errors == 0)
        r = save_one(repo, rec_name(true), rec);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot record the check in status/: %s", strerror(-r));
    return 0;
}

int bk_check_record_load(bk_repo *repo, bool ok, bk_check_record *ret)
{
    const char *name = rec_name(ok);
    memset(ret, 0, sizeof(*ret));
    bk_buf b = BK_BUF_INIT;
    int r = bk_be_get(repo->be, BK_OBJ_STATUS, name, 0, 0, &b);
    if (r == -ENOENT) {
        bk_buf_free(&b);
        return -ENOENT;   /* not an error of the handle: no check recorded */
    }
    if (r < 0) {
        bk_buf_free(&b);
        return bk_repo_error(repo, r, "cannot read status/%s: %s", name, strerror(-r));
    }
    uint8_t *plain = b.len >= BK_SEAL_OVERHEAD ? malloc(b.len - BK_SEAL_OVERHEAD + 1) : NULL;
    uint8_t enc;
    size_t len = 0;
    r = !plain ? (b.len >= BK_SEAL_OVERHEAD ? -ENOMEM : -EBADMSG)
               : bk_unseal(repo->keys, BK_KIND_STATUS, NULL, b.data, b.len, plain, &enc, &len);
    if (r == 0 && enc != BK_ENC_RAW)
        r = -EBADMSG;
    if (r == 0)
        r = bk_check_record_parse(name, plain, len, ret);
    free(plain);
    bk_buf_free(&b);
    if (r < 0)
        return bk_repo_error(repo, r, "status/%s is %s", name,
                             r == -EPROTONOSUPPORT ? "of a newer version" : "damaged");
    return 0;
}

/* ---- locks ------------------------------------------------------------------------------- */

/* The holders' descriptions are "KIND lock by WHO since TIME" (bk_repo_lock), joined with
 * "; " by the backends, RADOS adding " (client at addr)". */
int bk_repo_locks(bk_repo *repo, bk_lock_info **ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    if (!repo->be)
        return bk_repo_error(repo, -EINVAL, "no open repository");
    bk_buf h = BK_BUF_INIT;
    int r = repo->be->ops->lock_holders(repo->be, &h);
    if (r == 0 && bk_buf_append(&h, "", 1) < 0)
        r = -ENOMEM;
    if (r < 0) {
        bk_buf_free(&h);
        return bk_repo_error(repo, r, "cannot inspect the locks: %s", strerror(-r));
    }
    bk_lock_info *v = NULL;
    size_t n = 0;
    char *s = (char *)h.data;
    while (r == 0 && s && *s) {
        char *end = strstr(s, "; ");
        if (end)
            *end = 0;
        bk_lock_info *nv = realloc(v, (n + 1) * sizeof(*v));
        if (!nv) {
            r = -ENOMEM;
            break;
        }
        v = nv;
        bk_lock_info *l = &v[n++];
        memset(l, 0, sizeof(*l));
        snprintf(l->holder, sizeof(l->holder), "%s", s);
        l->exclusive = strncmp(s, "exclusive ", 10) == 0;
        const char *since = strstr(s, " since ");
        if (since) {
            char when[64];
            size_t k = strcspn(since + 7, " ()");
            snprintf(when, sizeof(when), "%.*s", (int)BK_MIN(k, sizeof(when) - 1), since + 7);
            int64_t t;
            int32_t ns, tz;
            if (bk_parse_time(when, &t, &ns, &tz) == 0)
                l->since = t;
        }
        s = end ? end + 2 : NULL;
    }
    bk_buf_free(&h);
    if (r < 0) {
        free(v);
        return bk_repo_error(repo, r, "cannot inspect the locks: %s", strerror(-r));
    }
    *ret = v;
    *ret_n = n;
    return 0;
}
