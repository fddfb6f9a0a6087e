/* snapshot.c - snapshot documents, filters and lookup by id, prefix or "latest". */
#include <jansson.h>

#include "mysql.h"
#include "snapshot.h"
#include "util.h"

/* The snapshot's "mysql" object (binary log position, archived logs), or NULL. */
static json_t *mysql_json(const bk_snapshot *s)
{
    json_t *m = json_object();
    int bad = !m;
    if (m && s->mysql_binlog_file) {
        bad |= json_object_set_new(m, "binlog_file", json_string(s->mysql_binlog_file));
        bad |= json_object_set_new(m, "binlog_pos", json_integer((json_int_t)s->mysql_binlog_pos));
    }
    if (m && s->mysql_gtid)
        bad |= json_object_set_new(m, "gtid", json_string(s->mysql_gtid));
    json_t *bl = m && s->nbinlogs ? json_array() : NULL;
    for (size_t i = 0; bl && i < s->nbinlogs; i++) {
        const bk_binlog *b = &s->binlogs[i];
        char t0[48], t1[48];
        bk_time_format(b->first_time, 0, 0, t0);
        bk_time_format(b->last_time, 0, 0, t1);
        json_t *e = json_pack("{s:s, s:I, s:s, s:s}", "name", b->name, "size", (json_int_t)b->size,
                              "first_time", t0, "last_time", t1);
        if (e && b->first_gtid)
            bad |= json_object_set_new(e, "first_gtid", json_string(b->first_gtid));
        if (e && b->last_gtid)
            bad |= json_object_set_new(e, "last_gtid", json_string(b->last_gtid));
        bad |= !e || json_array_append_new(bl, e) < 0;
    }
    if (bl)
        bad |= json_object_set_new(m, "binlogs", bl);
    if (m && s->binlog_gap)
        bad |= json_object_set_new(m, "binlog_gap", json_string(s->binlog_gap));
    if (bad) {
        json_decref(m);
        return NULL;
    }
    return m;
}

char *bk_snapshot_mysql_json(const bk_snapshot *s)
{
    if (!s->mysql_binlog_file && !s->mysql_gtid && !s->nbinlogs && !s->binlog_gap)
        return NULL;
    json_t *m = mysql_json(s);
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    return text;
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

#define SUMMARY_FIELDS(X) \
    X(files_new) X(files_changed) X(files_unchanged) X(dirs_new) X(dirs_changed) \
    X(dirs_unchanged) X(bytes_new) X(bytes_changed) X(bytes_unchanged) X(bytes_read) \
    X(blobs_added) X(bytes_added) X(bytes_added_raw) X(total_files) X(total_dirs) \
    X(total_bytes) X(errors)

int bk_snapshot_encode(const bk_snapshot *s, bk_buf *out)
{
    char when[48], tree[BK_ID_HEX], parent[BK_ID_HEX];
    bk_time_format(s->time, s->time_nsec, s->tz_offset, when);
    bk_id_hex(&s->tree, tree);
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int bad = 0;
    bad |= json_object_set_new(o, "version", json_integer(BK_FORMAT_VERSION));
    bad |= json_object_set_new(o, "time", json_string(when));
    bad |= json_object_set_new(o, "host", json_string(s->host ? s->host : ""));
    bad |= json_object_set_new(o, "username", json_string(s->username ? s->username : ""));
    bad |= json_object_set_new(o, "uid", json_integer(s->uid));
    bad |= json_object_set_new(o, "gid", json_integer(s->gid));
    bad |= json_object_set_new(o, "paths", strv_json(s->paths, s->npaths));
    bad |= json_object_set_new(o, "tags", strv_json(s->tags, s->ntags));
    bad |= json_object_set_new(o, "tree", json_string(tree));
    if (s->has_parent) {
        bk_id_hex(&s->parent, parent);
        bad |= json_object_set_new(o, "parent", json_string(parent));
    }
    if (s->has_original) {   /* since 0.2 */
        char original[BK_ID_HEX];
        bk_id_hex(&s->original, original);
        bad |= json_object_set_new(o, "original", json_string(original));
    }
    if (s->has_key_slot) {   /* since 0.2 */
        char slot[BK_ID_HEX];
        bk_id_hex(&s->key_slot, slot);
        bad |= json_object_set_new(o, "key_slot", json_string(slot));
    }
    if (s->mysql_binlog_file || s->mysql_gtid || s->nbinlogs || s->binlog_gap) {   /* since 0.2 */
        json_t *m = mysql_json(s);
        bad |= !m || json_object_set_new(o, "mysql", m);
    }
    bad |= json_object_set_new(o, "chunker", json_pack("{s:I, s:I, s:I}", "min",
                                   (json_int_t)s->chunk_min, "avg", (json_int_t)s->chunk_avg,
                                   "max", (json_int_t)s->chunk_max));
    bad |= json_object_set_new(o, "program", json_string(s->program ? s->program : ""));
    if (s->has_summary) {
        json_t *sum = json_object();
#define X(f) bad |= json_object_set_new(sum, #f, json_integer((json_int_t)s->summary.f));
        SUMMARY_FIELDS(X)
#undef X
        if (s->summary.files_changed_while_read)   /* since 0.2; absent = 0 */
            bad |= json_object_set_new(sum, "files_changed_while_read",
                                       json_integer((json_int_t)s->summary.files_changed_while_read));
        bad |= json_object_set_new(sum, "duration", json_real(s->summary.duration));
        bad |= json_object_set_new(o, "summary", sum);
    }
    char *txt = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!txt)
        return -ENOMEM;
    int r = bk_buf_append(out, txt, strlen(txt));
    free(txt);
    return r;
}

