/* error.c - first-error-wins error context. */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

int bk_error_set(bk_error *err, int code, const char *fmt, ...)
{
    if (!err || err->code != 0)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

int bk_error_prefix(bk_error *err, const char *fmt, ...)
{
    if (!err || err->code == 0)
        return 0;
    char prefix[256], old[BK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t pl = strlen(prefix);
    if (pl >= sizeof(err->msg))
        pl = sizeof(err->msg) - 1;
    memcpy(err->msg, prefix, pl);
    size_t ol = strnlen(old, sizeof(old) - 1);
    if (ol > sizeof(err->msg) - 1 - pl)
        ol = sizeof(err->msg) - 1 - pl;
    memcpy(err->msg + pl, old, ol);
    err->msg[pl + ol] = 0;
    return err->code;
}

void bk_error_clear(bk_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = 0;
}

void bk_error_move(bk_error *dst, const bk_error *src)
{
    if (dst && src && src->code && !dst->code)
        *dst = *src;
}
