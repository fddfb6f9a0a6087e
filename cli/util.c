/* util.c - value parsing and formatting, snapshot filters, JSON helpers for the commands. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"

int cli_parse_size(const char *s, uint64_t *ret)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -EINVAL;
    uint64_t mul = 1;
    switch (tolower((unsigned char)*end)) {
    case 0: break;
    case 'b': end++; break;
    case 'k': mul = 1ull << 10; end++; break;
    case 'm': mul = 1ull << 20; end++; break;
    case 'g': mul = 1ull << 30; end++; break;
    case 't': mul = 1ull << 40; end++; break;
    default: return -EINVAL;
    }
    if (mul > 1 && (*end == 'i' || *end == 'I'))
        end++;
    if (mul > 1 && (*end == 'b' || *end == 'B'))
        end++;
    if (*end || v * (double)mul > 1.8e19)
        return -EINVAL;
    *ret = (uint64_t)(v * (double)mul);
    return 0;
}

int cli_parse_duration(const char *s, long long *ret_ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -EINVAL;
    double mul;
    if (strcmp(end, "ms") == 0) mul = 1;
    else if (*end == 0 || strcmp(end, "s") == 0) mul = 1000;
    else if (strcmp(end, "m") == 0) mul = 60e3;
    else if (strcmp(end, "h") == 0) mul = 3600e3;
    else if (strcmp(end, "d") == 0) mul = 86400e3;
    else return -EINVAL;
    *ret_ms = (long long)(v * mul);
    return 0;
}

const char *cli_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

void cli_format_bytes(uint64_t n, char *out, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%llu B", (unsigned long long)n);
    else
        snprintf(out, len, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
}

void cli_format_duration(double secs, char *out, size_t len)
{
    long s = (long)(secs + 0.5);
    if (s >= 3600)
        snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, len, "%ld:%02ld", s / 60, s % 60);
}

int cli_filter_opt(cli_filter *f, int opt, const char *arg)
{
    switch (opt) {
    case 'H':
        if (f->nhosts < 64) f->hosts[f->nhosts++] = arg;
        return 0;
    case 't':
        if (f->ntags < 64) f->tags[f->ntags++] = arg;
        return 0;
    case 'P':
        if (f->npaths < 64) f->paths[f->npaths++] = arg;
        return 0;
    }
    return 1;
}

static int filter_only_opt(cli *c, int opt, const char *arg, void *ctx)
{
    if (cli_filter_opt(ctx, opt, arg) == 0)
        return 0;
    return cli_usage(c, "unknown option");
}

const struct option cli_filter_opts[] = {
    FILTER_OPTIONS,
    { 0 },
};

int cli_parse_filter(cli *c, int argc, char **argv, cli_filter *f, int *first)
{
    return cli_parse(c, argc, argv, "", cli_filter_opts, filter_only_opt, f, first);
}

bk_filter cli_filter_get(const cli_filter *f)
{
    bk_filter bf = { f->hosts, f->nhosts, f->paths, f->npaths, f->tags, f->ntags };
    return bf;
}

int cli_find_snapshot(cli *c, const char *arg, const cli_filter *f, bk_snapshot **ret)
{
    cli_filter none = { 0 };
    bk_filter bf = cli_filter_get(f ? f : &none);
    int r = bk_snapshot_find(c->repo, arg, &bf, ret);
    if (r < 0)
        return cli_fail(c, r);
    return EXIT_OK;
}

void cli_json_print(json_t *j)
{
    if (!j) {
        fprintf(stderr, "arca: cannot build JSON output\n");
        return;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(j);
}

static json_t *strv(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *cli_summary_json(const bk_summary *s)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                     "s:I, s:I, s:I, s:I, s:f}",
                     "files_new", (json_int_t)s->files_new,
                     "files_changed", (json_int_t)s->files_changed,
                     "files_unchanged", (json_int_t)s->files_unchanged,
                     "dirs_new", (json_int_t)s->dirs_new,
                     "dirs_changed", (json_int_t)s->dirs_changed,
                     "dirs_unchanged", (json_int_t)s->dirs_unchanged,
                     "bytes_new", (json_int_t)s->bytes_new,
                     "bytes_changed", (json_int_t)s->bytes_changed,
                     "bytes_unchanged", (json_int_t)s->bytes_unchanged,
                     "bytes_read", (json_int_t)s->bytes_read,
                     "blobs_added", (json_int_t)s->blobs_added,
                     "bytes_added", (json_int_t)s->bytes_added,
                     "bytes_added_raw", (json_int_t)s->bytes_added_raw,
                     "total_files", (json_int_t)s->total_files,
                     "total_dirs", (json_int_t)s->total_dirs,
                     "total_bytes", (json_int_t)s->total_bytes,
                     "errors", (json_int_t)s->errors,
                     "files_changed_while_read", (json_int_t)s->files_changed_while_read,
                     "duration", s->duration);
}

json_t *cli_snapshot_json(const bk_snapshot *s)
{
    char id[BK_ID_HEX], tree[BK_ID_HEX], when[48];
    bk_id_hex(&s->id, id);
    bk_id_hex(&s->tree, tree);
    bk_snapshot_time_str(s, when);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "short_id", json_stringn(id, BK_SHORT_ID_LEN));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "host", json_string(s->host));
    json_object_set_new(o, "username", json_string(s->username));
    json_object_set_new(o, "paths", strv(s->paths, s->npaths));
    json_object_set_new(o, "tags", strv(s->tags, s->ntags));
    json_object_set_new(o, "tree", json_string(tree));
    if (s->has_parent) {
        char parent[BK_ID_HEX];
        bk_id_hex(&s->parent, parent);
        json_object_set_new(o, "parent", json_string(parent));
    } else {
        json_object_set_new(o, "parent", json_null());
    }
    if (s->has_original) {
        char original[BK_ID_HEX];
        bk_id_hex(&s->original, original);
        json_object_set_new(o, "original", json_string(original));
    }
    char *mysql = bk_snapshot_mysql_json(s);   /* (as stored) */
    if (mysql)
        json_object_set_new(o, "mysql", json_loads(mysql, 0, NULL));
    free(mysql);
    if (s->has_key_slot) {
        char slot[BK_ID_HEX];
        bk_id_hex(&s->key_slot, slot);
        json_object_set_new(o, "key_slot", json_string(slot));
    }
    json_object_set_new(o, "chunker", json_pack("{s:i, s:i, s:i}", "min", (int)s->chunk_min,
                                                "avg", (int)s->chunk_avg, "max", (int)s->chunk_max));
    json_object_set_new(o, "program", json_string(s->program));
    json_object_set_new(o, "summary", s->has_summary ? cli_summary_json(&s->summary) : json_null());
    return o;
}

