/* util.h - hex, time and string helpers. */
#ifndef BK_UTIL_H
#define BK_UTIL_H

#include <stdbool.h>
#include <stdio.h>

#include "backup.h"
#include "macro.h"

/* out holds 2n+1 bytes */
void bk_hex(const void *p, size_t n, char *out);
/* Exactly 2n hex digits (lower or upper case) then NUL; -EINVAL otherwise. */
int bk_unhex(const char *s, void *out, size_t n);
static inline bool bk_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* "entry" or "entries": the word for a count of n, so that messages say "1 entry". */
static inline const char *bk_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* RFC 3339 with nanoseconds and a numeric offset. */
void bk_time_format(int64_t t, int32_t nsec, int32_t tz, char out[48]);
/* Current time and the local UTC offset at that time. */
void bk_time_now(int64_t *ret_t, int32_t *ret_nsec, int32_t *ret_tz);
double bk_monotonic(void);

char *bk_strdup_or_null(const char *s);
/* Duplicate a string array. */
int bk_strv_dup(char *const *v, size_t n, char ***ret);
void bk_strv_free(char **v, size_t n);
int bk_strv_push(char ***v, size_t *n, const char *s) BK_MUST_CHECK;
bool bk_strv_eq(char *const *a, size_t na, char *const *b, size_t nb);

/* This machine's host name ("localhost" if unknown) and user name. */
void bk_hostname(char *out, size_t n);
void bk_username(char *out, size_t n);
/* This process as lock records name it: "USER@HOST pid N (pid:[INODE])".  The pid
 * namespace tells two containers with the same host name apart, so that a lock is only
 * ever taken for dead when its pid is looked up where it lives. */
void bk_process_id(char *out, size_t n);
/* The "(pid:[INODE])" part for this process ("" if unknown). */
void bk_pid_namespace(char *out, size_t n);

/* Read a whole file / stream. */
int bk_read_file(const char *path, uint8_t **ret, size_t *ret_len) BK_MUST_CHECK;
/* Read n bytes, fewer only at the end of the file (read again after EINTR); *ret_got says
 * how many, also on an error.  0 or -errno. */
int bk_read_full(int fd, void *buf, size_t n, size_t *ret_got);
/* As bk_read_full, at offset off (pread): stops early only at the end of the file. */
int bk_pread_full(int fd, void *buf, size_t n, uint64_t off, size_t *ret_got);
int bk_write_full(int fd, const void *buf, size_t n);

#endif
