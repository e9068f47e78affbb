// RUN: sparse-opt %s --split-input-file --actsparse-lower-to-linalg | FileCheck %s
// RUN: sparse-opt %s --split-input-file --actsparse-lower-to-linalg="panels=false" | FileCheck %s --check-prefix=NT
// One case per lowering pattern: what each actsparse op becomes.

// Weights become tagged trailing arguments (one per name); functions get the
// C interface the runtime calls.
// CHECK-LABEL: func.func @weights
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>, %[[W:.*]]: tensor<4xf32> {actsparse.weight = "w"})
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-NOT: actsparse.weight "w"
// CHECK: linalg.generic {{.*}} ins(%[[X]], %[[W]] : tensor<4xf32>, tensor<4xf32>)
func.func @weights(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = actsparse.weight "w" : tensor<4xf32>
  %w2 = actsparse.weight "w" : tensor<4xf32>
  %0 = actsparse.add %x, %w : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = actsparse.mul %0, %w2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// Broadcasting: a static 1 is read at index 0, missing leading dims dropped.
// CHECK-DAG: #[[BCAST:.*]] = affine_map<(d0, d1, d2) -> (0, d2)>
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @broadcast_add
// CHECK: %[[D0:.*]] = tensor.dim %arg0, %c0
// CHECK: %[[D1:.*]] = tensor.dim %arg0, %c1
// CHECK: tensor.empty(%[[D0]], %[[D1]]) : tensor<?x?x4xf32>
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[BCAST]], #[[ID]]]
// CHECK: arith.addf
func.func @broadcast_add(%a: tensor<?x?x4xf32>, %b: tensor<1x4xf32>) -> tensor<?x?x4xf32> {
  %0 = actsparse.add %a, %b : (tensor<?x?x4xf32>, tensor<1x4xf32>) -> tensor<?x?x4xf32>
  return %0 : tensor<?x?x4xf32>
}

// -----

// Integer division and comparisons use the signed integer ops.
// CHECK-LABEL: func.func @integer_ops
// CHECK: arith.divsi
// CHECK: arith.cmpi sle
func.func @integer_ops(%a: tensor<3xi64>, %b: tensor<3xi64>) -> (tensor<3xi64>, tensor<3xi1>) {
  %0 = actsparse.div %a, %b : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>
  %1 = actsparse.less_or_equal %a, %b : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi1>
  return %0, %1 : tensor<3xi64>, tensor<3xi1>
}

// -----

// Activations are scalar bodies: ReLU a compare-select, SiLU x * sigmoid(x),
// exact GELU through erf, ThresholdedRelu a compare against alpha.
// CHECK-LABEL: func.func @activations
// CHECK: arith.cmpf ogt
// CHECK: arith.select
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK: math.erf
// CHECK: arith.constant 2.500000e-01 : f32
// CHECK: arith.cmpf ogt
func.func @activations(%x: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %0 = actsparse.relu %x : tensor<8xf32>
  %1 = actsparse.silu %x : tensor<8xf32>
  %2 = actsparse.gelu %x : tensor<8xf32>
  %3 = actsparse.thresholded_relu %x, alpha = 0.25 : tensor<8xf32>
  return %0, %1, %2, %3 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}

// -----

// Pow by a constant 2 (RMSNorm's square) is one multiply; any other
// exponent calls powf.
// CHECK-LABEL: func.func @pow
// CHECK: linalg.generic
// CHECK: ^bb0(%[[X:.*]]: f32, %{{.*}}: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[SQ:.*]] = arith.mulf %[[X]], %[[X]] : f32
// CHECK-NEXT: linalg.yield %[[SQ]]
// CHECK: linalg.generic
// CHECK: math.powf
// CHECK-NOT: math.powf
func.func @pow(%x: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %two = actsparse.constant dense<2.0> : tensor<f32>
  %three = actsparse.constant dense<3.0> : tensor<f32>
  %0 = actsparse.pow %x, %two : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %1 = actsparse.pow %x, %three : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  return %0, %1 : tensor<8xf32>, tensor<8xf32>
}

// -----

