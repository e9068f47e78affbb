// RUN: sparse-opt %s --split-input-file | FileCheck %s
// RUN: sparse-opt %s --split-input-file | sparse-opt --split-input-file | FileCheck %s
// Round trip of every op's custom assembly format.

// CHECK-LABEL: func.func @values
func.func @values() -> (tensor<f32>, tensor<64x172xf32>) {
  // CHECK: actsparse.constant dense<5.000000e-01> : tensor<f32>
  %c = actsparse.constant dense<0.5> : tensor<f32>
  // CHECK: actsparse.weight "layers.0.w1" : tensor<64x172xf32>
  %w = actsparse.weight "layers.0.w1" : tensor<64x172xf32>
  return %c, %w : tensor<f32>, tensor<64x172xf32>
}

// -----

// CHECK-LABEL: func.func @binary
func.func @binary(%a: tensor<?x64xf32>, %b: tensor<64xf32>, %i: tensor<2xi64>) {
  // CHECK: actsparse.add %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %0 = actsparse.add %a, %b : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // CHECK: actsparse.sub
  %1 = actsparse.sub %b, %a : (tensor<64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  // CHECK: actsparse.mul
  %2 = actsparse.mul %a, %a : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  // CHECK: actsparse.div
  %3 = actsparse.div %a, %b : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // CHECK: actsparse.pow
  %4 = actsparse.pow %a, %b : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // Integer arithmetic appears in exported shape computations.
  // CHECK: actsparse.mul %{{.*}} : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  %5 = actsparse.mul %i, %i : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  return
}

// -----

// CHECK-LABEL: func.func @unary
func.func @unary(%x: tensor<?x?x64xf32>) {
  // CHECK: actsparse.neg %{{.*}} : tensor<?x?x64xf32>
  %0 = actsparse.neg %x : tensor<?x?x64xf32>
  // CHECK: actsparse.sqrt
  %1 = actsparse.sqrt %x : tensor<?x?x64xf32>
  // CHECK: actsparse.reciprocal
  %2 = actsparse.reciprocal %x : tensor<?x?x64xf32>
  // CHECK: actsparse.exp
  %3 = actsparse.exp %x : tensor<?x?x64xf32>
  // CHECK: actsparse.tanh
  %4 = actsparse.tanh %x : tensor<?x?x64xf32>
  // CHECK: actsparse.erf
  %5 = actsparse.erf %x : tensor<?x?x64xf32>
  // CHECK: actsparse.sigmoid
  %6 = actsparse.sigmoid %x : tensor<?x?x64xf32>
  return
}

// -----

// CHECK-LABEL: func.func @activations
func.func @activations(%x: tensor<?x172xf32>) {
  // CHECK: actsparse.relu %{{.*}} : tensor<?x172xf32>
  %0 = actsparse.relu %x : tensor<?x172xf32>
  // CHECK: actsparse.silu %{{.*}} : tensor<?x172xf32>
  %1 = actsparse.silu %x : tensor<?x172xf32>
  // CHECK: actsparse.gelu %{{.*}} : tensor<?x172xf32>
  %2 = actsparse.gelu %x : tensor<?x172xf32>
  // CHECK: actsparse.gelu %{{.*}} tanh : tensor<?x172xf32>
  %3 = actsparse.gelu %x tanh : tensor<?x172xf32>
  // CHECK: actsparse.thresholded_relu %{{.*}}, alpha = 2.500000e-01 : tensor<?x172xf32>
  %4 = actsparse.thresholded_relu %x, alpha = 0.25 : tensor<?x172xf32>
  return
}

// -----

// CHECK-LABEL: func.func @matmul
func.func @matmul(%x: tensor<?x?x64xf32>, %w: tensor<64x172xf32>, %v: tensor<64xf32>,
                  %q: tensor<1x8x?x16xf32>, %k: tensor<1x8x16x?xf32>) {
  // CHECK: actsparse.matmul %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
  %0 = actsparse.matmul %x, %w : (tensor<?x?x64xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
  // A rank-1 operand loses its promoted dimension.
  // CHECK: actsparse.matmul %{{.*}} : (tensor<64xf32>, tensor<64x172xf32>) -> tensor<172xf32>
  %1 = actsparse.matmul %v, %w : (tensor<64xf32>, tensor<64x172xf32>) -> tensor<172xf32>
  // Attention scores: batched with dynamic sequence dimensions.
  // CHECK: actsparse.matmul %{{.*}} -> tensor<1x8x?x?xf32>
  %2 = actsparse.matmul %q, %k : (tensor<1x8x?x16xf32>, tensor<1x8x16x?xf32>) -> tensor<1x8x?x?xf32>
  return
}
