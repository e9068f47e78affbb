// RUN: sparse-opt %s --split-input-file --actsparse-lower-library-calls | FileCheck %s

// Tagged generics become calls of the runtime kernel (C += A W). A product
// into a fresh buffer that was just filled with +0.0 calls the kernel's
// "set" variant (C = A W) and the fill goes; everything else keeps the
// accumulating kernel and its fill.

#a = affine_map<(m, k, n) -> (m, k)>
#w = affine_map<(m, k, n) -> (k, n)>
#wt = affine_map<(m, k, n) -> (n, k)>
#s = affine_map<(m, k, n) -> (n floordiv 16, k, n mod 16)>
#c = affine_map<(m, k, n) -> (m, n)>

// CHECK-LABEL: func.func @fresh
// CHECK-NOT: linalg.fill
// CHECK: call @actsparse_rt_matmul_set_f32(
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @fresh(%x: memref<?x4xf32>, %w: memref<4x8xf32>) -> memref<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%m) : memref<?x8xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x8xf32>)
  linalg.generic {indexing_maps = [#a, #w, #c],
                  iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_f32"}
      ins(%x, %w : memref<?x4xf32>, memref<4x8xf32>) outs(%out : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return %out : memref<?x8xf32>
}

// -----

#a = affine_map<(m, k, n) -> (m, k)>
#wt = affine_map<(m, k, n) -> (n, k)>
#s = affine_map<(m, k, n) -> (n floordiv 16, k, n mod 16)>
#c = affine_map<(m, k, n) -> (m, n)>

// The transposed and the prepacked kernels have set variants too; ops
// between the fill and the product that do not touch the buffer do not
// matter.
// CHECK-LABEL: func.func @variants
// CHECK-NOT: outs(%alloc
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%arg3 :
// CHECK-NOT: linalg.fill
// CHECK: call @actsparse_rt_matmul_nt_set_f32(
// CHECK: call @actsparse_rt_matmul_panels_set_f32(
func.func @variants(%x: memref<2x4xf32>, %wt: memref<8x4xf32>, %s: memref<1x4x16xf32>,
                    %other: memref<2x4xf32>) -> (memref<2x8xf32>, memref<2x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %o1 = memref.alloc() : memref<2x8xf32>
  %o2 = memref.alloc() : memref<2x8xf32>
  linalg.fill ins(%zero : f32) outs(%o1 : memref<2x8xf32>)
  linalg.fill ins(%zero : f32) outs(%o2 : memref<2x8xf32>)
  linalg.fill ins(%one : f32) outs(%other : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#a, #wt, #c],
                  iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_nt_f32"}
      ins(%x, %wt : memref<2x4xf32>, memref<8x4xf32>) outs(%o1 : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#a, #s, #c],
                  iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_panels_f32"}
      ins(%x, %s : memref<2x4xf32>, memref<1x4x16xf32>) outs(%o2 : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return %o1, %o2 : memref<2x8xf32>, memref<2x8xf32>
}

// -----

#q = affine_map<(b, h, m, k, n) -> (b, h, m, k)>
#kt = affine_map<(b, h, m, k, n) -> (b, h, n, k)>
#v = affine_map<(b, h, m, k, n) -> (b, h, k, n)>
#o = affine_map<(b, h, m, k, n) -> (b, h, m, n)>

// Attention's batched products: the scores Q Kᵀ and the output P V into
// fresh zero-filled buffers call the batched set variants; the score
// buffer filled with another value (no such lowering today, but a bias
// would look so) keeps its fill and accumulates.
// CHECK-LABEL: func.func @batched
// CHECK-NOT: linalg.fill ins(%cst
// CHECK: call @actsparse_rt_batch_matmul_nt_set_f32(
// CHECK: call @actsparse_rt_batch_matmul_set_f32(
// CHECK: linalg.fill
// CHECK-NEXT: memref.cast
// CHECK: call @actsparse_rt_batch_matmul_nt_f32(
func.func @batched(%q: memref<1x2x3x4xf32>, %k: memref<1x2x5x4xf32>,
                   %v: memref<1x2x5x4xf32>)
    -> (memref<1x2x3x4xf32>, memref<1x2x3x5xf32>) {
  %zero = arith.constant 0.0 : f32
  %bias = arith.constant 2.0 : f32
  %scores = memref.alloc() : memref<1x2x3x5xf32>
  linalg.fill ins(%zero : f32) outs(%scores : memref<1x2x3x5xf32>)
  linalg.generic {indexing_maps = [#q, #kt, #o],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_batch_matmul_nt_f32"}
      ins(%q, %k : memref<1x2x3x4xf32>, memref<1x2x5x4xf32>)
      outs(%scores : memref<1x2x3x5xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  %out = memref.alloc() : memref<1x2x3x4xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<1x2x3x4xf32>)
  linalg.generic {indexing_maps = [#q, #v, #o],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_batch_matmul_f32"}
      ins(%scores, %v : memref<1x2x3x5xf32>, memref<1x2x5x4xf32>)
      outs(%out : memref<1x2x3x4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  %biased = memref.alloc() : memref<1x2x3x5xf32>
  linalg.fill ins(%bias : f32) outs(%biased : memref<1x2x3x5xf32>)
  linalg.generic {indexing_maps = [#q, #kt, #o],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_batch_matmul_nt_f32"}
      ins(%q, %k : memref<1x2x3x4xf32>, memref<1x2x5x4xf32>)
      outs(%biased : memref<1x2x3x5xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return %out, %biased : memref<1x2x3x4xf32>, memref<1x2x3x5xf32>
}

// -----

#a = affine_map<(m, k, n) -> (m, k)>
#w = affine_map<(m, k, n) -> (k, n)>
#c = affine_map<(m, k, n) -> (m, n)>

// Kept: a fill of another value (a bias as the init), -0.0, a buffer read
// or viewed between the fill and the product, a buffer that is not a fresh
// allocation (an argument), and no fill at all.
// CHECK-LABEL: func.func @kept
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[O1:.*]] :
// CHECK: call @actsparse_rt_matmul_f32(
// CHECK: linalg.fill
// CHECK: call @actsparse_rt_matmul_f32(
// CHECK: linalg.fill
// CHECK: memref.subview
// CHECK: call @actsparse_rt_matmul_f32(
// CHECK: linalg.fill
// CHECK: memref.load
// CHECK: call @actsparse_rt_matmul_f32(
// CHECK: linalg.fill
// CHECK: call @actsparse_rt_matmul_f32(
// CHECK: call @actsparse_rt_matmul_f32(
// CHECK-NOT: _set_f32
func.func @kept(%x: memref<2x4xf32>, %w: memref<4x8xf32>, %arg: memref<2x8xf32>)
    -> (memref<2x8xf32>, memref<2x8xf32>, memref<2x8xf32>, memref<2x8xf32>, memref<2x8xf32>, f32) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %negzero = arith.constant -0.0 : f32
  %zero = arith.constant 0.0 : f32
  %o1 = memref.alloc() : memref<2x8xf32>
  linalg.fill ins(%one : f32) outs(%o1 : memref<2x8xf32>)
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_f32"}
      ins(%x, %w : memref<2x4xf32>, memref<4x8xf32>) outs(%o1 : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  %o2 = memref.alloc() : memref<2x8xf32>
  linalg.fill ins(%negzero : f32) outs(%o2 : memref<2x8xf32>)
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_f32"}
      ins(%x, %w : memref<2x4xf32>, memref<4x8xf32>) outs(%o2 : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  %o3 = memref.alloc() : memref<2x8xf32>
  linalg.fill ins(%zero : f32) outs(%o3 : memref<2x8xf32>)
  %view = memref.subview %o3[0, 0] [1, 8] [1, 1] : memref<2x8xf32> to memref<1x8xf32, strided<[8, 1]>>
  linalg.fill ins(%one : f32) outs(%view : memref<1x8xf32, strided<[8, 1]>>)
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_f32"}
      ins(%x, %w : memref<2x4xf32>, memref<4x8xf32>) outs(%o3 : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  %o4 = memref.alloc() : memref<2x8xf32>
  linalg.fill ins(%zero : f32) outs(%o4 : memref<2x8xf32>)
  %v = memref.load %o4[%c0, %c0] : memref<2x8xf32>
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_f32"}
      ins(%x, %w : memref<2x4xf32>, memref<4x8xf32>) outs(%o4 : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%zero : f32) outs(%arg : memref<2x8xf32>)
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_f32"}
      ins(%x, %w : memref<2x4xf32>, memref<4x8xf32>) outs(%arg : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  %o5 = memref.alloc() : memref<2x8xf32>
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "reduction", "parallel"],
                  library_call = "actsparse_rt_matmul_f32"}
      ins(%x, %w : memref<2x4xf32>, memref<4x8xf32>) outs(%o5 : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return %o1, %o2, %o3, %o4, %o5, %v : memref<2x8xf32>, memref<2x8xf32>, memref<2x8xf32>, memref<2x8xf32>, memref<2x8xf32>, f32
}
