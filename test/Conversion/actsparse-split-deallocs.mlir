// RUN: sparse-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(actsparse-split-deallocs))' | FileCheck %s
// A buffer that is one allocation of the function, and that no other
// operand or retained value of the dealloc can be, gets a dealloc of its
// own; the rest stays in the original op, whose results do not change.

// %a is reached only by itself: split. %b is retained through a view:
// stays. The argument stays (it is not an allocation of the function).
// CHECK-LABEL: func.func @split_unique
// CHECK-SAME: (%[[ARG:.*]]: memref<4xf32>, %[[C:.*]]: i1)
// CHECK: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<8xf32>
// CHECK: %[[V:.*]] = memref.subview %[[B]]
// CHECK-NEXT: bufferization.dealloc (%[[A]] : memref<4xf32>) if (%[[C]]){{$}}
// CHECK-NEXT: %[[R:.*]] = bufferization.dealloc (%[[B]], %[[ARG]] : memref<8xf32>, memref<4xf32>) if (%[[C]], %[[C]]) retain (%[[V]] : memref<4xf32, strided<[1], offset: 4>>)
// CHECK-NEXT: return %[[R]]
func.func @split_unique(%arg: memref<4xf32>, %c: i1) -> i1 {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<8xf32>
  %v = memref.subview %b[4] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 4>>
  %r = bufferization.dealloc (%a, %b, %arg : memref<4xf32>, memref<8xf32>, memref<4xf32>) if (%c, %c, %c) retain (%v : memref<4xf32, strided<[1], offset: 4>>)
  return %r : i1
}

// -----

// The base buffer of a descriptor is its allocation; a choice between two
// allocations may be either, so neither of them is split; %d is.
// CHECK-LABEL: func.func @through_metadata_and_choice
// CHECK: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[D:.*]] = memref.alloc() : memref<2x2xf32>
// CHECK: %[[BASE:[^,]*]], %{{.*}} = memref.extract_strided_metadata %[[D]]
// CHECK: %[[PICK:.*]] = scf.if
// CHECK: bufferization.dealloc (%[[BASE]] : memref<f32>) if (%{{.*}}){{$}}
// CHECK-NEXT: bufferization.dealloc (%[[A]], %[[PICK]] : memref<4xf32>, memref<4xf32>)
func.func @through_metadata_and_choice(%c: i1) {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  %d = memref.alloc() : memref<2x2xf32>
  %base, %offset, %sizes:2, %strides:2 = memref.extract_strided_metadata %d : memref<2x2xf32> -> memref<f32>, index, index, index, index, index
  %pick = scf.if %c -> memref<4xf32> {
    scf.yield %a : memref<4xf32>
  } else {
    scf.yield %b : memref<4xf32>
  }
  bufferization.dealloc (%a, %pick, %base : memref<4xf32>, memref<4xf32>, memref<f32>) if (%c, %c, %c)
  return
}

// -----

// A buffer of unknown origin (a call's result) may be any of them:
// nothing is split. A buffer listed twice is not split either.
// CHECK-LABEL: func.func @unknown_origin
// CHECK: bufferization.dealloc (%{{.*}}, %{{.*}} : memref<4xf32>, memref<4xf32>) if
// CHECK-NOT: bufferization.dealloc
// CHECK-LABEL: func.func @listed_twice
// CHECK: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: bufferization.dealloc (%[[B]] : memref<4xf32>) if (%{{.*}}){{$}}
// CHECK-NEXT: bufferization.dealloc (%[[A]], %[[A]] : memref<4xf32>, memref<4xf32>)
func.func private @make() -> memref<4xf32>
func.func @unknown_origin(%c: i1) {
  %a = memref.alloc() : memref<4xf32>
  %m = call @make() : () -> memref<4xf32>
  bufferization.dealloc (%a, %m : memref<4xf32>, memref<4xf32>) if (%c, %c)
  return
}
func.func @listed_twice(%c: i1) {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  bufferization.dealloc (%a, %a, %b : memref<4xf32>, memref<4xf32>, memref<4xf32>) if (%c, %c, %c)
  return
}
