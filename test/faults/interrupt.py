#!/usr/bin/env python3
"""Interrupts sparse-opt at many moments and checks what it leaves behind.

    interrupt.py SPARSE_OPT WORKDIR NEW_MODEL OLD_MODEL [ROUNDS]

Each round starts with a complete older output (OLD_MODEL imported to
m.mlir and m.weights), runs `sparse-opt NEW_MODEL -o m.mlir`, and sends it
SIGINT, SIGTERM or SIGKILL after a delay spread over the length of an
uninterrupted run. Afterwards each file must be byte for byte the old one
or the uninterrupted run's: never half-written. A new module with the old
pack is a failure (the pack is committed first); the old module with the
new pack can happen when the signal lands between the two renames, and is
counted. SIGINT and SIGTERM must leave no temporary file; SIGKILL cannot be
handled, so its leftovers are only counted. Prints one line per signal.
"""
import filecmp
import os
import shutil
import signal
import subprocess
import sys
import time


def main():
    sparse_opt, work, new_model, old_model = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 12
    shutil.rmtree(work, ignore_errors=True)
    dirs = {k: os.path.join(work, k) for k in ("ref", "old", "run")}
    for d in dirs.values():
        os.makedirs(d)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def default_signals():
        # A shell may start background jobs with SIGINT ignored.
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_DFL)

    start = time.monotonic()
    subprocess.run([sparse_opt, new_model, "-o",
                    os.path.join(dirs["ref"], "m.mlir")], check=True, **quiet)
    full = time.monotonic() - start
    subprocess.run([sparse_opt, old_model, "-o",
                    os.path.join(dirs["old"], "m.mlir")], check=True, **quiet)
    names = ("m.mlir", "m.weights")

    failures = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        counts = dict(interrupted=0, completed=0, old=0, new=0, mixed=0,
                      leftovers=0)
        for k in range(rounds):
            delay = 1.2 * full * k / max(1, rounds - 1)
            run = dirs["run"]
            for f in os.listdir(run):
                os.remove(os.path.join(run, f))
            for n in names:
                shutil.copy(os.path.join(dirs["old"], n), run)
            p = subprocess.Popen([sparse_opt, new_model, "-o",
                                  os.path.join(run, "m.mlir")],
                                 preexec_fn=default_signals, **quiet)
            time.sleep(delay)
            if p.poll() is None:
                p.send_signal(sig)
            rc = p.wait()
            counts["interrupted" if rc < 0 else "completed"] += 1
            state = []
            for n in names:
                path = os.path.join(run, n)
                if not os.path.exists(path):
                    failures.append(f"{sig.name} after {delay:.3f}s: {n} "
                                    "is gone")
                    state.append("bad")
                elif filecmp.cmp(path, os.path.join(dirs["old"], n), False):
                    state.append("old")
                elif filecmp.cmp(path, os.path.join(dirs["ref"], n), False):
                    state.append("new")
                else:
                    failures.append(f"{sig.name} after {delay:.3f}s: {n} is "
                                    "neither the old nor the new file")
                    state.append("bad")
            if state == ["old", "old"]:
                counts["old"] += 1
            elif state == ["new", "new"]:
                counts["new"] += 1
            elif state == ["old", "new"]:
                counts["mixed"] += 1
            elif "bad" not in state:
                failures.append(f"{sig.name} after {delay:.3f}s: new module "
                                "with the old pack")
            extra = sorted(set(os.listdir(run)) - set(names))
            counts["leftovers"] += len(extra)
            if extra and sig != signal.SIGKILL:
                failures.append(f"{sig.name} after {delay:.3f}s left "
                                f"{', '.join(extra)}")
        if counts["interrupted"] == 0:
            failures.append(f"{sig.name}: no run was interrupted; the test "
                            "proves nothing")
        print(f"{sig.name}: {rounds} runs over {1.2 * full:.3f}s: "
              f"{counts['interrupted']} interrupted, {counts['completed']} "
              f"completed; outputs old {counts['old']}, new {counts['new']}, "
              f"old module with new pack {counts['mixed']}; temporary files "
              f"left {counts['leftovers']}")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