static const char *type_name(bk_node_type t)
{
    switch (t) {
    case BK_NODE_FILE: return "file";
    case BK_NODE_DIR: return "dir";
    case BK_NODE_SYMLINK: return "symlink";
    case BK_NODE_FIFO: return "fifo";
    case BK_NODE_CHARDEV: return "chardev";
    case BK_NODE_BLOCKDEV: return "blockdev";
    case BK_NODE_SOCKET: return "socket";
    }
    return "?";
}

/* Names may hold any byte; JSON needs UTF-8: invalid sequences become U+FFFD and the
 * exact bytes are given as hex in path_hex. */
static json_t *json_path(const char *p, size_t len, bool *lossy)
{
    json_t *s = json_stringn(p, len);
    *lossy = s == NULL;
    if (s)
        return s;
    char *buf = malloc(len * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x80) {
            buf[o++] = (char)ch;
        } else {
            buf[o++] = (char)0xef;
            buf[o++] = (char)0xbf;
            buf[o++] = (char)0xbd;
        }
    }
    s = json_stringn(buf, o);
    free(buf);
    return s;
}

/* File flags as lsattr letters, in lsattr's order. */
static json_t *fflags_json(uint32_t f)
{
    static const struct { uint32_t bit; char c; } t[] = {
        { 0x1, 's' }, { 0x2, 'u' }, { 0x8, 'S' }, { 0x10000, 'D' }, { 0x10, 'i' }, { 0x20, 'a' },
        { 0x40, 'd' }, { 0x80, 'A' }, { 0x4, 'c' }, { 0x4000, 'j' }, { 0x8000, 't' },
        { 0x20000, 'T' }, { 0x800000, 'C' }, { 0x400, 'm' },
    };
    char s[sizeof(t) / sizeof(t[0]) + 1];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (f & t[i].bit)
            s[n++] = t[i].c;
    return json_stringn(s, n);
}