static int json_strv(json_t *a, char ***ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    if (!a)
        return 0;
    if (!json_is_array(a))
        return -EBADMSG;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v))
            return -EBADMSG;
        if (bk_strv_push(ret, ret_n, json_string_value(v)) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int get_u64(json_t *o, const char *key, uint64_t *ret)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *ret = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -EBADMSG;
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

int bk_snapshot_decode(const uint8_t *p, size_t n, bk_snapshot **ret)
{
    json_error_t jerr;
    json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return -EBADMSG;
    bk_snapshot *s = calloc(1, sizeof(*s));
    int r = -ENOMEM;
    if (!s)
        goto fail;
    r = -EBADMSG;
    json_int_t version, uid = 0, gid = 0;
    const char *when, *host, *user = "", *tree, *parent = NULL, *program = "", *original = NULL;
    const char *key_slot = NULL;
    json_t *mysql = NULL;
    json_t *paths, *tags = NULL, *chunker = NULL, *summary = NULL;
    if (json_unpack(o, "{s:I, s:s, s:s, s?s, s?I, s?I, s:o, s?o, s:s, s?s, s?o, s?s, s?o, s?s, s?s, s?o}",
                    "version", &version, "time", &when, "host", &host, "username", &user,
                    "uid", &uid, "gid", &gid, "paths", &paths, "tags", &tags, "tree", &tree,
                    "parent", &parent, "chunker", &chunker, "program", &program,
                    "summary", &summary, "original", &original, "key_slot", &key_slot,
                    "mysql", &mysql) != 0)
        goto fail;
    if (mysql) {
        const char *file = NULL, *gtid = NULL, *gap = NULL;
        json_int_t pos = 0;
        json_t *bl = NULL;
        if (json_unpack(mysql, "{s?s, s?I, s?s, s?o, s?s}", "binlog_file", &file, "binlog_pos", &pos,
                        "gtid", &gtid, "binlogs", &bl, "binlog_gap", &gap) != 0 || pos < 0 ||
            (!file && pos) || (bl && !json_is_array(bl)) ||
            (file && !(s->mysql_binlog_file = strdup(file))) ||
            (gtid && !(s->mysql_gtid = strdup(gtid))) || (gap && !(s->binlog_gap = strdup(gap))))
            goto fail;
        s->mysql_binlog_pos = (uint64_t)pos;
        size_t nb = bl ? json_array_size(bl) : 0;
        if (nb && !(s->binlogs = calloc(nb, sizeof(bk_binlog))))
            goto fail;
        for (size_t i = 0; i < nb; i++) {
            const char *name, *t0, *t1, *g0 = NULL, *g1 = NULL;
            json_int_t size;
            int32_t ns, tz;
            bk_binlog *b = &s->binlogs[s->nbinlogs];
            if (json_unpack(json_array_get(bl, i), "{s:s, s:I, s:s, s:s, s?s, s?s}", "name", &name,
                            "size", &size, "first_time", &t0, "last_time", &t1, "first_gtid", &g0,
                            "last_gtid", &g1) != 0 || size < 0 || !*name ||
                bk_parse_time(t0, &b->first_time, &ns, &tz) < 0 ||
                bk_parse_time(t1, &b->last_time, &ns, &tz) < 0)
                goto fail;
            b->size = (uint64_t)size;
            b->name = strdup(name);
            b->first_gtid = g0 ? strdup(g0) : NULL;
            b->last_gtid = g1 ? strdup(g1) : NULL;
            s->nbinlogs++;
            if (!b->name || (g0 && !b->first_gtid) || (g1 && !b->last_gtid))
                goto fail;
        }
    }
    if (original) {
        if (bk_id_parse(original, &s->original) < 0)
            goto fail;
        s->has_original = true;
    }
    if (key_slot) {
        if (bk_id_parse(key_slot, &s->key_slot) < 0)
            goto fail;
        s->has_key_slot = true;
    }
    if (version != BK_FORMAT_VERSION) {
        r = -EPROTONOSUPPORT;
        goto fail;
    }
    if (bk_parse_time(when, &s->time, &s->time_nsec, &s->tz_offset) < 0 ||
        bk_id_parse(tree, &s->tree) < 0 || uid < 0 || uid > UINT32_MAX || gid < 0 ||
        gid > UINT32_MAX)
        goto fail;
    s->uid = (uint32_t)uid;
    s->gid = (uint32_t)gid;
    if (parent) {
        if (bk_id_parse(parent, &s->parent) < 0)
            goto fail;
        s->has_parent = true;
    }
    if ((r = json_strv(paths, &s->paths, &s->npaths)) < 0 ||
        (r = json_strv(tags, &s->tags, &s->ntags)) < 0)
        goto fail;
    r = -EBADMSG;
    if (chunker) {
        json_int_t mn, av, mx;
        if (json_unpack(chunker, "{s:I, s:I, s:I}", "min", &mn, "avg", &av, "max", &mx) != 0 ||
            mn < 0 || av < 0 || mx < 0 || mn > UINT32_MAX || av > UINT32_MAX || mx > UINT32_MAX)
            goto fail;
        s->chunk_min = (uint32_t)mn;
        s->chunk_avg = (uint32_t)av;
        s->chunk_max = (uint32_t)mx;
    }
    if (summary) {
        if (!json_is_object(summary))
            goto fail;
#define X(f) if (get_u64(summary, #f, &s->summary.f) < 0) goto fail;
        SUMMARY_FIELDS(X)
        X(files_changed_while_read)
#undef X
        json_t *d = json_object_get(summary, "duration");
        if (d && !json_is_number(d))
            goto fail;
        s->summary.duration = d ? json_number_value(d) : 0;
        s->has_summary = true;
    }
    s->host = strdup(host);
    s->username = strdup(user);
    s->program = strdup(program);
    if (!s->host || !s->username || !s->program) {
        r = -ENOMEM;
        goto fail;
    }
    json_decref(o);
    *ret = s;
    return 0;
fail:
    json_decref(o);
    bk_snapshot_free(s);
    return r;
}

void bk_snapshot_free(bk_snapshot *s)
{
    if (!s)
        return;
    free(s->host);
    free(s->username);
    free(s->program);
    free(s->mysql_binlog_file);
    free(s->mysql_gtid);
    free(s->binlog_gap);
    bk_binlogs_free(s->binlogs, s->nbinlogs);
    bk_strv_free(s->paths, s->npaths);
    bk_strv_free(s->tags, s->ntags);
    free(s);
}

void bk_snapshots_free(bk_snapshot **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        bk_snapshot_free(v[i]);
    free(v);
}

int bk_snapshot_dup(const bk_snapshot *s, bk_snapshot **ret)
{
    bk_snapshot *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    *d = *s;
    d->host = d->username = d->program = NULL;
    d->mysql_binlog_file = d->mysql_gtid = d->binlog_gap = NULL;
    d->binlogs = NULL;
    d->nbinlogs = 0;
    d->paths = d->tags = NULL;
    d->npaths = d->ntags = 0;
    if ((s->mysql_binlog_file && !(d->mysql_binlog_file = strdup(s->mysql_binlog_file))) ||
        (s->mysql_gtid && !(d->mysql_gtid = strdup(s->mysql_gtid))) ||
        (s->binlog_gap && !(d->binlog_gap = strdup(s->binlog_gap))) ||
        bk_binlogs_dup(s->binlogs, s->nbinlogs, &d->binlogs) < 0) {
        bk_snapshot_free(d);
        return -ENOMEM;
    }
    d->nbinlogs = s->nbinlogs;
    d->host = strdup(s->host ? s->host : "");
    d->username = strdup(s->username ? s->username : "");
    d->program = strdup(s->program ? s->program : "");
    int r = bk_strv_dup(s->paths, s->npaths, &d->paths);
    if (r == 0) {
        d->npaths = s->npaths;
        r = bk_strv_dup(s->tags, s->ntags, &d->tags);
    }
    if (r == 0)
        d->ntags = s->ntags;
    if (r < 0 || !d->host || !d->username || !d->program) {
        bk_snapshot_free(d);
        return -ENOMEM;
    }
    *ret = d;
    return 0;
}

static int snap_cmp(const void *a, const void *b)
{
    const bk_snapshot *x = *(bk_snapshot *const *)a, *y = *(bk_snapshot *const *)b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->time_nsec != y->time_nsec)
        return x->time_nsec < y->time_nsec ? -1 : 1;
    return bk_id_cmp(&x->id, &y->id);
}

