// RUN: rm -f %t.pack
// RUN: sparse-opt %s --actsparse-bundle-ffn="output-pack=%t.pack" --verify-diagnostics | FileCheck %s
// RUN: test ! -e %t.pack
// Blocks --actsparse-bundle-ffn must leave alone: a weight that is a
// function argument (nothing to read from a pack), a dynamic feature size.
// With nothing to bundle, no pack is written.

// CHECK-LABEL: func.func @argument_weight
// CHECK-NOT: actsparse.sparse_ffn
// CHECK: actsparse.ffn
func.func @argument_weight(%x: tensor<?x8xf32>, %u: tensor<8x32xf32>, %d: tensor<32x8xf32>) -> tensor<?x8xf32> {
  // expected-remark @below {{not bundled: a parameter is neither a weight nor a constant}}
  %0 = actsparse.ffn %x up %u down %d activation = relu layer = 0 : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @dynamic_features
// CHECK-NOT: actsparse.sparse_ffn
// CHECK: actsparse.ffn
func.func @dynamic_features(%x: tensor<?x?xf32>) -> tensor<?x8xf32> {
  %u = actsparse.weight "up" : tensor<8x32xf32>
  %d = actsparse.weight "down" : tensor<32x8xf32>
  // expected-remark @below {{not bundled: dynamic feature size}}
  %0 = actsparse.ffn %x up %u down %d activation = relu layer = 1 : (tensor<?x?xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
