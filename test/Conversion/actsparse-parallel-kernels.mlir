// RUN: sparse-opt %s --split-input-file --actsparse-parallel-kernels | FileCheck %s

// An elementwise kernel over [B, S, 8]: the chunk function collapses B and S
// into one loop (the innermost stays its own loop) and runs rows
// [n t / T, n (t + 1) / T) of it; the kernel computes its work, B * S * 8,
// and calls the chunk function for the whole (chunk 0 of 1).

// CHECK-LABEL: func.func private @actsparse_kernel_0(
// CHECK-SAME: %[[A:.*]]: memref<?x?x8xf32>, %[[B:.*]]: memref<?x?x8xf32>)
// CHECK: %[[D0:.*]] = memref.dim %[[A]], %{{.*}}
// CHECK: %[[D1:.*]] = memref.dim %[[A]], %{{.*}}
// CHECK: %[[W0:.*]] = arith.muli %{{.*}}, %[[D0]]
// CHECK: %[[W1:.*]] = arith.muli %[[W0]], %[[D1]]
// CHECK: %[[C8:.*]] = arith.constant 8 : index
// CHECK: %[[W:.*]] = arith.muli %[[W1]], %[[C8]]
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: call @actsparse_kernel_0_chunk(%[[A]], %[[B]], %[[W]], %[[ZERO]], %[[ONE]])
// CHECK-NOT: linalg.generic
// CHECK: return

// CHECK-LABEL: func.func private @actsparse_kernel_0_chunk(
// CHECK-SAME: %{{.*}}: memref<?x?x8xf32>, %{{.*}}: memref<?x?x8xf32>, %{{.*}}: index, %[[T:.*]]: index, %[[TT:.*]]: index)
// CHECK-SAME: passthrough = ["noinline"]
// CHECK: %[[LO:.*]] = arith.muli %[[N:.*]], %[[T]]
// CHECK: %[[LB:.*]] = arith.divui %[[LO]], %[[TT]]
// CHECK: %[[NEXT:.*]] = arith.addi %[[T]], %{{.*}}
// CHECK: %[[HI:.*]] = arith.muli %[[N]], %[[NEXT]]
// CHECK: %[[UB:.*]] = arith.divui %[[HI]], %[[TT]]
// CHECK: scf.parallel (%[[I:.*]], %[[J:.*]]) = (%[[LB]], %{{.*}}) to (%[[UB]], %{{.*}})
// CHECK: arith.remsi %[[I]]
// CHECK: arith.divsi %[[I]]
// CHECK: math.exp


#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @main(%a: memref<?x?x8xf32>, %b: memref<?x?x8xf32>) {
  call @actsparse_kernel_0(%a, %b) : (memref<?x?x8xf32>, memref<?x?x8xf32>) -> ()
  return
}
func.func private @actsparse_kernel_0(%a: memref<?x?x8xf32>, %b: memref<?x?x8xf32>) {
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%a : memref<?x?x8xf32>) outs(%b : memref<?x?x8xf32>) {
  ^bb0(%x: f32, %y: f32):
    %e = math.exp %x : f32
    linalg.yield %e : f32
  }
  return
}

// -----

// A sum over the last dimension (a norm's): the leading parallel loops are
// collapsed into one and chunked; the reduction stays a loop inside.
// CHECK-LABEL: func.func private @actsparse_kernel_1_chunk(
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK: scf.for
// CHECK: arith.addf
#in = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func private @actsparse_kernel_1(%a: memref<1x?x8xf32>, %b: memref<1x?xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a : memref<1x?x8xf32>) outs(%b : memref<1x?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left whole: a kernel whose first loop is a reduction, one whose output
// does not index a leading parallel loop (two iterations would write one
// element), one whose body calls out (the runtime's error reports keep
// their state per thread), a function that is not an outlined kernel, and
// a kernel of two ops.
// CHECK-NOT: _chunk
#r0 = affine_map<(d0, d1) -> (d0, d1)>
#r1 = affine_map<(d0, d1) -> (d1)>
#bcast = affine_map<(d0, d1) -> (d1)>
func.func private @actsparse_kernel_2(%a: memref<4x8xf32>, %b: memref<8xf32>) {
  linalg.generic {indexing_maps = [#r0, #r1], iterator_types = ["reduction", "parallel"]}
      ins(%a : memref<4x8xf32>) outs(%b : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  return
}
func.func private @actsparse_kernel_3(%a: memref<4x8xf32>, %b: memref<8xf32>) {
  linalg.generic {indexing_maps = [#r0, #bcast], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<4x8xf32>) outs(%b : memref<8xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  }
  return
}
func.func private @report(i64)
func.func private @actsparse_kernel_4(%a: memref<4x8xf32>, %b: memref<4x8xf32>) {
  linalg.generic {indexing_maps = [#r0, #r0], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<4x8xf32>) outs(%b : memref<4x8xf32>) {
  ^bb0(%x: f32, %y: f32):
    %c = arith.constant 3 : i64
    func.call @report(%c) : (i64) -> ()
    linalg.yield %x : f32
  }
  return
}
func.func private @not_a_kernel(%a: memref<4x8xf32>, %b: memref<4x8xf32>) {
  linalg.copy ins(%a : memref<4x8xf32>) outs(%b : memref<4x8xf32>)
  return
}
func.func private @actsparse_kernel_5(%a: memref<4x8xf32>, %b: memref<4x8xf32>) {
  linalg.copy ins(%a : memref<4x8xf32>) outs(%b : memref<4x8xf32>)
  linalg.copy ins(%b : memref<4x8xf32>) outs(%a : memref<4x8xf32>)
  return
}

// -----

// Parallel, reduction, parallel (a product's loops): the chunks cut the
// outermost loop, not the parallel loop inside the reduction.
// CHECK-LABEL: func.func private @actsparse_kernel_6(
// CHECK-LABEL: func.func private @actsparse_kernel_6_chunk(
// CHECK-SAME: %[[T:[^:]*]]: index, %[[TT:[^:]*]]: index)
// CHECK: %[[LO:.*]] = arith.muli %{{.*}}, %[[T]]
// CHECK: %[[LB:.*]] = arith.divui %[[LO]], %[[TT]]
// CHECK: %[[UB:.*]] = arith.divui %{{.*}}, %[[TT]]
// CHECK: scf.parallel (%{{.*}}) = (%[[LB]]) to (%[[UB]])
// CHECK: scf.for
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}})
#a6 = affine_map<(m, k, n) -> (m, k)>
#b6 = affine_map<(m, k, n) -> (k, n)>
#c6 = affine_map<(m, k, n) -> (m, n)>
func.func private @actsparse_kernel_6(%a: memref<?x4xf32>, %b: memref<4x8xf32>, %c: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#a6, #b6, #c6], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<?x4xf32>, memref<4x8xf32>) outs(%c : memref<?x8xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
