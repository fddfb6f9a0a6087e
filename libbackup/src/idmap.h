/* idmap.h - open-addressing hash map keyed by 32-byte ids, with fixed-size values.
 * Ids are uniformly random (keyed hashes), so their first bytes are the hash. */
#ifndef BK_IDMAP_H
#define BK_IDMAP_H

#include <stdbool.h>

#include "backup.h"
#include "macro.h"

typedef struct bk_idmap {
    uint8_t *slots;          /* each: id (32), value, used flag; 8-byte aligned */
    size_t slot_size;
    size_t value_size;
    size_t cap;              /* power of two */
    size_t count;
} bk_idmap;

void bk_idmap_init(bk_idmap *m, size_t value_size);
void bk_idmap_free(bk_idmap *m);
/* Pointer to the value of id, or NULL. */
void *bk_idmap_get(const bk_idmap *m, const bk_id *id);
/* Insert id (value zeroed) unless present; *ret_value points at the value either way.
 * Returns 1 if inserted, 0 if it existed, or -ENOMEM.  Pointers are valid until the next
 * insertion. */
int bk_idmap_put(bk_idmap *m, const bk_id *id, void **ret_value);
/* Remove id; false if it was not there.  Pointers into the map are invalidated. */
bool bk_idmap_remove(bk_idmap *m, const bk_id *id);
/* Iterate: pos starts at 0; returns false at the end (not while removing). */
bool bk_idmap_next(const bk_idmap *m, size_t *pos, const bk_id **ret_id, void **ret_value);

#endif