// MatMul by a static f32 weight: rows flattened to [M, K], a 2-D generic
// tagged for the runtime kernel, then reshaped back.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @matmul_weight
// CHECK: %[[A2:.*]] = tensor.reshape %arg0(%{{.*}}) : (tensor<?x?x64xf32>, tensor<2xi64>) -> tensor<?x64xf32>
// CHECK: linalg.fill
// CHECK: %[[R:.*]] = linalg.generic {indexing_maps = [#[[A]], #[[W]], #[[C]]], iterator_types = ["parallel", "reduction", "parallel"], library_call = "actsparse_rt_matmul_f32"} ins(%[[A2]], %arg1 : tensor<?x64xf32>, tensor<64x172xf32>)
// CHECK: tensor.reshape %[[R]](%{{.*}}) : (tensor<?x172xf32>, tensor<3xi64>) -> tensor<?x?x172xf32>
func.func @matmul_weight(%x: tensor<?x?x64xf32>, %w: tensor<64x172xf32>) -> tensor<?x?x172xf32> {
  %0 = actsparse.matmul %x, %w : (tensor<?x?x64xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
  return %0 : tensor<?x?x172xf32>
}

// -----

// Rows whose length is only known at run time (attention's output
// projection reads a reshape by a computed shape) are checked against the
// weight's 64 first, then take the same kernel.
// CHECK: func.func private @actsparse_rt_shape_mismatch(i64, i64)
// CHECK-LABEL: func.func @matmul_weight_dynamic_rows
// CHECK: %[[K:.*]] = tensor.dim %arg0, %c2
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[K]], %c64
// CHECK: %[[G:.*]] = scf.if %[[OK]]
// CHECK: call @actsparse_rt_shape_mismatch
// CHECK: %[[S:.*]] = tensor.cast %[[G]] : tensor<?x?x?xf32> to tensor<?x?x64xf32>
// CHECK: tensor.reshape %[[S]]
// CHECK: library_call = "actsparse_rt_matmul_f32"
func.func @matmul_weight_dynamic_rows(%x: tensor<?x?x?xf32>, %w: tensor<64x172xf32>) -> tensor<?x?x172xf32> {
  %0 = actsparse.matmul %x, %w : (tensor<?x?x?xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
  return %0 : tensor<?x?x172xf32>
}

// -----

// A classifier tied to the embedding, MatMul(x, Transpose(E)): the runtime's
// transposed-weight kernel reads E [N, K] in place (the transpose is left
// without users). With panels (the default) E then becomes the strips of
// its transpose, laid out by the loader (actsparse-weight-panels.mlir).
// NT-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// NT-DAG: #[[E:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// NT-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// NT-LABEL: func.func @matmul_tied_classifier
// NT-SAME: %[[EMB:arg[0-9]+]]: tensor<512x64xf32> {actsparse.weight = "emb"}
// NT: linalg.generic {indexing_maps = [#[[A]], #[[E]], #[[C]]], iterator_types = ["parallel", "reduction", "parallel"], library_call = "actsparse_rt_matmul_nt_f32"} ins(%{{.*}}, %[[EMB]] : tensor<?x64xf32>, tensor<512x64xf32>)
// NT: tensor.reshape %{{.*}} : (tensor<?x512xf32>, tensor<3xi64>) -> tensor<?x?x512xf32>
// CHECK-LABEL: func.func @matmul_tied_classifier
// CHECK-SAME: tensor<32x64x16xf32> {actsparse.weight = "emb", actsparse.weight_panels = 512 : i64, actsparse.weight_panels_transposed}
// CHECK: library_call = "actsparse_rt_matmul_panels_f32"
func.func @matmul_tied_classifier(%x: tensor<?x?x64xf32>) -> tensor<?x?x512xf32> {
  %e = actsparse.weight "emb" : tensor<512x64xf32>
  %t = actsparse.transpose %e, perm = [1, 0] : tensor<512x64xf32> -> tensor<64x512xf32>
  %0 = actsparse.matmul %x, %t : (tensor<?x?x64xf32>, tensor<64x512xf32>) -> tensor<?x?x512xf32>
  return %0 : tensor<?x?x512xf32>
}

// -----

// Batched MatMul (attention scores): one generic over batch, m, k, n with
// the reduction before n, so the innermost loop walks rows contiguously;
// rank-4 f32 products are tagged for the runtime's batched kernel (the
// generic is what other element types and ranks run).
// CHECK-DAG: #[[Q:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[K:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-LABEL: func.func @matmul_batched
// CHECK: linalg.generic {indexing_maps = [#[[Q]], #[[K]], #[[S]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"], library_call = "actsparse_rt_batch_matmul_f32"}
func.func @matmul_batched(%q: tensor<1x8x?x16xf32>, %k: tensor<1x8x16x?xf32>) -> tensor<1x8x?x?xf32> {
  %0 = actsparse.matmul %q, %k : (tensor<1x8x?x16xf32>, tensor<1x8x16x?xf32>) -> tensor<1x8x?x?xf32>
  return %0 : tensor<1x8x?x?xf32>
}

// -----

// Q Kᵀ with the transpose of the last two dims as its own op (as exported
// attention has it): the generic reads K itself through a swapped map, so
// the transpose (a copy of K every step) is left without users and the
// canonicalizer after this pass removes it. A transpose of other dims is
// read as usual.
// CHECK-DAG: #[[Q:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[KT:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4, d3)>
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-LABEL: func.func @matmul_transposed_keys
// CHECK-SAME: (%[[QA:.*]]: tensor<1x8x?x16xf32>, %[[KA:.*]]: tensor<1x8x?x16xf32>)
// These rank-4 f32 products are tagged for the runtime's batched kernels,
// the transposed one reading K as stored.
// CHECK: linalg.generic {indexing_maps = [#[[Q]], #[[KT]], #[[S]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"], library_call = "actsparse_rt_batch_matmul_nt_f32"} ins(%[[QA]], %[[KA]] : tensor<1x8x?x16xf32>, tensor<1x8x?x16xf32>)
// CHECK-LABEL: func.func @matmul_other_transpose
// CHECK: %[[T:.*]] = linalg.transpose
// CHECK: linalg.generic {{.*}} library_call = "actsparse_rt_batch_matmul_f32"} ins(%{{.*}}, %[[T]] : tensor<1x8x?x16xf32>, tensor<1x8x16x?xf32>)
func.func @matmul_transposed_keys(%q: tensor<1x8x?x16xf32>, %k: tensor<1x8x?x16xf32>) -> tensor<1x8x?x?xf32> {
  %kt = actsparse.transpose %k, perm = [0, 1, 3, 2] : tensor<1x8x?x16xf32> -> tensor<1x8x16x?xf32>
  %0 = actsparse.matmul %q, %kt : (tensor<1x8x?x16xf32>, tensor<1x8x16x?xf32>) -> tensor<1x8x?x?xf32>
  return %0 : tensor<1x8x?x?xf32>
}
func.func @matmul_other_transpose(%q: tensor<1x8x?x16xf32>, %k: tensor<8x1x16x?xf32>) -> tensor<1x8x?x?xf32> {
  %kt = actsparse.transpose %k, perm = [1, 0, 2, 3] : tensor<8x1x16x?xf32> -> tensor<1x8x16x?xf32>
  %0 = actsparse.matmul %q, %kt : (tensor<1x8x?x16xf32>, tensor<1x8x16x?xf32>) -> tensor<1x8x?x?xf32>
  return %0 : tensor<1x8x?x?xf32>
}

// -----

// Softmax over the last axis of f32: the runtime's row kernel, on the
// other dimensions flattened into rows, into a buffer of its own.
// The runtime function is declared at the top of the module, read-only
// in its input.
// CHECK: func.func private @actsparse_rt_softmax_f32(tensor<?x?xf32> {bufferization.access = "read"}, memref<?x?xf32>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @softmax_rows
// CHECK-SAME: (%[[X:.*]]: tensor<?x4x?xf32>)
// CHECK: %[[R:.*]] = tensor.reshape %[[X]]({{.*}}) : (tensor<?x4x?xf32>, tensor<2xi64>) -> tensor<?x?xf32>
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK: call @actsparse_rt_softmax_f32(%[[R]], %[[OUT]]) : (tensor<?x?xf32>, memref<?x?xf32>) -> ()
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: tensor.reshape %[[Y]]
// CHECK-SAME: -> tensor<?x4x?xf32>
func.func @softmax_rows(%x: tensor<?x4x?xf32>) -> tensor<?x4x?xf32> {
  %0 = actsparse.softmax %x, axis = 2 : tensor<?x4x?xf32>
  return %0 : tensor<?x4x?xf32>
}

// -----

// Softmax over another axis (or of another type): generated code, max,
// exp(x - max), sum, divide.
// CHECK-LABEL: func.func @softmax
// CHECK: arith.constant 0xFF800000 : f32
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: arith.divf
func.func @softmax(%x: tensor<8x?xf32>) -> tensor<8x?xf32> {
  %0 = actsparse.softmax %x, axis = 0 : tensor<8x?xf32>
  return %0 : tensor<8x?xf32>
}

// -----

// ReduceMean with keepdims: a sum, a division by the count, and the unit
// dimension put back by expand_shape.
// CHECK-LABEL: func.func @reduce_mean
// CHECK: iterator_types = ["parallel", "reduction"]
// CHECK: arith.sitofp
// CHECK: arith.divf
// CHECK: tensor.expand_shape {{.*}} {{\[\[}}0, 1]] output_shape [%{{.*}}, 1] : tensor<?xf32> into tensor<?x1xf32>
func.func @reduce_mean(%x: tensor<?x8xf32>) -> tensor<?x1xf32> {
  %0 = actsparse.reduce_mean %x, axes = [1] keepdims : tensor<?x8xf32> -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

// LayerNorm: mean, centring, variance, then (x - mean) / sqrt(var + eps) * g + b.
// CHECK-LABEL: func.func @layer_norm
// CHECK: arith.subf
// CHECK: arith.constant 9.99999974E-6 : f32
// CHECK: math.sqrt
// CHECK: arith.divf
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @layer_norm(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = actsparse.layer_norm %x, %g, %b axis = 1, epsilon = 1.0e-5 : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Gather reads the table with tensor.extract; an index outside it is
// reported to the runtime and replaced by 0, never read.
// CHECK-LABEL: func.func private @actsparse_rt_index_out_of_range(i64, i64)
// CHECK-LABEL: func.func @gather
// CHECK: linalg.generic
// CHECK: arith.cmpi slt
// CHECK: scf.if
// CHECK: func.call @actsparse_rt_index_out_of_range
// CHECK: tensor.extract %arg0[
func.func @gather(%t: tensor<10x4xf32>, %i: tensor<?xi64>) -> tensor<?x4xf32> {
  %0 = actsparse.gather %t, %i, axis = 0 : (tensor<10x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Data movement: transpose, reshape with run-time resolution of 0 / -1,
// unsqueeze, concat, cast.
// CHECK-LABEL: func.func @data_movement
// CHECK: linalg.transpose ins(%arg0 : tensor<2x3x4xf32>) outs(%{{.*}} : tensor<4x3x2xf32>) permutation = [2, 1, 0]
// CHECK: tensor.from_elements {{.*}} : tensor<2xi64>
// CHECK: tensor.reshape %arg0(%{{.*}}) : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<?x?xf32>
// CHECK: tensor.expand_shape %arg0 {{\[\[}}0, 1], [2], [3]] output_shape [1, 2, 3, 4]
// CHECK: tensor.insert_slice %arg0 into %{{.*}}[0, %{{.*}}, 0] [2, 3, 4] [1, 1, 1]
// CHECK: tensor.insert_slice %arg0 into %{{.*}}[0, %{{.*}}, 0] [2, 3, 4] [1, 1, 1] : tensor<2x3x4xf32> into tensor<2x6x4xf32>
// CHECK: arith.fptosi
func.func @data_movement(%x: tensor<2x3x4xf32>, %s: tensor<2xi64>)
    -> (tensor<4x3x2xf32>, tensor<?x?xf32>, tensor<1x2x3x4xf32>, tensor<2x6x4xf32>, tensor<2x3x4xi64>) {
  %0 = actsparse.transpose %x, perm = [2, 1, 0] : tensor<2x3x4xf32> -> tensor<4x3x2xf32>
  %1 = actsparse.reshape %x, %s : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  %2 = actsparse.unsqueeze %x, axes = [0] : tensor<2x3x4xf32> -> tensor<1x2x3x4xf32>
  %3 = actsparse.concat %x, %x axis = 1 : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x6x4xf32>
  %4 = actsparse.cast %x : tensor<2x3x4xf32> to tensor<2x3x4xi64>
  return %0, %1, %2, %3, %4 : tensor<4x3x2xf32>, tensor<?x?xf32>, tensor<1x2x3x4xf32>, tensor<2x6x4xf32>, tensor<2x3x4xi64>
}

// -----

// An in-place KV cache: the new rows are written into the cache after the
// past ones once every dimension is checked (the batch, and the rows
// against past + new); a mismatch is reported and nothing written. Cache
// and past arguments are views of the runtime's buffers: strided layout,
// dense from the axis on.
// CHECK-LABEL: func.func @main
// CHECK-SAME: %[[PAST:[a-z0-9]+]]: tensor<?x4x?x8xf32> {actsparse.name = "past", bufferization.buffer_layout = strided<[?, ?, 8, 1], offset: ?>}
// CHECK-SAME: %[[NEW:[a-z0-9]+]]: tensor<?x4x1x8xf32> {actsparse.name = "new"}
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: tensor<?x4x?x8xf32> {actsparse.kv_cache = {{.*}}, bufferization.buffer_layout = strided<[?, ?, 8, 1], offset: ?>}
// CHECK: %[[P:.*]] = tensor.dim %[[PAST]], %c2
// CHECK: %[[B:.*]] = tensor.dim %[[NEW]], %c0
// CHECK: %[[CB:.*]] = tensor.dim %[[CACHE]], %c0
// CHECK: %[[NEED:.*]] = arith.addi %[[P]], %c1
// CHECK: %[[CR:.*]] = tensor.dim %[[CACHE]], %c2
// CHECK: %[[OKB:.*]] = arith.cmpi eq, %[[B]], %[[CB]]
// CHECK: %[[OKR:.*]] = arith.cmpi eq, %[[NEED]], %[[CR]]
// CHECK: %[[OK:.*]] = arith.andi %[[OKB]], %[[OKR]]
// CHECK: %[[KV:.*]] = scf.if %[[OK]] -> (tensor<?x4x?x8xf32>) {
// CHECK:   %[[W:.*]] = tensor.insert_slice %[[NEW]] into %[[CACHE]][0, 0, %[[P]], 0] [%{{.*}}, 4, 1, 8] [1, 1, 1, 1]
// CHECK:   scf.yield %[[W]]
// CHECK: } else {
// CHECK:   func.call @actsparse_rt_kv_cache_mismatch
// CHECK:   scf.yield %[[CACHE]]
// CHECK: linalg.generic {{.*}} ins(%[[KV]]
func.func @main(%past: tensor<?x4x?x8xf32> {actsparse.name = "past"},
                %new: tensor<?x4x1x8xf32> {actsparse.name = "new"},
                %cache: tensor<?x4x?x8xf32> {actsparse.name = "present", actsparse.kv_cache = {axis = 2 : i64, past = "past"}})
    -> tensor<?x4x?x8xf32> {
  %kv = actsparse.kv_append %new into %cache after %past axis = 2 : tensor<?x4x1x8xf32>, tensor<?x4x?x8xf32> -> tensor<?x4x?x8xf32>
  %r = actsparse.relu %kv : tensor<?x4x?x8xf32>
  return %r : tensor<?x4x?x8xf32>
}

// -----

// Shape computations: Shape, ConstantOfShape, Range, Expand.
// CHECK-LABEL: func.func @shapes
// CHECK: tensor.dim %arg0, %c1
// CHECK: tensor.from_elements {{.*}} : tensor<2xi64>
// CHECK: linalg.fill ins(%{{.*}} : i64) outs(%{{.*}} : tensor<?x?xi64>)
// CHECK: arith.ceildivsi
// CHECK: linalg.index 0
// CHECK: linalg.generic
func.func @shapes(%x: tensor<?x?x8xf32>, %n: tensor<i64>, %c: tensor<?x1xf32>)
    -> (tensor<?x?xi64>, tensor<?xi64>, tensor<?x?xf32>) {
  %s = actsparse.shape %x [0 : 2] : tensor<?x?x8xf32> -> tensor<2xi64>
  %z = actsparse.constant_of_shape %s, value = dense<0> : tensor<1xi64> : (tensor<2xi64>) -> tensor<?x?xi64>
  %zero = actsparse.constant dense<0> : tensor<i64>
  %one = actsparse.constant dense<1> : tensor<i64>
  %r = actsparse.range %zero, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %e = actsparse.expand %c, %s : (tensor<?x1xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  return %z, %r, %e : tensor<?x?xi64>, tensor<?xi64>, tensor<?x?xf32>
}

// -----

// An FFN block lowers to its projections and activation, with the runtime
// probe called on the input rows and neuron rows before the down
// projection; the probe only reads them, so bufferization copies nothing.
// CHECK-LABEL: func.func private @actsparse_rt_ffn_probe
// CHECK-SAME: (i64, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xf32> {bufferization.access = "read"})
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @ffn
// (The weights only feed projections: they come as GEMM strips, see
// actsparse-weight-panels.mlir.)
// CHECK-COUNT-2: linalg.generic {{.*}}library_call = "actsparse_rt_matmul_panels_f32"
// The shift, ReLU, threshold (a * a >= 0.25 * 0.25) and dReLU product:
// CHECK: arith.subf
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oge, %{{.*}}, %{{.*}} : f32
// Its output is not added to a residual stream: the probe gets 0 rows.
// CHECK: %[[NONE:.*]] = tensor.empty() : tensor<0x8xf32>
// CHECK: %[[R:.*]] = tensor.cast %[[NONE]] : tensor<0x8xf32> to tensor<?x?xf32>
// CHECK: %[[L:.*]] = arith.constant 3 : i64
// CHECK: call @actsparse_rt_ffn_probe(%[[L]], %{{.*}}, %{{.*}}, %[[R]]) : (i64, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>) -> ()
// CHECK: linalg.generic {{.*}}library_call = "actsparse_rt_matmul_panels_f32"
func.func @ffn(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %u = actsparse.weight "up" : tensor<8x32xf32>
  %g = actsparse.weight "gate" : tensor<8x32xf32>
  %d = actsparse.weight "down" : tensor<32x8xf32>
  %s = actsparse.constant dense<0.5> : tensor<f32>
  %y = actsparse.ffn %x up %u gate %g down %d shift %s activation = relu relu_up threshold = 0.25 original = silu layer = 3 : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<8x32xf32>, tensor<32x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// The residual stream a block's output is added to goes to the probe too.
// CHECK-LABEL: func.func @ffn_residual
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x8xf32>, %[[RES:[^:]*]]: tensor<?x8xf32>
// CHECK: %[[R:.*]] = tensor.cast %[[RES]] : tensor<?x8xf32> to tensor<?x?xf32>
// CHECK: call @actsparse_rt_ffn_probe(%{{.*}}, %{{.*}}, %{{.*}}, %[[R]])
func.func @ffn_residual(%x: tensor<?x8xf32>, %res: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %u = actsparse.weight "up" : tensor<8x32xf32>
  %d = actsparse.weight "down" : tensor<32x8xf32>
  %y = actsparse.ffn %x up %u down %d activation = relu layer = 0 : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  %r = actsparse.add %res, %y : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// A sparse block is one call of the runtime's kernel on the block's rows,
// into a buffer of its own, then the down bias. The configuration word:
// fields gate | up | down | shift (0x27), relu (0), predictor lowrank
// (2 << 12): 0x2027 = 8231. Absent operands (here gate_pre) are 0 x 0
// tensors; the residual stream the block is added to comes as rows.
// CHECK-LABEL: func.func private @actsparse_rt_sparse_ffn_f32
// CHECK-SAME: (i64, i64, f32, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xf32> {bufferization.access = "read"}, memref<?x?xf32>)
// CHECK-SAME: llvm.emit_c_interface
// CHECK-LABEL: func.func @sparse_ffn
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [1, 32] : tensor<32xf32> into tensor<1x32xf32>
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x8xf32>
// CHECK: %[[OUTD:.*]] = memref.cast %[[OUT]] : memref<?x8xf32> to memref<?x?xf32>
// CHECK-DAG: %[[L:.*]] = arith.constant 3 : i64
// CHECK-DAG: %[[CFG:.*]] = arith.constant 8231 : i64
// CHECK-DAG: %[[T:.*]] = arith.constant 5.000000e-02 : f32
// CHECK: call @actsparse_rt_sparse_ffn_f32(%[[L]], %[[CFG]], %[[T]], {{.*}}, %[[OUTD]])
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: linalg.generic
// CHECK: arith.addf
func.func @sparse_ffn(%x: tensor<?x8xf32>, %r: tensor<?x8xf32>, %db: tensor<8xf32>, %a: tensor<8x4xf32>, %bb: tensor<4x32xf32>, %c: tensor<32xf32>) -> tensor<?x8xf32> {
  %b = actsparse.weight "ffn.3.bundle" : tensor<32x32xf32>
  %0 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down", "shift"] down_bias %db scores(%a, %bb, %c) activation = relu threshold = 0.05 predictor = lowrank layer = 3 : (tensor<?x8xf32>, tensor<32x32xf32>, tensor<8xf32>, tensor<8x4xf32>, tensor<4x32xf32>, tensor<32xf32>) -> tensor<?x8xf32>
  %1 = actsparse.add %r, %0 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// -----

// On a quantized bundle the kernel is the _q entry point, with the bundle
// as rows of bytes. Configuration: gate | up | down (0x7), relu, exact
// gate (1 << 12), q4_0 (kind 1, stored + 1 at bit 14: 2 << 14): 0x9007 =
// 36871.
// CHECK-LABEL: func.func private @actsparse_rt_sparse_ffn_q_f32
// CHECK-SAME: (i64, i64, f32, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xi8> {bufferization.access = "read"},
// CHECK-LABEL: func.func @sparse_ffn_quantized
// CHECK: %[[CFG:.*]] = arith.constant 36871 : i64
// CHECK: %[[Q:.*]] = tensor.cast %{{.*}} : tensor<32x64xi8> to tensor<?x?xi8>
// CHECK: call @actsparse_rt_sparse_ffn_q_f32(%{{.*}}, %[[CFG]], %{{.*}}, %{{.*}}, %[[Q]],
func.func @sparse_ffn_quantized(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %b = actsparse.weight "ffn.0.bundle.q4_0" : tensor<32x64xi8>
  %0 = actsparse.sparse_ffn %x bundle %b quant = q4_0 fields = ["gate", "up", "down"] activation = relu predictor = exact_gate : (tensor<?x8xf32>, tensor<32x64xi8>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// A projection by Transpose(Dequantize(Q)) (--actsparse-quantize's form)
// is one call of the quantized kernel with the kind (2 = q4_1) on the
// flattened rows and the quantized bytes, into a buffer of its own; the
// f32 matrix is computed only for the other use (returned here), by a
// generic that reads each weight's block from the bytes.
// CHECK: func.func private @actsparse_rt_matmul_q_f32(i64, tensor<?x?xf32> {bufferization.access = "read"}, tensor<?x?xi8> {bufferization.access = "read"}, memref<?x?xf32>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @quantized
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[Q:.*]]: tensor<3x40xi8> {actsparse.weight = "w.q4_1"})
// CHECK: %[[W:.*]] = linalg.generic
// CHECK: tensor.extract %[[Q]]
// CHECK: arith.bitcast %{{.*}} : i16 to f16
// CHECK: } -> tensor<3x64xf32>
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[W]]
// CHECK: %[[R:.*]] = tensor.reshape %[[X]]
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x3xf32>
// CHECK: %[[KIND:.*]] = arith.constant 2 : i64
// CHECK: %[[RC:.*]] = tensor.cast %[[R]] : tensor<?x64xf32> to tensor<?x?xf32>
// CHECK: %[[QC:.*]] = tensor.cast %[[Q]] : tensor<3x40xi8> to tensor<?x?xi8>
// CHECK: %[[OC:.*]] = memref.cast %[[OUT]]
// CHECK: call @actsparse_rt_matmul_q_f32(%[[KIND]], %[[RC]], %[[QC]], %[[OC]])
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: %[[YR:.*]] = tensor.reshape %[[Y]]
// CHECK: return %[[YR]], %[[T]]
func.func @quantized(%x: tensor<?x?x64xf32>) -> (tensor<?x?x3xf32>, tensor<64x3xf32>) {
  %q = actsparse.weight "w.q4_1" : tensor<3x40xi8>
  %w = actsparse.dequantize q4_1 %q : tensor<3x40xi8> -> tensor<3x64xf32>
  %t = actsparse.transpose %w, perm = [1, 0] : tensor<3x64xf32> -> tensor<64x3xf32>
  %y = actsparse.matmul %x, %t : (tensor<?x?x64xf32>, tensor<64x3xf32>) -> tensor<?x?x3xf32>
  return %y, %t : tensor<?x?x3xf32>, tensor<64x3xf32>
}
