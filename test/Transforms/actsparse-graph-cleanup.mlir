// RUN: sparse-opt %s --actsparse-graph-cleanup | FileCheck %s
// The clean-up pipeline names activations and removes the duplicate
// sigmoid that CSE exposes (two exporter-emitted copies of the same SiLU).

// CHECK-LABEL: func.func @duplicate_silu
// CHECK: %[[S:.*]] = actsparse.silu %arg0
// CHECK-NOT: actsparse.silu
// CHECK: actsparse.add %[[S]], %[[S]]
func.func @duplicate_silu(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s0 = actsparse.sigmoid %x : tensor<8xf32>
  %y0 = actsparse.mul %x, %s0 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %s1 = actsparse.sigmoid %x : tensor<8xf32>
  %y1 = actsparse.mul %s1, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %r = actsparse.add %y0, %y1 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %r : tensor<8xf32>
}
