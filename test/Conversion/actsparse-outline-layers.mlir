// RUN: sparse-opt %s --split-input-file --actsparse-outline-layers=min-ops=3 | FileCheck %s
// The longest stretch that repeats with one period becomes calls of one
// function; a first layer that differs stays inline.

// Four layers, each an attention and an FFN kernel. The first layer does
// not free its input (the model's argument); the other three do, so they
// repeat with a period of 6 ops. Cutting at the FFN's allocation leaves
// one value live across each cut (the attention's output), so each repeat
// takes it, the shared table and its layer's weight, and returns the next
// attention output. The constant the FFN takes is the same in every
// repeat: it is cloned into the function.
// CHECK-LABEL: func.func @layers
// CHECK-SAME: (%[[X:.*]]: memref<4xf32>, %[[W0:.*]]: memref<4xf32>, %[[W1:.*]]: memref<4xf32>, %[[W2:.*]]: memref<4xf32>, %[[W3:.*]]: memref<4xf32>, %[[T:.*]]: memref<4xf32>)
// CHECK: %[[A0:.*]] = memref.alloc()
// CHECK-NEXT: call @attn(%[[X]], %[[W0]], %[[A0]])
// CHECK-NEXT: %[[R0:.*]] = call @actsparse_layer_0(%[[A0]], %[[T]], %[[W1]])
// CHECK-NEXT: %[[R1:.*]] = call @actsparse_layer_0(%[[R0]], %[[T]], %[[W2]])
// CHECK-NEXT: %[[R2:.*]] = call @actsparse_layer_0(%[[R1]], %[[T]], %[[W3]])
// CHECK-NEXT: %[[B3:.*]] = memref.alloc()
// CHECK-NEXT: call @ffn(%[[R2]], %[[T]], %[[B3]], %{{.*}})
// CHECK-NEXT: memref.dealloc %[[R2]]
// CHECK-NEXT: return %[[B3]]
// CHECK: func.func private @actsparse_layer_0(%[[A:.*]]: memref<4xf32>, %[[TT:.*]]: memref<4xf32>, %[[W:.*]]: memref<4xf32>) -> memref<4xf32>
// CHECK-NEXT: %[[C:.*]] = arith.constant 4 : index
// CHECK-NEXT: %[[B:.*]] = memref.alloc()
// CHECK-NEXT: call @ffn(%[[A]], %[[TT]], %[[B]], %[[C]])
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: %[[NEXT:.*]] = memref.alloc()
// CHECK-NEXT: call @attn(%[[B]], %[[W]], %[[NEXT]])
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: return %[[NEXT]]
func.func private @attn(memref<4xf32>, memref<4xf32>, memref<4xf32>)
func.func private @ffn(memref<4xf32>, memref<4xf32>, memref<4xf32>, index)
func.func @layers(%x: memref<4xf32>, %w0: memref<4xf32>, %w1: memref<4xf32>,
                  %w2: memref<4xf32>, %w3: memref<4xf32>,
                  %table: memref<4xf32>) -> memref<4xf32> {
  %c4 = arith.constant 4 : index
  %a0 = memref.alloc() : memref<4xf32>
  call @attn(%x, %w0, %a0) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  %b0 = memref.alloc() : memref<4xf32>
  call @ffn(%a0, %table, %b0, %c4) : (memref<4xf32>, memref<4xf32>, memref<4xf32>, index) -> ()
  memref.dealloc %a0 : memref<4xf32>
  %a1 = memref.alloc() : memref<4xf32>
  call @attn(%b0, %w1, %a1) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  memref.dealloc %b0 : memref<4xf32>
  %b1 = memref.alloc() : memref<4xf32>
  call @ffn(%a1, %table, %b1, %c4) : (memref<4xf32>, memref<4xf32>, memref<4xf32>, index) -> ()
  memref.dealloc %a1 : memref<4xf32>
  %a2 = memref.alloc() : memref<4xf32>
  call @attn(%b1, %w2, %a2) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  memref.dealloc %b1 : memref<4xf32>
  %b2 = memref.alloc() : memref<4xf32>
  call @ffn(%a2, %table, %b2, %c4) : (memref<4xf32>, memref<4xf32>, memref<4xf32>, index) -> ()
  memref.dealloc %a2 : memref<4xf32>
  %a3 = memref.alloc() : memref<4xf32>
  call @attn(%b2, %w3, %a3) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  memref.dealloc %b2 : memref<4xf32>
  %b3 = memref.alloc() : memref<4xf32>
  call @ffn(%a3, %table, %b3, %c4) : (memref<4xf32>, memref<4xf32>, memref<4xf32>, index) -> ()
  memref.dealloc %a3 : memref<4xf32>
  return %b3 : memref<4xf32>
}

