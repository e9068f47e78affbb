// RUN: sparse-opt %s --split-input-file --actsparse-lower-to-linalg | FileCheck %s
// RUN: sparse-opt %s --split-input-file --actsparse-lower-to-linalg="panels=false" | FileCheck %s --check-prefix=OFF
// Weights that only feed the runtime's matmul kernel are laid out once, by
// the loader, as the GEMM's strips: [ceil(N/16), K, 16], read through
// W[n floordiv 16, k, n mod 16] by the kernel for prepacked weights.

// N = 20 takes two strips, the second holding columns 16-19 and zeros.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1, d2) -> (d2 floordiv 16, d1, d2 mod 16)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @projection
// CHECK-SAME: %[[W:[^:]*]]: tensor<2x4x16xf32> {actsparse.weight = "w", actsparse.weight_panels = 20 : i64}
// CHECK: linalg.generic {indexing_maps = [#[[A]], #[[S]], #[[C]]], iterator_types = ["parallel", "reduction", "parallel"], library_call = "actsparse_rt_matmul_panels_f32"} ins(%{{.*}}, %[[W]] : tensor<?x4xf32>, tensor<2x4x16xf32>)
// OFF-LABEL: func.func @projection
// OFF-SAME: tensor<4x20xf32> {actsparse.weight = "w"}
// OFF-NOT: weight_panels
// OFF: library_call = "actsparse_rt_matmul_f32"
func.func @projection(%x: tensor<?x4xf32>) -> tensor<?x20xf32> {
  %w = actsparse.weight "w" : tensor<4x20xf32>
  %0 = actsparse.matmul %x, %w : (tensor<?x4xf32>, tensor<4x20xf32>) -> tensor<?x20xf32>
  return %0 : tensor<?x20xf32>
}

// -----

// A weight used twice by projections is one argument, laid out once.
// CHECK-LABEL: func.func @shared
// CHECK-SAME: %[[W:[^:]*]]: tensor<1x4x16xf32> {actsparse.weight = "w", actsparse.weight_panels = 8 : i64}
// CHECK-COUNT-2: library_call = "actsparse_rt_matmul_panels_f32"} ins(%{{.*}}, %[[W]] :
func.func @shared(%x: tensor<?x4xf32>, %y: tensor<?x4xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %w = actsparse.weight "w" : tensor<4x8xf32>
  %w2 = actsparse.weight "w" : tensor<4x8xf32>
  %0 = actsparse.matmul %x, %w : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %1 = actsparse.matmul %y, %w2 : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// An FFN block's three projections: up and gate [8, 32], down [32, 8].
// CHECK-LABEL: func.func @ffn
// CHECK-SAME: tensor<2x8x16xf32> {actsparse.weight = "up", actsparse.weight_panels = 32 : i64}
// CHECK-SAME: tensor<2x8x16xf32> {actsparse.weight = "gate", actsparse.weight_panels = 32 : i64}
// CHECK-SAME: tensor<1x32x16xf32> {actsparse.weight = "down", actsparse.weight_panels = 8 : i64}
// CHECK-COUNT-3: library_call = "actsparse_rt_matmul_panels_f32"
// CHECK-NOT: library_call = "actsparse_rt_matmul_f32"
func.func @ffn(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %u = actsparse.weight "up" : tensor<8x32xf32>
  %g = actsparse.weight "gate" : tensor<8x32xf32>
  %d = actsparse.weight "down" : tensor<32x8xf32>
  %y = actsparse.ffn %x up %u gate %g down %d activation = silu layer = 0 : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// An embedding that is also the tied classifier (read transposed, and
// element by element by the Gather) becomes the strips of its transpose:
// the pack's [512, 64] as [32, 64, 16], tagged transposed. The projection
// reads the strips as any other; the Gather reads E[i, j] at strip i / 16,
// row j, column i mod 16.
// CHECK-LABEL: func.func @tied
// CHECK-SAME: %[[E:[^:]*]]: tensor<32x64x16xf32> {actsparse.weight = "emb", actsparse.weight_panels = 512 : i64, actsparse.weight_panels_transposed}
// CHECK: %[[J:.*]] = linalg.index 2 : index
// CHECK: %[[S:.*]] = arith.divui %[[I:.*]], %[[W:.*]] : index
// CHECK: %[[R:.*]] = arith.remui %[[I]], %[[W]] : index
// CHECK: tensor.extract %[[E]][%[[S]], %[[J]], %[[R]]] : tensor<32x64x16xf32>
// CHECK: library_call = "actsparse_rt_matmul_panels_f32"} ins(%{{.*}}, %[[E]] :
// CHECK-NOT: linalg.transpose
// OFF-LABEL: func.func @tied
// OFF-SAME: tensor<512x64xf32> {actsparse.weight = "emb"}
// OFF: library_call = "actsparse_rt_matmul_nt_f32"
func.func @tied(%ids: tensor<1x?xi64>, %x: tensor<?x64xf32>) -> (tensor<1x?x64xf32>, tensor<?x512xf32>) {
  %e = actsparse.weight "emb" : tensor<512x64xf32>
  %0 = actsparse.gather %e, %ids, axis = 0 : (tensor<512x64xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32>
  %t = actsparse.transpose %e, perm = [1, 0] : tensor<512x64xf32> -> tensor<64x512xf32>
  %1 = actsparse.matmul %x, %t : (tensor<?x64xf32>, tensor<64x512xf32>) -> tensor<?x512xf32>
  return %0, %1 : tensor<1x?x64xf32>, tensor<?x512xf32>
}

// -----

// A weight also added elementwise keeps its layout.
// CHECK-LABEL: func.func @mixed
// CHECK-SAME: tensor<4x4xf32> {actsparse.weight = "w"}
// CHECK-NOT: weight_panels
// CHECK: library_call = "actsparse_rt_matmul_f32"
func.func @mixed(%x: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<4x4xf32>) {
  %w = actsparse.weight "w" : tensor<4x4xf32>
  %0 = actsparse.matmul %x, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %1 = actsparse.add %w, %w : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  return %0, %1 : tensor<?x4xf32>, tensor<4x4xf32>
}
