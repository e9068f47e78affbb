#!/usr/bin/env python3
"""Checks the dependency direction of the installed libraries.

Reads ActSparseTargets.cmake and fails if a library links what
docs/Rationale.md (Libraries) says it must not: only Execution, Calibration
and Text reach the runtime, nothing reaches the importer, and the runtime
libraries reach no compiler library.

    check-deps.py PREFIX/lib/cmake/ActSparse/ActSparseTargets.cmake
"""
import re, sys
text = open(sys.argv[1]).read()
deps = {}
for name, body in re.findall(
        r"set_target_properties\(ActSparse::(\w+) PROPERTIES(.*?)\n\)", text, re.S):
    links = re.search(r'INTERFACE_LINK_LIBRARIES "([^"]*)"', body)
    deps[name] = [d.split("::")[1] for d in (links.group(1) if links else "").split(";")
                  if d.startswith("ActSparse::")]
def closure(name, seen=None):
    seen = set() if seen is None else seen
    for d in deps[name]:
        if d not in seen:
            seen.add(d)
            closure(d, seen)
    return seen
expected = {"Dialect", "Transforms", "Conversion", "Import", "Execution",
            "Calibration", "Runtime", "WeightPack", "Text"}
bad = []
if set(deps) != expected:
    bad.append(f"exported targets {sorted(deps)}, expected {sorted(expected)}")
for name in deps:
    reach = closure(name)
    if "Runtime" in reach and name not in ("Execution", "Calibration", "Text"):
        bad.append(f"ActSparse::{name} links the runtime")
    if "Import" in reach:
        bad.append(f"ActSparse::{name} links the importer")
    if name in ("Runtime", "WeightPack", "Text") and deps[name] and \
            set(deps[name]) - {"Runtime", "WeightPack"}:
        bad.append(f"ActSparse::{name} links a compiler library")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