// -----

// Equal ops, but the second repeat passes one value where the first
// passes two: it computes something else, and nothing is outlined.
// CHECK-LABEL: func.func @operand_pattern
// CHECK-NOT: actsparse_layer
func.func private @attn(memref<4xf32>, memref<4xf32>, memref<4xf32>)
func.func @operand_pattern(%x: memref<4xf32>, %y: memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  call @attn(%x, %y, %a) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  memref.dealloc %a : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  call @attn(%x, %x, %b) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  memref.dealloc %b : memref<4xf32>
  return
}

// -----

// A stack buffer read after its repeat cannot move into a function.
// CHECK-LABEL: func.func @stack_buffer_escapes
// CHECK-NOT: actsparse_layer
func.func private @attn(memref<4xf32>, memref<4xf32>, memref<4xf32>)
func.func private @norm(memref<4xf32>)
func.func @stack_buffer_escapes(%x: memref<4xf32>, %w: memref<4xf32>) {
  %a = memref.alloca() : memref<4xf32>
  call @attn(%x, %w, %a) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  call @norm(%a) : (memref<4xf32>) -> ()
  %b = memref.alloca() : memref<4xf32>
  call @attn(%a, %w, %b) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  call @norm(%b) : (memref<4xf32>) -> ()
  %c = memref.alloca() : memref<4xf32>
  call @attn(%b, %w, %c) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  call @norm(%c) : (memref<4xf32>) -> ()
  call @attn(%c, %w, %x) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  return
}

// -----

// The same with heap buffers is outlined: three repeats of three ops.
// CHECK-LABEL: func.func @heap_buffers
// CHECK-COUNT-3: call @actsparse_layer_0
// CHECK-NEXT: call @attn
func.func private @attn(memref<4xf32>, memref<4xf32>, memref<4xf32>)
func.func private @norm(memref<4xf32>)
func.func @heap_buffers(%x: memref<4xf32>, %w: memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  call @attn(%x, %w, %a) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  call @norm(%a) : (memref<4xf32>) -> ()
  %b = memref.alloc() : memref<4xf32>
  call @attn(%a, %w, %b) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  call @norm(%b) : (memref<4xf32>) -> ()
  %c = memref.alloc() : memref<4xf32>
  call @attn(%b, %w, %c) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  call @norm(%c) : (memref<4xf32>) -> ()
  call @attn(%c, %w, %x) : (memref<4xf32>, memref<4xf32>, memref<4xf32>) -> ()
  return
}

// -----

// A constant is a value, not an identity: the first repeat passes 1 both
// as the layer number and as a stride, the others pass 2 and 3 as the
// layer number. The layer number becomes an argument; the stride, 1 in
// every repeat, is cloned in.
// CHECK-LABEL: func.func @layer_numbers
// CHECK-SAME: (%[[X:.*]]: memref<4xf32>)
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : i64
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : i64
// CHECK-DAG: %[[C3:.*]] = arith.constant 3 : i64
// CHECK: call @actsparse_layer_0(%[[X]], %[[C1]])
// CHECK-NEXT: call @actsparse_layer_0(%[[X]], %[[C2]])
// CHECK-NEXT: call @actsparse_layer_0(%[[X]], %[[C3]])
// CHECK-NEXT: return
// CHECK: func.func private @actsparse_layer_0(%[[IN:.*]]: memref<4xf32>, %[[LAYER:.*]]: i64)
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1 : i64
// CHECK-NEXT: call @probe(%[[IN]], %[[LAYER]], %[[ONE]])
// CHECK-NEXT: call @norm(%[[IN]])
// CHECK-NEXT: call @norm(%[[IN]])
// CHECK-NEXT: return
func.func private @probe(memref<4xf32>, i64, i64)
func.func private @norm(memref<4xf32>)
func.func @layer_numbers(%x: memref<4xf32>) {
  %c1 = arith.constant 1 : i64
  call @probe(%x, %c1, %c1) : (memref<4xf32>, i64, i64) -> ()
  call @norm(%x) : (memref<4xf32>) -> ()
  call @norm(%x) : (memref<4xf32>) -> ()
  %c2 = arith.constant 2 : i64
  call @probe(%x, %c2, %c1) : (memref<4xf32>, i64, i64) -> ()
  call @norm(%x) : (memref<4xf32>) -> ()
  call @norm(%x) : (memref<4xf32>) -> ()
  %c3 = arith.constant 3 : i64
  call @probe(%x, %c3, %c1) : (memref<4xf32>, i64, i64) -> ()
  call @norm(%x) : (memref<4xf32>) -> ()
  call @norm(%x) : (memref<4xf32>) -> ()
  return
}
