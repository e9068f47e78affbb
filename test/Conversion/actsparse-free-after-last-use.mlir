// RUN: sparse-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(actsparse-free-after-last-use))' | FileCheck %s
// A buffer's dealloc moves from the end of the block to right after the
// last op that uses the buffer or a value made from it; it stays where it
// is when the buffer's address is compared at run time, when a value made
// from it leaves through a yield, or when the alloc is in another block.

// CHECK-LABEL: func.func @after_last_use
// CHECK: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[A]] : memref<4xf32>)
// CHECK-NEXT: linalg.copy ins(%[[A]] : memref<4xf32>) outs(%{{.*}} : memref<4xf32>)
// CHECK-NEXT: memref.dealloc %[[A]] : memref<4xf32>
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: return
func.func @after_last_use(%out: memref<4xf32>, %other: memref<4xf32>) {
  %c = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  linalg.fill ins(%c : f32) outs(%a : memref<4xf32>)
  linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
  linalg.fill ins(%c : f32) outs(%other : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  return
}

// -----

// Views count: the subview of a reshape of the buffer is read last.
// CHECK-LABEL: func.func @through_views
// CHECK: %[[A:.*]] = memref.alloc() : memref<2x4xf32>
// CHECK: %[[S:.*]] = memref.subview
// CHECK-NEXT: memref.copy %[[S]], %{{.*}}
// CHECK-NEXT: memref.dealloc %[[A]] : memref<2x4xf32>
// CHECK-NEXT: linalg.fill
func.func @through_views(%out: memref<4xf32>, %other: memref<4xf32>) {
  %c = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<2x4xf32>
  linalg.fill ins(%c : f32) outs(%a : memref<2x4xf32>)
  %flat = memref.collapse_shape %a [[0, 1]] : memref<2x4xf32> into memref<8xf32>
  %s = memref.subview %flat[4] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 4>>
  memref.copy %s, %out : memref<4xf32, strided<[1], offset: 4>> to memref<4xf32>
  linalg.fill ins(%c : f32) outs(%other : memref<4xf32>)
  memref.dealloc %a : memref<2x4xf32>
  return
}

// -----

// A use inside a region counts for the op that holds it.
// CHECK-LABEL: func.func @nested_use
// CHECK: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK: scf.if
// CHECK: memref.copy %[[A]]
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[A]] : memref<4xf32>
// CHECK-NEXT: linalg.fill
func.func @nested_use(%p: i1, %out: memref<4xf32>, %other: memref<4xf32>) {
  %c = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  linalg.fill ins(%c : f32) outs(%a : memref<4xf32>)
  scf.if %p {
    memref.copy %a, %out : memref<4xf32> to memref<4xf32>
  }
  linalg.fill ins(%c : f32) outs(%other : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  return
}

// -----

// The address taken as an integer (run-time alias checks compare it), or
// a view leaving a region through its yield: the dealloc stays.
// CHECK-LABEL: func.func @stays
// CHECK: linalg.fill
// CHECK-NEXT: memref.dealloc %{{.*}} : memref<4xf32>
// CHECK-NEXT: memref.dealloc %{{.*}} : memref<4xf32>
// CHECK-NEXT: return
func.func @stays(%p: i1, %other: memref<4xf32>) -> index {
  %c = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  %i = memref.extract_aligned_pointer_as_index %a : memref<4xf32> -> index
  %b = memref.alloc() : memref<4xf32>
  %v = scf.if %p -> memref<4xf32> {
    scf.yield %b : memref<4xf32>
  } else {
    scf.yield %other : memref<4xf32>
  }
  linalg.fill ins(%c : f32) outs(%v : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  memref.dealloc %b : memref<4xf32>
  return %i : index
}

// -----

// Allocated in one block, freed in another: left alone.
// CHECK-LABEL: func.func @other_block
// CHECK: scf.if
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: memref.dealloc
func.func @other_block(%p: i1, %other: memref<4xf32>) {
  %c = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  linalg.fill ins(%c : f32) outs(%a : memref<4xf32>)
  scf.if %p {
    linalg.fill ins(%c : f32) outs(%other : memref<4xf32>)
    memref.dealloc %a : memref<4xf32>
  }
  return
}
