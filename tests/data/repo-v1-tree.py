#!/usr/bin/env python3
"""repo-v1-tree.py DIR: write the tree that tests/data/repo-v1 holds a snapshot of (it was
backed up from /tmp/arca-v1-fixture/src): the same bytes, modes and times every time.
Never change it: the fixture repository cannot be made again by an older arca."""
import os, sys
top = sys.argv[1]
def fill(seed, n):
    out = bytearray()
    x = seed
    while len(out) < n:
        x = (x + 0x9E3779B97F4A7C15) & (2**64 - 1)
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
        z ^= z >> 31
        out += z.to_bytes(8, 'little')
    return bytes(out[:n])
os.makedirs(f"{top}/etc/app", exist_ok=True)
os.makedirs(f"{top}/data/empty-dir", exist_ok=True)
open(f"{top}/etc/app/app.conf", "w").write("# fixture\nlisten = 127.0.0.1:8080\n")
open(f"{top}/etc/app/empty", "w").close()
open(f"{top}/data/random.bin", "wb").write(fill(1, 256 << 10))     # several chunks
open(f"{top}/data/zeros-and-data.bin", "wb").write(b"\0" * (512 << 10) + fill(2, 50000))
os.symlink("app/app.conf", f"{top}/etc/link")
os.link(f"{top}/etc/app/app.conf", f"{top}/etc/hardlink.conf")
for p in ["etc/app/app.conf", "etc/app/empty", "data/random.bin", "data/zeros-and-data.bin"]:
    os.chmod(f"{top}/{p}", 0o640)
for dirpath, dirnames, filenames in os.walk(top):
    for n in filenames + dirnames:
        os.utime(os.path.join(dirpath, n), (1700000000, 1700000000), follow_symlinks=False)
os.utime(top, (1700000000, 1700000000))
