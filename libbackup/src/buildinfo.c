/* buildinfo.c - what this library was built with, for `arca version`. */
#include <archive.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>
#ifdef BK_HAVE_RADOS
#include <rados/librados.h>
#endif

#include "backup.h"

void bk_build_info_get(bk_build_info *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->version = BK_VERSION_STRING;
    ret->format_version = BK_FORMAT_VERSION;
    snprintf(ret->libsodium, sizeof(ret->libsodium), "%s", sodium_version_string());
    snprintf(ret->libcrypto, sizeof(ret->libcrypto), "%s", OpenSSL_version(OPENSSL_VERSION_STRING));
    snprintf(ret->zstd, sizeof(ret->zstd), "%s", ZSTD_versionString());
    int a = archive_version_number();
    snprintf(ret->libarchive, sizeof(ret->libarchive), "%d.%d.%d", a / 1000000, a / 1000 % 1000,
             a % 1000);
#if JANSSON_VERSION_HEX >= 0x020d00
    snprintf(ret->jansson, sizeof(ret->jansson), "%s", jansson_version_str());
#else
    snprintf(ret->jansson, sizeof(ret->jansson), "%s", JANSSON_VERSION);
#endif
#ifdef BK_HAVE_RADOS
    int major, minor, extra;
    rados_version(&major, &minor, &extra);
    ret->rados = true;
    snprintf(ret->librados, sizeof(ret->librados), "%d.%d.%d", major, minor, extra);
#endif
}