void bk_snapshots_sort(bk_snapshot **v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), snap_cmp);
}

static bool has_str(char *const *v, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) == len && memcmp(v[i], s, len) == 0)
            return true;
    return false;
}

static bool tag_group_match(const bk_snapshot *s, const char *group)
{
    /* "a,b": every tag of the group must be present; "" matches untagged snapshots */
    if (!*group)
        return s->ntags == 0;
    for (const char *p = group; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && !has_str(s->tags, s->ntags, p, len))
            return false;
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

bool bk_snapshot_match(const bk_snapshot *s, const bk_filter *f)
{
    if (!f)
        return true;
    if (f->nhosts) {
        bool ok = false;
        for (size_t i = 0; i < f->nhosts && !ok; i++)
            ok = strcmp(f->hosts[i], s->host) == 0;
        if (!ok)
            return false;
    }
    for (size_t i = 0; i < f->npaths; i++)
        if (!has_str(s->paths, s->npaths, f->paths[i], strlen(f->paths[i])))
            return false;
    if (f->ntag_groups) {
        bool ok = false;
        for (size_t i = 0; i < f->ntag_groups && !ok; i++)
            ok = tag_group_match(s, f->tag_groups[i]);
        if (!ok)
            return false;
    }
    return true;
}

void bk_snapshot_time_str(const bk_snapshot *s, char out[48])
{
    bk_time_format(s->time, s->time_nsec, s->tz_offset, out);
}
