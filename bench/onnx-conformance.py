#!/usr/bin/env python3
"""Runs ONNX's backend node tests through sparse-opt and sparse-run.

Every test directory holds model.onnx and test_data_set_*/{input,output}_N.pb.
Each test is imported, JIT-compiled and run on every data set by one
`sparse-run model.onnx --check-onnx` (sparse-opt imports the models that
does not, binding configuration inputs), and lands in one category:

  pass              every output matches (numpy allclose, rtol 1e-3, atol 1e-7;
                    integers and booleans exactly)
  unsupported-op    the graph uses an op type ActSparse does not import
  unsupported       an op ActSparse imports, with an attribute, input or
                    element type it does not (the importer says "not
                    supported" / "unsupported")
  import-error      sparse-opt refused the model for another reason
  run-error         the compiled model failed or refused its inputs
  reference-issue   a wrong value or run error on a test whose data are known
                    to be wrong (REFERENCE_ISSUES below says why)
  wrong-value       it ran and some output differs: a bug, always
  crash             a tool died from a signal: a bug, always
  timeout           a tool took longer than --timeout seconds

Standard library only (no onnx module): the op types of a test come from
`sparse-opt --list-onnx-ops`. Usage: see --help, or bench/onnx-conformance.sh.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

CATEGORIES = ["pass", "unsupported-op", "unsupported", "import-error",
              "run-error", "reference-issue", "wrong-value", "crash",
              "timeout"]

# Tests whose data disagree with the ONNX specification or with their own
# model, checked by hand. A failure of one of these lands in
# "reference-issue" with the reason, not in "wrong-value" or "run-error";
# if one passes, it passes.
REFERENCE_ISSUES = {
    "test_cast_FLOAT_to_BFLOAT16":
        "ONNX 1.12 computed the expected bfloat16 values by truncating the "
        "f32 bits; ActSparse rounds to nearest even (as arith.truncf, "
        "PyTorch and later ONNX test data do)",
    "test_castlike_FLOAT_to_BFLOAT16":
        "the data set's 'like' input has shape [1], the model declares 3x4",
    "test_castlike_FLOAT_to_BFLOAT16_expanded":
        "the data set's 'like' input has shape [1], the model declares 3x4",
    "test_castlike_BFLOAT16_to_FLOAT":
        "the data set's 'like' input has shape [1], the model declares 3x4",
    "test_castlike_BFLOAT16_to_FLOAT_expanded":
        "the data set's 'like' input has shape [1], the model declares 3x4",
}
BUGS = ("wrong-value", "crash")


def run(cmd, timeout):
    """(returncode or 'timeout', combined output)"""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, text=True, errors="replace")
        return p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        return "timeout", out


def first_error(text):
    for line in text.splitlines():
        if "error" in line or line.startswith("mismatch:"):
            return line.strip()
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def classify_tool_failure(rc, out):
    if rc == "timeout":
        return "timeout"
    if rc < 0 or rc >= 128:  # signal (subprocess: negative; shell: 128+N)
        return "crash"
    return None


def tensor_name(path):
    """The name (field 8) of a serialized onnx.TensorProto, read from the
    protobuf wire format directly (no onnx module needed)."""
    data = open(path, "rb").read()
    pos = 0

    def varint():
        nonlocal pos
        shift = value = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length = varint()
            if field == 8:
                return data[pos:pos + length].decode()
            pos += length
        else:
            return ""
    return ""


NEEDS_CONSTANT = re.compile(r"needs (a )?constant|computed at run time")


def bind_configuration_inputs(data_set, out_dir):
    """For a test whose op takes its configuration (axes, repeats, split
    sizes, ...) as graph inputs: sparse-opt flags binding every input but
    the first to the data set's values, and a copy of the data set without
    them (inputs then match by position again). None if not possible."""
    inputs = sorted((f for f in os.listdir(data_set)
                     if re.fullmatch(r"input_\d+\.pb", f)),
                    key=lambda f: int(f[6:-3]))
    if len(inputs) < 2:
        return None
    flags = []
    for f in inputs[1:]:
        name = tensor_name(os.path.join(data_set, f))
        if not name:
            return None
        flags.append(f"--bind-input={name}={os.path.join(data_set, f)}")
    os.makedirs(out_dir)
    shutil.copy(os.path.join(data_set, inputs[0]),
                os.path.join(out_dir, "input_0.pb"))
    for f in os.listdir(data_set):
        if f.startswith("output_"):
            shutil.copy(os.path.join(data_set, f), out_dir)
    return flags


def run_test(test_dir, tools, work, timeout, opt_level, known_ops=None):
    """Returns (ops, category, message). With known_ops (the test's op
    types, from the expected list), the op listing is skipped unless the
    test fails: a test expected to pass needs only the import and the run."""
    if known_ops is not None:
        ops, cat, msg = import_and_check(test_dir, tools, work, timeout,
                                         opt_level, known_ops)
        if cat == "pass":
            return ops, cat, msg
    name = os.path.basename(test_dir)
    model = os.path.join(test_dir, "model.onnx")
    rc, out = run([tools["sparse-opt"], "--list-onnx-ops", model], timeout)
    ops = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in ("supported", "unsupported"):
            ops.append((parts[0], parts[2] == "supported"))
    bad = classify_tool_failure(rc, out)
    if bad:
        return ops, bad, "sparse-opt --list-onnx-ops: " + first_error(out)
    unsupported = [op for op, ok in ops if not ok]
    if unsupported:
        return ops, "unsupported-op", "unsupported: " + ", ".join(unsupported)
    if rc != 0:
        return ops, "import-error", first_error(out)
    return import_and_check(test_dir, tools, work, timeout, opt_level, ops)


# What sparse-run prints when it cannot import an ONNX model.
IMPORT_FAILED = "sparse-run: cannot import"


def import_and_check(test_dir, tools, work, timeout, opt_level, ops):
    """Imports the test's model and checks it on its data sets:
    (ops, category, message). sparse-run imports the model itself, one
    process per test; a model it cannot import goes through sparse-opt,
    which can also bind configuration inputs per data set."""
    model = os.path.join(test_dir, "model.onnx")
    rc, out = run(check_command(tools, model, test_dir, opt_level), timeout)
    bad = classify_tool_failure(rc, out)
    if bad:
        return ops, bad, "sparse-run: " + first_error(out)
    if IMPORT_FAILED not in out:
        return (ops,) + classify_check(rc, out)
    return import_with_sparse_opt(test_dir, tools, work, timeout, opt_level,
                                  ops)


def import_with_sparse_opt(test_dir, tools, work, timeout, opt_level, ops):
    """import_and_check through sparse-opt and the IR it writes."""
    name = os.path.basename(test_dir)
    model = os.path.join(test_dir, "model.onnx")
    tmp = tempfile.mkdtemp(prefix=name + ".", dir=work)
    try:
        mlir = os.path.join(tmp, "model.mlir")
        rc, out = run([tools["sparse-opt"], "--quiet", model, "-o", mlir],
                      timeout)
        bad = classify_tool_failure(rc, out)
        if bad:
            return ops, bad, "sparse-opt: " + first_error(out)
        if rc != 0 and NEEDS_CONSTANT.search(out) and any(
                d.startswith("test_data_set_") for d in os.listdir(test_dir)):
            # The op's configuration is a graph input: bind it per data set
            # (as ONNX-MLIR's backend tests do), one compilation each.
            sets = sorted(d for d in os.listdir(test_dir)
                          if d.startswith("test_data_set_"))
            for k, ds in enumerate(sets):
                flags = bind_configuration_inputs(
                    os.path.join(test_dir, ds), os.path.join(tmp, f"set{k}",
                                                             ds))
                if flags is None:
                    break
                mlir = os.path.join(tmp, f"set{k}", "model.mlir")
                rc, out = run([tools["sparse-opt"], "--quiet", model, "-o",
                               mlir] + flags, timeout)
                bad = classify_tool_failure(rc, out)
                if bad:
                    return ops, bad, "sparse-opt: " + first_error(out)
                if rc != 0:
                    break
                cat, msg = check(tools, mlir, os.path.join(tmp, f"set{k}"),
                                 timeout, opt_level)
                if cat != "pass":
                    return ops, cat, msg
            else:
                return ops, "pass", "configuration inputs bound"
        if rc != 0:
            msg = first_error(out)
            kind = ("unsupported" if re.search(r"not supported|unsupported",
                                               msg) else "import-error")
            return ops, kind, msg
        cat, msg = check(tools, mlir, test_dir, timeout, opt_level)
        return ops, cat, msg
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_command(tools, model, test_dir, opt_level):
    return [tools["sparse-run"], model, "--check-onnx", test_dir,
            "--no-stats", "--no-cache", "--threads", "1",
            "--opt-level", str(opt_level)]


def check(tools, mlir, test_dir, timeout, opt_level):
    """Runs the compiled model on the data sets of test_dir."""
    rc, out = run(check_command(tools, mlir, test_dir, opt_level), timeout)
    bad = classify_tool_failure(rc, out)
    if bad:
        return bad, "sparse-run: " + first_error(out)
    return classify_check(rc, out)


def classify_check(rc, out):
    """(category, message) of a sparse-run --check-onnx that did not crash."""
    if rc == 0:
        return "pass", ""
    if "mismatch:" in out:
        return "wrong-value", first_error(out)
    msg = first_error(out)
    return ("unsupported" if "not supported" in msg else "run-error"), msg


def op_of(test, ops_by_test):
    """The op a test is about: its graph's single op type; an _expanded test
    is about the op of its unexpanded twin (ONNX expands a function-defined
    op into the ops of its body)."""
    ops = ops_by_test.get(test, [])
    if test.endswith("_expanded"):
        twin = ops_by_test.get(test[: -len("_expanded")])
        if twin and len(twin) == 1:
            return twin[0][0]
    if len(ops) == 1:
        return ops[0][0]
    return "+".join(sorted({op for op, _ in ops})) or "(none)"


def sample(tests, known_ops, n):
    """Every nth test of each op's tests in name order, from the first.
    An _expanded test exercises the ops of its op's function body, so
    those tests form a group of their own."""
    groups = {}
    for t in sorted(tests):
        key = (known_ops[t][0][0], t.endswith("_expanded"))
        groups.setdefault(key, []).append(t)
    return [t for group in groups.values() for t in group[::n]]


BEGIN = "<!-- bench/onnx-conformance.sh writes from here -->"
END = "<!-- to here -->"


def write_doc(path, results, ops_by_test, data_dir, elapsed):
    """Writes the summary and per-op table between the BEGIN and END marks
    of `path` (the text around them is kept), or a new file."""
    per_op = {}
    for test, (cat, _msg) in results.items():
        op = op_of(test, ops_by_test)
        row = per_op.setdefault(op, {c: 0 for c in CATEGORIES})
        row[cat] += 1
    totals = {c: sum(1 for v in results.values() if v[0] == c)
              for c in CATEGORIES}
    bound = sum(1 for c, m in results.values()
                if c == "pass" and m == "configuration inputs bound")
    lines = [BEGIN, "",
             f"{len(results)} tests of {data_dir} ({elapsed:.0f} s on "
             f"{os.cpu_count()} cores; {bound} of the passes with their "
             "configuration inputs bound):", "",
             "| " + " | ".join(CATEGORIES) + " |",
             "|" + "---:|" * len(CATEGORIES),
             "| " + " | ".join(str(totals[c]) for c in CATEGORIES) + " |", "",
             "| op | tests | " + " | ".join(CATEGORIES) + " |",
             "|---|---:|" + "---:|" * len(CATEGORIES)]
    unsupported_only = []
    for op in sorted(per_op):
        row = per_op[op]
        n = sum(row.values())
        if row["unsupported-op"] == n:
            unsupported_only.append(f"{op} ({n})")
            continue
        lines.append(f"| {op} | {n} | " +
                     " | ".join(str(row[c] or "") for c in CATEGORIES) + " |")
    lines += ["", "Op types with only `unsupported-op` tests (tests): " +
              ", ".join(unsupported_only) + ".", "", END]
    block = "\n".join(lines)
    text = open(path).read() if os.path.exists(path) else ""
    if BEGIN in text and END in text:
        text = (text[:text.index(BEGIN)] + block +
                text[text.index(END) + len(END):])
    else:
        text = "# ONNX conformance\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tools", default=os.path.join(root, "build", "bin"),
                    help="directory of sparse-opt and sparse-run "
                    "(default: build/bin)")
    ap.add_argument("--data", default="/usr/share/libonnx-testdata/data/node",
                    help="directory of test_* node tests")
    ap.add_argument("--filter", default="", help="regex on test names")
    ap.add_argument("--expect", metavar="FILE",
                    help="run only the tests listed in FILE (one per line, # "
                    "comments) and fail unless every one passes")
    ap.add_argument("--sample", type=int, default=1, metavar="N",
                    help="with --expect: of each op's listed tests (its "
                    "_expanded tests apart), the 1st, (N+1)th, (2N+1)th, ... "
                    "in name order, so that every op still runs (default 1: "
                    "all)")
    ap.add_argument("--write-expected", metavar="FILE",
                    help="write the names of the passing tests to FILE")
    ap.add_argument("--results", metavar="FILE",
                    help="write test, op, category, message as TSV")
    ap.add_argument("--doc", metavar="FILE",
                    help="write the summary and per-op table (Markdown)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=120,
                    help="seconds per tool invocation (default 120)")
    ap.add_argument("--opt-level", type=int, default=0,
                    help="sparse-run --opt-level (default 0: these graphs "
                    "are tiny, compile time dominates)")
    ap.add_argument("--work", help="scratch directory (default: a temporary one)")
    args = ap.parse_args()

    tools = {t: os.path.join(args.tools, t)
             for t in ("sparse-opt", "sparse-run")}
    for t, p in tools.items():
        if not os.access(p, os.X_OK):
            sys.exit(f"onnx-conformance: {p} not found; build first "
                     "(bash scripts/build.sh)")
    if not os.path.isdir(args.data):
        sys.exit(f"onnx-conformance: {args.data} not found; apt-get install "
                 "libonnx-testdata")
    tests = sorted(d for d in os.listdir(args.data)
                   if d.startswith("test_") and
                   os.path.isfile(os.path.join(args.data, d, "model.onnx")))
    known_ops = {}
    if args.expect:
        with open(args.expect) as f:
            for line in f:
                test, _, comment = line.partition("#")
                if test.strip():
                    known_ops[test.strip()] = [(comment.strip() or "(none)",
                                                True)]
        wanted = list(known_ops)
        missing = [w for w in wanted if w not in tests]
        if missing:
            sys.exit("onnx-conformance: expected tests not in the data: " +
                     ", ".join(missing))
        tests = wanted
    if args.filter:
        tests = [t for t in tests if re.search(args.filter, t)]
    if args.sample > 1:
        if not args.expect:
            sys.exit("onnx-conformance: --sample needs --expect (the op of "
                     "each test comes from the list)")
        tests = sample(tests, known_ops, args.sample)

    work = args.work or tempfile.mkdtemp(prefix="onnx-conformance.")
    os.makedirs(work, exist_ok=True)
    start = time.time()
    results, ops_by_test = {}, {}
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = {pool.submit(run_test, os.path.join(args.data, t), tools,
                               work, args.timeout, args.opt_level,
                               known_ops.get(t)): t
                   for t in tests}
        for k, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            t = futures[fut]
            ops, cat, msg = fut.result()
            if cat in ("wrong-value", "run-error") and t in REFERENCE_ISSUES:
                cat, msg = "reference-issue", (REFERENCE_ISSUES[t] + " (" +
                                               msg + ")")
            results[t], ops_by_test[t] = (cat, msg), ops
            if cat in BUGS or (args.expect and cat != "pass"):
                print(f"{cat}: {t}: {msg}", flush=True)
            if k % 100 == 0:
                print(f"onnx-conformance: {k}/{len(tests)} tests, "
                      f"{time.time() - start:.0f} s", file=sys.stderr,
                      flush=True)
    elapsed = time.time() - start
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)

    counts = {c: sum(1 for v in results.values() if v[0] == c)
              for c in CATEGORIES}
    print(f"{len(results)} tests in {elapsed:.0f} s: " +
          ", ".join(f"{counts[c]} {c}" for c in CATEGORIES))
    if args.results:
        with open(args.results, "w") as f:
            for t in sorted(results):
                cat, msg = results[t]
                f.write(f"{t}\t{op_of(t, ops_by_test)}\t{cat}\t{msg}\n")
    if args.write_expected:
        with open(args.write_expected, "w") as f:
            f.write("# ONNX backend node tests that pass, each with the op "
                    "it is about\n# (written by bench/onnx-conformance.sh "
                    "--write-expected; CI runs a\n# sample of every op's, "
                    "bench/onnx-conformance.sh --expect all).\n")
            for t in sorted(results):
                if results[t][0] == "pass":
                    f.write(f"{t}  # {op_of(t, ops_by_test)}\n")
    if args.doc:
        write_doc(args.doc, results, ops_by_test, args.data, elapsed)
    if args.expect:
        failed = [t for t, (c, _) in results.items() if c != "pass"]
        if failed:
            print(f"onnx-conformance: {len(failed)} expected passes failed: " +
                  ", ".join(sorted(failed)))
            return 1
    return 1 if counts["wrong-value"] or counts["crash"] else 0


if __name__ == "__main__":
    sys.exit(main())
