#!/usr/bin/env python3
"""treecmp.py A B [--no-owner] [--ignore PATH]...: compare two trees entry by entry.

Checks type, permission bits, owner (unless --no-owner), size, mtime (ns), content,
symlink targets, device numbers, extended attributes (including POSIX ACLs, which
Linux exposes as system.posix_acl_* attributes), hard-link structure, and that files
sparse in A are sparse in B.  Directory mtimes are compared too.  Exit 1 on difference.
"""
import hashlib
import os
import stat
import sys


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in names:
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            pass
    return out


def digest(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def walk(root, ignore):
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if any(rel == i or rel.startswith(i + '/') for i in ignore):
                continue
            entries[rel] = full
        # do not descend into symlinked dirs (os.walk does not by default)
    return entries


def describe(path, owner):
    st = os.lstat(path)
    d = {
        'type': stat.S_IFMT(st.st_mode),
        'mode': stat.S_IMODE(st.st_mode),
        'xattrs': xattrs(path),
    }
    if owner:
        d['uid'] = st.st_uid
        d['gid'] = st.st_gid
    if stat.S_ISREG(st.st_mode):
        d['size'] = st.st_size
        d['mtime'] = st.st_mtime_ns
        d['sha256'] = digest(path)
        d['sparse'] = st.st_blocks * 512 < st.st_size // 2 and st.st_size > 1 << 20
    elif stat.S_ISLNK(st.st_mode):
        d['target'] = os.readlink(path)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        d['rdev'] = st.st_rdev
        d['mtime'] = st.st_mtime_ns
    elif stat.S_ISDIR(st.st_mode):
        d['mtime'] = st.st_mtime_ns
    else:
        d['mtime'] = st.st_mtime_ns
    return d, (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 else None


def main():
    args = sys.argv[1:]
    owner = True
    ignore = []
    pos = []
    i = 0
    while i < len(args):
        if args[i] == '--no-owner':
            owner = False
        elif args[i] == '--ignore':
            i += 1
            ignore.append(args[i])
        else:
            pos.append(args[i])
        i += 1
    a, b = pos
    ea, eb = walk(a, ignore), walk(b, ignore)
    bad = 0
    for rel in sorted(set(ea) | set(eb)):
        if rel not in eb:
            print(f'only in {a}: {rel!r}')
            bad += 1
            continue
        if rel not in ea:
            print(f'only in {b}: {rel!r}')
            bad += 1
            continue
        da, la = describe(ea[rel], owner)
        db, lb = describe(eb[rel], owner)
        for k in da:
            if k == 'sparse':
                if da[k] and not db.get(k):
                    print(f'{rel!r}: sparse in {a} but not in {b}')
                    bad += 1
                continue
            if da.get(k) != db.get(k):
                print(f'{rel!r}: {k} differs: {da.get(k)!r} != {db.get(k)!r}')
                bad += 1
    # hard links: the same groups of names
    def groups(entries):
        g = {}
        for rel, full in entries.items():
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                g.setdefault((st.st_dev, st.st_ino), set()).add(rel)
        return sorted(sorted(v) for v in g.values() if len(v) > 1)
    if groups(ea) != groups(eb):
        print(f'hard links differ: {groups(ea)} != {groups(eb)}')
        bad += 1
    if bad:
        print(f'{bad} differences')
        sys.exit(1)


main()
