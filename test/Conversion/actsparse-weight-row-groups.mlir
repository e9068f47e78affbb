// RUN: sparse-opt %s --split-input-file --actsparse-lower-to-linalg | FileCheck %s
// RUN: sparse-opt %s --split-input-file --actsparse-lower-to-linalg="row-groups=false" | FileCheck %s --check-prefix=OFF
// Quantized rows that only feed the runtime's quantized kernel are laid out
// once, by the loader, in groups of eight rows: [N, B] becomes
// [ceil(N/8), 8 B], and the kernel for groups is called.

// 20 q4_0 rows of 64 weights (2 blocks of 18 bytes, 36 bytes a row) take
// three groups of 8 x 36 = 288 bytes, the last holding rows 16-19 and
// zeros. The generic that dequantized the rows for the projection is gone.
// CHECK: func.func private @actsparse_rt_matmul_q_groups_f32(i64, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xi8> {bufferization.access = "read"}, memref<?x?xf32>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @projection
// CHECK-SAME: %[[Q:[^:]*]]: tensor<3x288xi8> {actsparse.weight = "w.q4_0", actsparse.weight_row_groups = {kind = "q4_0", rows = 20 : i64}}
// CHECK-NOT: linalg.generic
// CHECK: %[[KIND:.*]] = arith.constant 1 : i64
// CHECK: %[[QC:.*]] = tensor.cast %[[Q]] : tensor<3x288xi8> to tensor<?x?xi8>
// CHECK: call @actsparse_rt_matmul_q_groups_f32(%[[KIND]], %{{.*}}, %[[QC]], %{{.*}})
// CHECK-NOT: call @actsparse_rt_matmul_q_f32(
// OFF-LABEL: func.func @projection
// OFF-SAME: tensor<20x36xi8> {actsparse.weight = "w.q4_0"}
// OFF-NOT: weight_row_groups
// OFF: call @actsparse_rt_matmul_q_f32(
func.func @projection(%x: tensor<?x64xf32>) -> tensor<?x20xf32> {
  %q = actsparse.weight "w.q4_0" : tensor<20x36xi8>
  %w = actsparse.dequantize q4_0 %q : tensor<20x36xi8> -> tensor<20x64xf32>
  %t = actsparse.transpose %w, perm = [1, 0] : tensor<20x64xf32> -> tensor<64x20xf32>
  %y = actsparse.matmul %x, %t : (tensor<?x64xf32>, tensor<64x20xf32>) -> tensor<?x20xf32>
  return %y : tensor<?x20xf32>
}

// -----

// Two projections by one q8_0 weight: one argument, laid out once.
// CHECK-LABEL: func.func @shared
// CHECK-SAME: tensor<1x544xi8> {actsparse.weight = "w.q8_0", actsparse.weight_row_groups = {kind = "q8_0", rows = 8 : i64}}
// CHECK-COUNT-2: call @actsparse_rt_matmul_q_groups_f32(
func.func @shared(%x: tensor<?x64xf32>, %z: tensor<?x64xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %q = actsparse.weight "w.q8_0" : tensor<8x68xi8>
  %w = actsparse.dequantize q8_0 %q : tensor<8x68xi8> -> tensor<8x64xf32>
  %t = actsparse.transpose %w, perm = [1, 0] : tensor<8x64xf32> -> tensor<64x8xf32>
  %y = actsparse.matmul %x, %t : (tensor<?x64xf32>, tensor<64x8xf32>) -> tensor<?x8xf32>
  %q2 = actsparse.weight "w.q8_0" : tensor<8x68xi8>
  %w2 = actsparse.dequantize q8_0 %q2 : tensor<8x68xi8> -> tensor<8x64xf32>
  %t2 = actsparse.transpose %w2, perm = [1, 0] : tensor<8x64xf32> -> tensor<64x8xf32>
  %y2 = actsparse.matmul %z, %t2 : (tensor<?x64xf32>, tensor<64x8xf32>) -> tensor<?x8xf32>
  return %y, %y2 : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Rows that generated code also reads (here the dequantized matrix is a
// result) keep the pack's layout, and the plain kernel reads them.
// CHECK-LABEL: func.func @also_read
// CHECK-SAME: tensor<3x40xi8> {actsparse.weight = "w.q4_1"}
// CHECK-NOT: weight_row_groups
// CHECK: call @actsparse_rt_matmul_q_f32(
func.func @also_read(%x: tensor<?x64xf32>) -> (tensor<?x3xf32>, tensor<3x64xf32>) {
  %q = actsparse.weight "w.q4_1" : tensor<3x40xi8>
  %w = actsparse.dequantize q4_1 %q : tensor<3x40xi8> -> tensor<3x64xf32>
  %t = actsparse.transpose %w, perm = [1, 0] : tensor<3x64xf32> -> tensor<64x3xf32>
  %y = actsparse.matmul %x, %t : (tensor<?x64xf32>, tensor<64x3xf32>) -> tensor<?x3xf32>
  return %y, %w : tensor<?x3xf32>, tensor<3x64xf32>
}
