/* id-speed.c - ns per blob id and per object name of either id function, at the sizes
 * that matter (a tree blob of a few hundred bytes, an 8 KiB dump chunk, a 1 MiB file
 * chunk), for docs/performance.md.  Not a test: it prints figures.  One thread; the best
 * of ROUNDS rounds of about 0.1 s each (default 5), as the machine may be shared.
 *
 *   id-speed [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    static const size_t sizes[] = { 256, 8192, 1 << 20 };
    static const struct {
        bk_id_hash h;
        const char *name;
    } fns[] = { { BK_ID_HASH_BLAKE2B, "blake2b" }, { BK_ID_HASH_HMAC_SHA256, "hmac-sha256" } };
    bk_keys *k;
    uint8_t *buf = malloc(1 << 20);
    if (!buf || bk_crypto_init() < 0 || bk_keys_new_random(&k) < 0)
        return 1;
    for (size_t i = 0; i < (1u << 20); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    printf("%-12s %-5s %10s %12s %10s\n", "function", "what", "bytes", "ns", "GB/s");
    for (size_t f = 0; f < sizeof(fns) / sizeof(fns[0]); f++) {
        if (bk_keys_set_id_hash(k, fns[f].h) < 0)
            return 1;
        for (int what = 0; what < 2; what++)
            for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                size_t n = sizes[s];
                long iters = (long)(1e8 / (double)(n + 1000)) + 20;
                double best = 1e30;
                for (int r = 0; r < rounds; r++) {
                    double t0 = now();
                    for (long i = 0; i < iters; i++) {
                        bk_id id;
                        buf[0] = (uint8_t)i;
                        if ((what ? bk_obj_hash(k, buf, n, &id) : bk_blob_id(k, buf, n, &id)) < 0)
                            return 1;
                    }
                    double ns = (now() - t0) / (double)iters * 1e9;
                    best = ns < best ? ns : best;
                }
                printf("%-12s %-5s %10zu %12.0f %10.2f\n", fns[f].name, what ? "name" : "id", n,
                       best, (double)n / best);
            }
    }
    bk_keys_free(k);
    free(buf);
    return 0;
}
