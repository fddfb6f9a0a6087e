/* macro.h - small helpers shared by every libbackup source file. */
#ifndef BK_MACRO_H
#define BK_MACRO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BK_ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define BK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define BK_UNUSED __attribute__((unused))
#define BK_MUST_CHECK __attribute__((warn_unused_result))
#define BK_PRINTF(a, b) __attribute__((format(printf, a, b)))

static inline void bk_freep(void *p) { free(*(void **)p); }
#define BK_AUTOFREE __attribute__((cleanup(bk_freep)))

static inline void bk_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t bk_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void bk_put_le64(uint8_t *p, uint64_t v)
{
    bk_put_le32(p, (uint32_t)v);
    bk_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t bk_get_le64(const uint8_t *p)
{
    return (uint64_t)bk_get_le32(p) | (uint64_t)bk_get_le32(p + 4) << 32;
}

/* Overflow-checked size arithmetic for parsers of untrusted data. */
static inline int bk_mul_ok(size_t a, size_t b, size_t *ret)
{
    return !__builtin_mul_overflow(a, b, ret);
}

#endif
