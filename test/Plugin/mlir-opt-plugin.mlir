// Upstream mlir-opt (Debian's mlir-opt-22) with ActSparsePlugin.so: the
// dialect plugin parses and verifies actsparse IR, the pass plugin runs the
// graph passes and the lowering by name.
// An instrumented plugin cannot load into the uninstrumented mlir-opt.
// UNSUPPORTED: asan

// RUN: mlir-opt --load-dialect-plugin=%actsparse_plugin %s | FileCheck %s --check-prefix=PARSE
// RUN: mlir-opt --load-dialect-plugin=%actsparse_plugin --load-pass-plugin=%actsparse_plugin %s \
// RUN:   --pass-pipeline='builtin.module(actsparse-fuse-ffn,actsparse-relufy{mode=fatrelu threshold=0.25})' \
// RUN:   | FileCheck %s --check-prefix=PASSES
// RUN: mlir-opt --load-dialect-plugin=%actsparse_plugin --load-pass-plugin=%actsparse_plugin %s \
// RUN:   --pass-pipeline='builtin.module(actsparse-lower-to-linalg)' | FileCheck %s --check-prefix=LOWER
// Without the dialect plugin, mlir-opt does not know the ops.
// RUN: not mlir-opt --load-pass-plugin=%actsparse_plugin %s 2>&1 | FileCheck %s --check-prefix=NODIALECT

// PARSE: module attributes {actsparse.weight_pack = "block.pack"}
// PARSE: actsparse.weight "gate"
// PARSE: actsparse.matmul
// PARSE-NEXT: actsparse.silu
// PARSE-NEXT: actsparse.matmul
// PARSE-NEXT: actsparse.mul

// PASSES-LABEL: func.func @block
// PASSES: actsparse.ffn %arg0 up %{{.*}} gate %{{.*}} down %{{.*}} activation = relu threshold = 2.500000e-01 original = silu layer = 0
// PASSES-NOT: actsparse.silu
// PASSES-NOT: actsparse.matmul

// LOWER-LABEL: func.func @block
// LOWER-NOT: actsparse.matmul
// LOWER-NOT: actsparse.silu
// LOWER: linalg.

// NODIALECT: Dialect `actsparse' not found

module attributes {actsparse.weight_pack = "block.pack"} {
  func.func @block(%x: tensor<?x32xf32>) -> tensor<?x32xf32> {
    %wg = actsparse.weight "gate" : tensor<32x96xf32>
    %wu = actsparse.weight "up" : tensor<32x96xf32>
    %wd = actsparse.weight "down" : tensor<96x32xf32>
    %g = actsparse.matmul %x, %wg : (tensor<?x32xf32>, tensor<32x96xf32>) -> tensor<?x96xf32>
    %a = actsparse.silu %g : tensor<?x96xf32>
    %u = actsparse.matmul %x, %wu : (tensor<?x32xf32>, tensor<32x96xf32>) -> tensor<?x96xf32>
    %h = actsparse.mul %a, %u : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
    %y = actsparse.matmul %h, %wd : (tensor<?x96xf32>, tensor<96x32xf32>) -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}
