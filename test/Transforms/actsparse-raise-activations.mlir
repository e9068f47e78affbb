// RUN: sparse-opt %s --split-input-file --actsparse-raise-activations | FileCheck %s
// Each case is written the way torch.onnx.export (opsets 13-17) spells the
// activation, or as a variant in association / operand order.

// SiLU as exported: Mul(x, Sigmoid(x)).
// CHECK-LABEL: func.func @silu
// CHECK-NEXT: %[[Y:.*]] = actsparse.silu %arg0 : tensor<?x172xf32>
// CHECK-NEXT: return %[[Y]]
func.func @silu(%x: tensor<?x172xf32>) -> tensor<?x172xf32> {
  %s = actsparse.sigmoid %x : tensor<?x172xf32>
  %y = actsparse.mul %x, %s : (tensor<?x172xf32>, tensor<?x172xf32>) -> tensor<?x172xf32>
  return %y : tensor<?x172xf32>
}

// -----

// SiLU with the operands swapped.
// CHECK-LABEL: func.func @silu_swapped
// CHECK: actsparse.silu %arg0
// CHECK-NOT: actsparse.mul
func.func @silu_swapped(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = actsparse.sigmoid %x : tensor<8xf32>
  %y = actsparse.mul %s, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// Gating by the sigmoid of another value is not SiLU.
// CHECK-LABEL: func.func @sigmoid_gate_not_silu
// CHECK-NOT: actsparse.silu
// CHECK: actsparse.mul
func.func @sigmoid_gate_not_silu(%x: tensor<8xf32>, %g: tensor<8xf32>) -> tensor<8xf32> {
  %s = actsparse.sigmoid %g : tensor<8xf32>
  %y = actsparse.mul %x, %s : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// Exact GELU as torch 1.13 exports nn.GELU():
// Mul(Mul(x, Add(Erf(Div(x, 1.41421354)), 1)), 0.5).
// CHECK-LABEL: func.func @gelu_erf_torch
// CHECK-NEXT: %[[Y:.*]] = actsparse.gelu %arg0 : tensor<?x?x256xf32>
// CHECK-NEXT: return %[[Y]]
func.func @gelu_erf_torch(%x: tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
  %sqrt2 = actsparse.constant dense<1.41421354> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<f32>
  %0 = actsparse.div %x, %sqrt2 : (tensor<?x?x256xf32>, tensor<f32>) -> tensor<?x?x256xf32>
  %1 = actsparse.erf %0 : tensor<?x?x256xf32>
  %2 = actsparse.add %1, %one : (tensor<?x?x256xf32>, tensor<f32>) -> tensor<?x?x256xf32>
  %3 = actsparse.mul %x, %2 : (tensor<?x?x256xf32>, tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
  %4 = actsparse.mul %3, %half : (tensor<?x?x256xf32>, tensor<f32>) -> tensor<?x?x256xf32>
  return %4 : tensor<?x?x256xf32>
}

// -----

// Exact GELU in another association, with x * (1/sqrt 2) and 1 + erf.
// CHECK-LABEL: func.func @gelu_erf_reassociated
// CHECK: actsparse.gelu %arg0 : tensor<4x256xf32>
// CHECK-NOT: tanh
func.func @gelu_erf_reassociated(%x: tensor<4x256xf32>) -> tensor<4x256xf32> {
  %rsqrt2 = actsparse.constant dense<0.707106769> : tensor<1xf32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<f32>
  %hx = actsparse.mul %half, %x : (tensor<f32>, tensor<4x256xf32>) -> tensor<4x256xf32>
  %0 = actsparse.mul %x, %rsqrt2 : (tensor<4x256xf32>, tensor<1xf32>) -> tensor<4x256xf32>
  %1 = actsparse.erf %0 : tensor<4x256xf32>
  %2 = actsparse.add %one, %1 : (tensor<f32>, tensor<4x256xf32>) -> tensor<4x256xf32>
  %3 = actsparse.mul %2, %hx : (tensor<4x256xf32>, tensor<4x256xf32>) -> tensor<4x256xf32>
  return %3 : tensor<4x256xf32>
}

// -----

// GPT-2's gelu_new as exported:
// Mul(Mul(0.5, x), Add(1, Tanh(Mul(0.797884583, Add(x, Mul(0.044715, Pow(x, 3))))))).
// CHECK-LABEL: func.func @gelu_tanh_pow
// CHECK-NEXT: %[[Y:.*]] = actsparse.gelu %arg0 tanh : tensor<?x256xf32>
// CHECK-NEXT: return %[[Y]]
func.func @gelu_tanh_pow(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
  %three = actsparse.constant dense<3.0> : tensor<f32>
  %c = actsparse.constant dense<0.0447149985> : tensor<f32>
  %k = actsparse.constant dense<0.797884583> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<f32>
  %0 = actsparse.pow %x, %three : (tensor<?x256xf32>, tensor<f32>) -> tensor<?x256xf32>
  %1 = actsparse.mul %c, %0 : (tensor<f32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  %2 = actsparse.add %x, %1 : (tensor<?x256xf32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  %3 = actsparse.mul %k, %2 : (tensor<f32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  %4 = actsparse.tanh %3 : tensor<?x256xf32>
  %5 = actsparse.add %one, %4 : (tensor<f32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  %6 = actsparse.mul %half, %x : (tensor<f32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  %7 = actsparse.mul %6, %5 : (tensor<?x256xf32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  return %7 : tensor<?x256xf32>
}

// -----

// tanh GELU with x^3 written as x * x * x.
// CHECK-LABEL: func.func @gelu_tanh_cube_product
// CHECK: actsparse.gelu %arg0 tanh
func.func @gelu_tanh_cube_product(%x: tensor<16xf32>) -> tensor<16xf32> {
  %c = actsparse.constant dense<0.044715> : tensor<f32>
  %k = actsparse.constant dense<0.7978846> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<f32>
  %xx = actsparse.mul %x, %x : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %xxx = actsparse.mul %xx, %x : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %1 = actsparse.mul %xxx, %c : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
  %2 = actsparse.add %1, %x : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %3 = actsparse.mul %2, %k : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
  %4 = actsparse.tanh %3 : tensor<16xf32>
  %5 = actsparse.add %4, %one : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
  %6 = actsparse.mul %x, %5 : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %7 = actsparse.mul %6, %half : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
  return %7 : tensor<16xf32>
}

// -----

// A wrong scale (0.6 instead of 0.5) is not GELU.
// CHECK-LABEL: func.func @gelu_wrong_scale
// CHECK-NOT: actsparse.gelu
// CHECK: return
func.func @gelu_wrong_scale(%x: tensor<8xf32>) -> tensor<8xf32> {
  %sqrt2 = actsparse.constant dense<1.41421354> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %s = actsparse.constant dense<0.6> : tensor<f32>
  %0 = actsparse.div %x, %sqrt2 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %1 = actsparse.erf %0 : tensor<8xf32>
  %2 = actsparse.add %1, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %3 = actsparse.mul %x, %2 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %4 = actsparse.mul %3, %s : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  return %4 : tensor<8xf32>
}

// -----

// erf of another value than the one multiplied is not GELU.
// CHECK-LABEL: func.func @gelu_different_input
// CHECK-NOT: actsparse.gelu
// CHECK: return
func.func @gelu_different_input(%x: tensor<8xf32>, %z: tensor<8xf32>) -> tensor<8xf32> {
  %sqrt2 = actsparse.constant dense<1.41421354> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<f32>
  %0 = actsparse.div %z, %sqrt2 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %1 = actsparse.erf %0 : tensor<8xf32>
  %2 = actsparse.add %1, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %3 = actsparse.mul %x, %2 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %4 = actsparse.mul %3, %half : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  return %4 : tensor<8xf32>
}

// -----

// The tanh form needs the 0.044715 cubic term; 0.05 is something else.
// CHECK-LABEL: func.func @gelu_tanh_wrong_cubic
// CHECK-NOT: actsparse.gelu
// CHECK: return
func.func @gelu_tanh_wrong_cubic(%x: tensor<16xf32>) -> tensor<16xf32> {
  %three = actsparse.constant dense<3.0> : tensor<f32>
  %c = actsparse.constant dense<0.05> : tensor<f32>
  %k = actsparse.constant dense<0.797884583> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<f32>
  %0 = actsparse.pow %x, %three : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
  %1 = actsparse.mul %c, %0 : (tensor<f32>, tensor<16xf32>) -> tensor<16xf32>
  %2 = actsparse.add %x, %1 : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %3 = actsparse.mul %k, %2 : (tensor<f32>, tensor<16xf32>) -> tensor<16xf32>
  %4 = actsparse.tanh %3 : tensor<16xf32>
  %5 = actsparse.add %one, %4 : (tensor<f32>, tensor<16xf32>) -> tensor<16xf32>
  %6 = actsparse.mul %half, %x : (tensor<f32>, tensor<16xf32>) -> tensor<16xf32>
  %7 = actsparse.mul %6, %5 : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  return %7 : tensor<16xf32>
}

// -----

// A 0.5 factor of shape 1x1 broadcasts x from 8 to 1x8: the result is not
// elementwise in x, so it must stay as written.
// CHECK-LABEL: func.func @gelu_shape_changing
// CHECK-NOT: actsparse.gelu
// CHECK: return
func.func @gelu_shape_changing(%x: tensor<8xf32>) -> tensor<1x8xf32> {
  %sqrt2 = actsparse.constant dense<1.41421354> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<1x1xf32>
  %0 = actsparse.div %x, %sqrt2 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %1 = actsparse.erf %0 : tensor<8xf32>
  %2 = actsparse.add %1, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %3 = actsparse.mul %x, %2 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %4 = actsparse.mul %3, %half : (tensor<8xf32>, tensor<1x1xf32>) -> tensor<1x8xf32>
  return %4 : tensor<1x8xf32>
}
