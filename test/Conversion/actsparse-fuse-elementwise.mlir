// RUN: sparse-opt %s --split-input-file --actsparse-fuse-elementwise | FileCheck %s

#id = affine_map<(b, h, i, j) -> (b, h, i, j)>
#scalar = affine_map<(b, h, i, j) -> ()>
#mask = affine_map<(b, h, i, j) -> (i, j)>

// Attention's scaling and masking: one pass over the scores, dividing,
// then adding, as the two ops did.
// CHECK-LABEL: func.func @scale_then_mask
// CHECK: linalg.generic
// CHECK-SAME: ins(%arg0, %arg1, %arg2 :
// CHECK: arith.divf
// CHECK-NEXT: arith.addf
// CHECK-NOT: linalg.generic
func.func @scale_then_mask(%s: tensor<1x2x3x3xf32>, %d: tensor<f32>,
                           %m: tensor<3x3xf32>) -> tensor<1x2x3x3xf32> {
  %e = tensor.empty() : tensor<1x2x3x3xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #scalar, #id],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %d : tensor<1x2x3x3xf32>, tensor<f32>) outs(%e : tensor<1x2x3x3xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %q = arith.divf %x, %y : f32
    linalg.yield %q : f32
  } -> tensor<1x2x3x3xf32>
  %masked = linalg.generic {indexing_maps = [#id, #mask, #id],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%scaled, %m : tensor<1x2x3x3xf32>, tensor<3x3xf32>) outs(%e : tensor<1x2x3x3xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %a = arith.addf %x, %y : f32
    linalg.yield %a : f32
  } -> tensor<1x2x3x3xf32>
  return %masked : tensor<1x2x3x3xf32>
}

// -----

#id = affine_map<(t, d) -> (t, d)>
#row = affine_map<(t, d) -> (t)>

// A square into the sum over the row that reads it elementwise: fused into
// the reduction.
// CHECK-LABEL: func.func @square_then_sum
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK-SAME: ins(%arg0 :
// CHECK: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK-NOT: linalg.generic
func.func @square_then_sum(%x: tensor<4x8xf32>, %init: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %sq = linalg.generic {indexing_maps = [#id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %p = arith.mulf %v, %v : f32
    linalg.yield %p : f32
  } -> tensor<4x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row],
      iterator_types = ["parallel", "reduction"]}
      ins(%sq : tensor<4x8xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %a = arith.addf %v, %acc : f32
    linalg.yield %a : f32
  } -> tensor<4xf32>
  return %sum : tensor<4xf32>
}

// -----

#id = affine_map<(t, d) -> (t, d)>
#bcast = affine_map<(t, d) -> (t, 0)>
#w = affine_map<(m, k, n) -> (k, n)>
#a = affine_map<(m, k, n) -> (m, k)>
#c = affine_map<(m, k, n) -> (m, n)>

// Not fused:
//  - a producer read twice (it would be computed twice);
//  - a per-row value broadcast over the row (RMSNorm's reciprocal square
//    root: computed once per element instead of once per row);
//  - a product tagged for a runtime kernel, whose operands the kernel
//    takes as they are;
//  - a producer whose body calls the runtime.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-8: linalg.generic
// CHECK-NOT: linalg.generic
func.func private @report(i64)
func.func @kept(%x: tensor<4x8xf32>, %r: tensor<4x1xf32>, %wt: tensor<8x8xf32>,
                %i: tensor<4x8xi64>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %twice = linalg.generic {indexing_maps = [#id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %n = arith.negf %v : f32
    linalg.yield %n : f32
  } -> tensor<4x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%twice, %twice : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %u: f32, %o: f32):
    %a = arith.addf %v, %u : f32
    linalg.yield %a : f32
  } -> tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<4x1xf32>
  %rsqrt = linalg.generic {indexing_maps = [#id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%r : tensor<4x1xf32>) outs(%e1 : tensor<4x1xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = math.rsqrt %v : f32
    linalg.yield %s : f32
  } -> tensor<4x1xf32>
  %normed = linalg.generic {indexing_maps = [#id, #bcast, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%x, %rsqrt : tensor<4x8xf32>, tensor<4x1xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %m = arith.mulf %v, %s : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %act = linalg.generic {indexing_maps = [#id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %v, %z : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %prod = linalg.generic {indexing_maps = [#a, #w, #c],
      iterator_types = ["parallel", "reduction", "parallel"],
      library_call = "actsparse_rt_matmul_f32"}
      ins(%act, %wt : tensor<4x8xf32>, tensor<8x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %w: f32, %acc: f32):
    %m = arith.mulf %v, %w : f32
    %a = arith.addf %acc, %m : f32
    linalg.yield %a : f32
  } -> tensor<4x8xf32>
  %checked = linalg.generic {indexing_maps = [#id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%i : tensor<4x8xi64>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: i64, %o: f32):
    func.call @report(%v) : (i64) -> ()
    %f = arith.sitofp %v : i64 to f32
    linalg.yield %f : f32
  } -> tensor<4x8xf32>
  %after = linalg.generic {indexing_maps = [#id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%checked : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %n = arith.negf %v : f32
    linalg.yield %n : f32
  } -> tensor<4x8xf32>
  return %sum, %normed, %prod, %after : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}
