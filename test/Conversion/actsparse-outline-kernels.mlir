// RUN: sparse-opt %s --split-input-file --actsparse-outline-kernels | FileCheck %s
// Every bufferized linalg op moves into a private function; ops equal up to
// their operands share one (here the two scalings, as two layers would),
// constants their bodies use are cloned in, other values from above become
// arguments (a buffer an op reads and writes is one argument), and ops that
// differ (another constant, another shape) get functions of their own.
// Tensor-level ops are left alone.

#id = affine_map<(d0) -> (d0)>

// CHECK-LABEL: func.func @layers
// CHECK-SAME: (%[[A:.*]]: memref<4xf32>, %[[B:.*]]: memref<4xf32>, %[[C:.*]]: memref<4xf32>, %[[D:.*]]: memref<8xf32>, %[[S:.*]]: f32, %[[T:.*]]: tensor<4xf32>)
// CHECK-NOT: linalg.generic {{.*}} ins(%{{.*}} : memref
// CHECK: call @actsparse_kernel_0(%[[A]], %[[B]]) : (memref<4xf32>, memref<4xf32>) -> ()
// CHECK-NEXT: call @actsparse_kernel_0(%[[B]], %[[C]]) : (memref<4xf32>, memref<4xf32>) -> ()
// CHECK-NEXT: call @actsparse_kernel_1(%[[A]], %[[C]]) : (memref<4xf32>, memref<4xf32>) -> ()
// CHECK-NEXT: call @actsparse_kernel_2(%[[D]]) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @actsparse_kernel_3(%[[A]], %[[C]], %[[S]]) : (memref<4xf32>, memref<4xf32>, f32) -> ()
// CHECK-NEXT: call @actsparse_kernel_4(%[[C]]) : (memref<4xf32>) -> ()
// CHECK-NEXT: tensor.empty
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[T]] : tensor<4xf32>)
func.func @layers(%a: memref<4xf32>, %b: memref<4xf32>, %c: memref<4xf32>,
                  %d: memref<8xf32>, %s: f32, %t: tensor<4xf32>) -> tensor<4xf32> {
  %two = arith.constant 2.0 : f32
  %three = arith.constant 3.0 : f32
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%a : memref<4xf32>) outs(%b : memref<4xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %two : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%b : memref<4xf32>) outs(%c : memref<4xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %two : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%a : memref<4xf32>) outs(%c : memref<4xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %three : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%d : memref<8xf32>) outs(%d : memref<8xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %two : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%a : memref<4xf32>) outs(%c : memref<4xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %s : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%two : f32) outs(%c : memref<4xf32>)
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%t : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %two : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// CHECK: func.func private @actsparse_kernel_0(%[[X:.*]]: memref<4xf32>, %[[Y:.*]]: memref<4xf32>)
// CHECK-NEXT: %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[X]] : memref<4xf32>) outs(%[[Y]] : memref<4xf32>)
// CHECK: arith.mulf %{{.*}}, %[[TWO]] : f32
// CHECK: return
// CHECK: func.func private @actsparse_kernel_1(
// CHECK-NEXT: arith.constant 3.000000e+00 : f32
// CHECK: func.func private @actsparse_kernel_2(%[[INOUT:.*]]: memref<8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[INOUT]] : memref<8xf32>) outs(%[[INOUT]] : memref<8xf32>)
// CHECK: func.func private @actsparse_kernel_3(%{{.*}}: memref<4xf32>, %{{.*}}: memref<4xf32>, %[[SCALE:.*]]: f32)
// CHECK: arith.mulf %{{.*}}, %[[SCALE]] : f32
// CHECK: func.func private @actsparse_kernel_4(%[[OUT:.*]]: memref<4xf32>)
// CHECK-NEXT: %[[FILL:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT: linalg.fill ins(%[[FILL]] : f32) outs(%[[OUT]] : memref<4xf32>)
// CHECK-NOT: func.func private @actsparse_kernel_5

// -----

// A copy into a strided slice (a KV-cache Concat) becomes a linalg.copy
// kernel, whose rows LLVM copies with memcpy, instead of MLIR's element-wise
// memrefCopy; a copy between dense row-major buffers stays a memref.copy
// (one memcpy).
// CHECK-LABEL: func.func @concat
// CHECK: %[[SLICE:.*]] = memref.subview
// CHECK-NEXT: call @actsparse_kernel_0(%{{.*}}, %[[SLICE]]) : (memref<2x3xf32>, memref<2x3xf32, strided<[5, 1]>>) -> ()
// CHECK-NEXT: memref.copy %{{.*}}, %{{.*}} : memref<2x5xf32> to memref<2x5xf32>
// CHECK: func.func private @actsparse_kernel_0(%[[SRC:.*]]: memref<2x3xf32>, %[[DST:.*]]: memref<2x3xf32, strided<[5, 1]>>)
// CHECK-NEXT: linalg.copy ins(%[[SRC]] : memref<2x3xf32>) outs(%[[DST]] : memref<2x3xf32, strided<[5, 1]>>)
func.func @concat(%past: memref<2x3xf32>, %present: memref<2x5xf32>, %out: memref<2x5xf32>) {
  %slice = memref.subview %present[0, 0] [2, 3] [1, 1] : memref<2x5xf32> to memref<2x3xf32, strided<[5, 1]>>
  memref.copy %past, %slice : memref<2x3xf32> to memref<2x3xf32, strided<[5, 1]>>
  memref.copy %present, %out : memref<2x5xf32> to memref<2x5xf32>
  return
}
