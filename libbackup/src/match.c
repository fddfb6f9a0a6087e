/* match.c - path patterns. */
#include <fnmatch.h>
#include <string.h>

#include "match.h"

static bool has_glob(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}

bool bk_match_exclude(char *const *patterns, size_t n, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < n; i++) {
        const char *pat = patterns[i];
        if (!strchr(pat, '/')) {
            if (fnmatch(pat, base, 0) == 0)
                return true;
        } else if (pat[0] == '/') {
            if (fnmatch(pat, path, FNM_PATHNAME) == 0)
                return true;
        } else {
            for (const char *p = path; p; p = strchr(p + 1, '/'))
                if (fnmatch(pat, p[0] == '/' ? p + 1 : p, FNM_PATHNAME) == 0)
                    return true;
        }
    }
    return false;
}

static bool under(const char *path, const char *dir)
{
    size_t l = strlen(dir);
    while (l > 0 && dir[l - 1] == '/')
        l--;
    if (l == 0)
        return true;   /* "/" */
    return strncmp(path, dir, l) == 0 && (path[l] == 0 || path[l] == '/');
}

bool bk_match_include(char *const *patterns, size_t n, const char *path)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        const char *pat = patterns[i];
        if (!has_glob(pat)) {
            if (under(path, pat))
                return true;
            continue;
        }
        /* the path or one of its parents matches the glob */
        char buf[4096];
        size_t len = strlen(path);
        if (len >= sizeof(buf))
            continue;
        memcpy(buf, path, len + 1);
        for (;;) {
            if (fnmatch(pat, buf, pat[0] == '/' ? FNM_PATHNAME : 0) == 0)
                return true;
            char *slash = strrchr(buf, '/');
            if (!slash || slash == buf)
                break;
            *slash = 0;
        }
    }
    return false;
}

bool bk_match_include_below(char *const *patterns, size_t n, const char *dir)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        if (has_glob(patterns[i]) || under(patterns[i], dir))
            return true;
    }
    return false;
}
