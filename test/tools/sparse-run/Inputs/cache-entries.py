"""Counts the entries of an object cache directory (sparse-run --cache-dir),
or damages every one of them: --truncate N cuts each to N bytes,
--flip-last-byte inverts each one's last byte (inside the object code)."""
import glob
import os
import sys

entries = sorted(glob.glob(os.path.join(sys.argv[1], "*.o")))
if len(sys.argv) > 2 and sys.argv[2] == "--truncate":
    for path in entries:
        with open(path, "r+b") as f:
            f.truncate(int(sys.argv[3]))
elif len(sys.argv) > 2 and sys.argv[2] == "--flip-last-byte":
    for path in entries:
        with open(path, "r+b") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read(1)[0]
            f.seek(-1, os.SEEK_END)
            f.write(bytes([last ^ 0xFF]))
else:
    print(f"{len(entries)} entries")
