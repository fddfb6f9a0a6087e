/* backend.c - backend selection by location. */
#include "backend.h"

const char *bk_obj_type_name(bk_obj_type t)
{
    static const char *const names[BK_OBJ_TYPE_COUNT] = {
        [BK_OBJ_CONFIG] = "config", [BK_OBJ_KEY] = "keys", [BK_OBJ_DATA] = "data",
        [BK_OBJ_INDEX] = "index", [BK_OBJ_SNAPSHOT] = "snapshots", [BK_OBJ_LOCK] = "locks",
        [BK_OBJ_STATUS] = "status",
    };
    return (unsigned)t < BK_OBJ_TYPE_COUNT ? names[t] : "?";
}

int bk_backend_open(const char *location, const bk_backend_conf *conf, bool create,
                    bk_error *err, bk_backend **ret)
{
    if (!location || !*location)
        return bk_error_set(err, -EINVAL, "no repository given (use -r or ARCA_REPOSITORY)");
    if (strncmp(location, "rados:", 6) == 0)
        return bk_backend_rados_open(location + 6, conf, create, err, ret);
    if (strncmp(location, "local:", 6) == 0)
        location += 6;
    if (conf && conf->ceph_snap)
        return bk_error_set(err, -EINVAL, "%s: --ceph-snap is for repositories in RADOS "
                            "(rados:POOL/NAMESPACE), not for a directory", location);
    return bk_backend_local_open(location, create, err, ret);
}

void bk_backend_close(bk_backend *be)
{
    if (be)
        be->ops->close(be);
}

#ifndef BK_HAVE_RADOS
int bk_backend_rados_open(const char *spec, const bk_backend_conf *conf, bool create,
                          bk_error *err, bk_backend **ret)
{
    return bk_error_set(err, -EPROTONOSUPPORT, "this arca was built without RADOS support");
}
#endif