json_t *cli_node_json(const bk_node_info *n)
{
    bool lossy;
    json_t *o = json_object();
    json_object_set_new(o, "path", json_path(n->path, n->path_len, &lossy));
    if (lossy) {
        char *hex = malloc(n->path_len * 2 + 1);
        for (size_t i = 0; i < n->path_len; i++)
            sprintf(hex + 2 * i, "%02x", (unsigned char)n->path[i]);
        json_object_set_new(o, "path_hex", json_stringn(hex, n->path_len * 2));
        free(hex);
    }
    json_object_set_new(o, "type", json_string(type_name(n->type)));
    json_object_set_new(o, "mode", json_integer(n->mode));
    json_object_set_new(o, "uid", json_integer(n->uid));
    json_object_set_new(o, "gid", json_integer(n->gid));
    json_object_set_new(o, "user", json_string(n->user));
    json_object_set_new(o, "group", json_string(n->group));
    json_object_set_new(o, "size", json_integer((json_int_t)n->size));
    json_object_set_new(o, "mtime", json_integer(n->mtime));
    json_object_set_new(o, "mtime_nsec", json_integer(n->mtime_nsec));
    json_object_set_new(o, "inode", json_integer((json_int_t)n->inode));
    json_object_set_new(o, "nlink", json_integer((json_int_t)n->nlink));
    if (n->link_target) {
        json_object_set_new(o, "link_target", json_path(n->link_target, strlen(n->link_target), &lossy));
    }
    if (n->type == BK_NODE_CHARDEV || n->type == BK_NODE_BLOCKDEV)
        json_object_set_new(o, "rdev", json_integer((json_int_t)n->rdev));
    json_object_set_new(o, "xattrs", json_integer((json_int_t)n->nxattrs));
    json_object_set_new(o, "acl", json_boolean(n->has_acl));
    json_object_set_new(o, "flags", fflags_json(n->fflags));
    return o;
}

void cli_print_path(FILE *f, const char *p, size_t len)
{
    while (len > 0) {
        char out[CLI_ESCAPE_UNIT_MAX];
        size_t olen, used = cli_escape_unit(p, len, out, &olen, NULL);
        fwrite(out, 1, olen, f);
        p += used;
        len -= used;
    }
}

void cli_print_field(FILE *f, const char *s, int width)
{
    size_t w;
    char *e = cli_escape(s, strlen(s), &w);
    if (!e)
        return;
    size_t want = (size_t)(width < 0 ? -width : width);
    if (width > 0)
        for (; w < want; w++)
            fputc(' ', f);
    fputs(e, f);
    if (width < 0)
        for (; w < want; w++)
            fputc(' ', f);
    free(e);
}

int cli_parse_group_by(const char *arg, unsigned *ret)
{
    unsigned by = 0;
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "host") == 0) by |= BK_GROUP_HOST;
        else if (strcmp(t, "paths") == 0) by |= BK_GROUP_PATHS;
        else if (strcmp(t, "tags") == 0) by |= BK_GROUP_TAGS;
        else {
            free(copy);
            return -1;
        }
    }
    free(copy);
    *ret = by;
    return 0;
}

void cli_figure(cli *c, const char *key, double value)
{
    for (size_t i = 0; i < c->nfigures; i++)
        if (strcmp(c->figures[i].key, key) == 0) {
            c->figures[i].value = value;
            return;
        }
    if (c->nfigures < sizeof(c->figures) / sizeof(c->figures[0])) {
        c->figures[c->nfigures].key = key;
        c->figures[c->nfigures++].value = value;
    }
}
