/* error.h - error context carried by handles: a negative errno plus a message. */
#ifndef BK_ERROR_H
#define BK_ERROR_H

#include "macro.h"

#define BK_ERROR_MAX 1024

typedef struct bk_error {
    int code;                 /* 0 or a negative errno */
    char msg[BK_ERROR_MAX];
} bk_error;

/* Record an error unless one is recorded already (the first error wins, because it is
 * the cause; later ones are consequences).  Returns code, so callers can
 * `return bk_error_set(err, -EBADMSG, "...")`.  err may be NULL. */
int bk_error_set(bk_error *err, int code, const char *fmt, ...) BK_PRINTF(3, 4);
/* Prefix context to an existing message ("pack 1a2b: " + "short read"). */
int bk_error_prefix(bk_error *err, const char *fmt, ...) BK_PRINTF(2, 3);
void bk_error_clear(bk_error *err);
/* Copy src into dst if dst has no error yet. */
void bk_error_move(bk_error *dst, const bk_error *src);

#endif
