// RUN: sparse-opt %s --split-input-file --verify-diagnostics
// Verifier errors: each case states the invariant it breaks.

// Contracted dimensions must agree.
func.func @matmul_k_mismatch(%a: tensor<4x8xf32>, %b: tensor<9x2xf32>) {
  // expected-error @below {{'actsparse.matmul' op operand shapes [4x8] and [9x2] are incompatible: contracted dimensions differ (8 vs 9)}}
  %0 = actsparse.matmul %a, %b : (tensor<4x8xf32>, tensor<9x2xf32>) -> tensor<4x2xf32>
  return
}

// -----

// Batch dimensions must broadcast.
func.func @matmul_batch_mismatch(%a: tensor<2x4x8xf32>, %b: tensor<3x8x2xf32>) {
  // expected-error @below {{batch dimensions do not broadcast}}
  %0 = actsparse.matmul %a, %b : (tensor<2x4x8xf32>, tensor<3x8x2xf32>) -> tensor<3x4x2xf32>
  return
}

// -----

// The result type must be the MatMul shape.
func.func @matmul_bad_result(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>) {
  // expected-error @below {{result shape [4x3] does not match the MatMul shape [4x2]}}
  %0 = actsparse.matmul %a, %b : (tensor<4x8xf32>, tensor<8x2xf32>) -> tensor<4x3xf32>
  return
}

// -----

// Rank-0 operands have no matrix dimension.
func.func @matmul_scalar(%a: tensor<f32>, %b: tensor<8xf32>) {
  // expected-error @below {{MatMul operands must have rank >= 1}}
  %0 = actsparse.matmul %a, %b : (tensor<f32>, tensor<8xf32>) -> tensor<8xf32>
  return
}

// -----

// Element types must match.
func.func @matmul_mixed_types(%a: tensor<4x8xf32>, %b: tensor<8x2xf16>) {
  // expected-error @below {{requires the same element type for all operands and results}}
  %0 = actsparse.matmul %a, %b : (tensor<4x8xf32>, tensor<8x2xf16>) -> tensor<4x2xf32>
  return
}

// -----

// Broadcasting: 3 and 4 are incompatible.
func.func @add_not_broadcastable(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @below {{operands don't have broadcast-compatible shapes}}
  %0 = actsparse.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

// Broadcasting: the result must have the broadcast shape.
func.func @add_bad_result(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  // expected-error @below {{result type}}
  %0 = actsparse.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return
}

// -----

// Math ops are defined on floats only.
func.func @sqrt_int(%a: tensor<4xi32>) {
  // expected-error @below {{operand #0 must be ranked tensor of floating-point values}}
  %0 = actsparse.sqrt %a : tensor<4xi32>
  return
}

// -----

// A weight reference needs a name.
func.func @weight_unnamed() {
  // expected-error @below {{requires a non-empty weight-pack tensor name}}
  %0 = actsparse.weight "" : tensor<4xf32>
  return
}

// -----

// Weights have static shapes: the pack stores them whole.
func.func @weight_dynamic() {
  // expected-error @below {{result #0 must be statically shaped tensor}}
  %0 = actsparse.weight "w" : tensor<?xf32>
  return
}

// -----

// A constant's value and result types agree.
func.func @constant_type_mismatch() {
  // expected-error @below {{failed to verify that all of {value, result} have same type}}
  %0 = "actsparse.constant"() {value = dense<1.0> : tensor<2xf32>} : () -> tensor<3xf32>
  return
}
