// RUN: sparse-opt %s --split-input-file --actsparse-fuse-ffn | FileCheck %s
// Every FFN spelling the three fixture families export, hand-written
// variants of them, and look-alikes that must stay as they are.

// Llama SwiGLU: down(silu(x W1) * (x W3)).
// CHECK-LABEL: func.func @swiglu
// CHECK-DAG: %[[W1:.*]] = actsparse.weight "w1"
// CHECK-DAG: %[[W2:.*]] = actsparse.weight "w2"
// CHECK-DAG: %[[W3:.*]] = actsparse.weight "w3"
// CHECK: %[[Y:.*]] = actsparse.ffn %arg0 up %[[W3]] gate %[[W1]] down %[[W2]] activation = silu layer = 0
// CHECK-NEXT: return %[[Y]]
func.func @swiglu(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %w1 = actsparse.weight "w1" : tensor<64x172xf32>
  %w2 = actsparse.weight "w2" : tensor<172x64xf32>
  %w3 = actsparse.weight "w3" : tensor<64x172xf32>
  %g = actsparse.matmul %x, %w1 : (tensor<?x?x64xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
  %a = actsparse.silu %g : tensor<?x?x172xf32>
  %u = actsparse.matmul %x, %w3 : (tensor<?x?x64xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
  %h = actsparse.mul %a, %u : (tensor<?x?x172xf32>, tensor<?x?x172xf32>) -> tensor<?x?x172xf32>
  %y = actsparse.matmul %h, %w2 : (tensor<?x?x172xf32>, tensor<172x64xf32>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// -----

// The product in the other order, SiLU spelled x * sigmoid(x) as opset 13
// exports it, and biases on every projection (bias first, then second).
// CHECK-LABEL: func.func @swiglu_swapped_decomposed_biases
// CHECK: actsparse.ffn %arg0 up %{{.*}} gate %{{.*}} down %{{.*}} up_bias %{{.*}} gate_bias %{{.*}} down_bias %{{.*}} activation = silu
// CHECK-NOT: actsparse.sigmoid
// CHECK-NOT: actsparse.matmul
func.func @swiglu_swapped_decomposed_biases(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %wg = actsparse.weight "gate" : tensor<16x40xf32>
  %wu = actsparse.weight "up" : tensor<16x40xf32>
  %wd = actsparse.weight "down" : tensor<40x16xf32>
  %bg = actsparse.weight "gate.bias" : tensor<40xf32>
  %bu = actsparse.weight "up.bias" : tensor<40xf32>
  %bd = actsparse.weight "down.bias" : tensor<16xf32>
  %g0 = actsparse.matmul %x, %wg : (tensor<?x16xf32>, tensor<16x40xf32>) -> tensor<?x40xf32>
  %g = actsparse.add %bg, %g0 : (tensor<40xf32>, tensor<?x40xf32>) -> tensor<?x40xf32>
  %s = actsparse.sigmoid %g : tensor<?x40xf32>
  %a = actsparse.mul %s, %g : (tensor<?x40xf32>, tensor<?x40xf32>) -> tensor<?x40xf32>
  %u0 = actsparse.matmul %x, %wu : (tensor<?x16xf32>, tensor<16x40xf32>) -> tensor<?x40xf32>
  %u = actsparse.add %u0, %bu : (tensor<?x40xf32>, tensor<40xf32>) -> tensor<?x40xf32>
  %h = actsparse.mul %u, %a : (tensor<?x40xf32>, tensor<?x40xf32>) -> tensor<?x40xf32>
  %y0 = actsparse.matmul %h, %wd : (tensor<?x40xf32>, tensor<40x16xf32>) -> tensor<?x16xf32>
  %y = actsparse.add %bd, %y0 : (tensor<16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// GeGLU with exact GELU.
// CHECK-LABEL: func.func @geglu
// CHECK: actsparse.ffn %arg0 up %{{.*}} gate %{{.*}} down %{{.*}} activation = gelu layer = 0
func.func @geglu(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %wg = actsparse.weight "gate" : tensor<16x40xf32>
  %wu = actsparse.weight "up" : tensor<16x40xf32>
  %wd = actsparse.weight "down" : tensor<40x16xf32>
  %g = actsparse.matmul %x, %wg : (tensor<?x16xf32>, tensor<16x40xf32>) -> tensor<?x40xf32>
  %a = actsparse.gelu %g : tensor<?x40xf32>
  %u = actsparse.matmul %x, %wu : (tensor<?x16xf32>, tensor<16x40xf32>) -> tensor<?x40xf32>
  %h = actsparse.mul %a, %u : (tensor<?x40xf32>, tensor<?x40xf32>) -> tensor<?x40xf32>
  %y = actsparse.matmul %h, %wd : (tensor<?x40xf32>, tensor<40x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// GPT-2: tanh GELU, biases added bias-first as torch.onnx.export writes them.
// CHECK-LABEL: func.func @gpt2_mlp
// CHECK: %[[Y:.*]] = actsparse.ffn %arg0 up %{{.*}} down %{{.*}} up_bias %{{.*}} down_bias %{{.*}} activation = gelu_tanh layer = 0
// CHECK-NEXT: %[[R:.*]] = actsparse.add %arg0, %[[Y]]
func.func @gpt2_mlp(%x: tensor<?x?x32xf32>) -> tensor<?x?x32xf32> {
  %wu = actsparse.weight "c_fc.weight" : tensor<32x128xf32>
  %bu = actsparse.weight "c_fc.bias" : tensor<128xf32>
  %wd = actsparse.weight "c_proj.weight" : tensor<128x32xf32>
  %bd = actsparse.weight "c_proj.bias" : tensor<32xf32>
  %u0 = actsparse.matmul %x, %wu : (tensor<?x?x32xf32>, tensor<32x128xf32>) -> tensor<?x?x128xf32>
  %u = actsparse.add %bu, %u0 : (tensor<128xf32>, tensor<?x?x128xf32>) -> tensor<?x?x128xf32>
  %a = actsparse.gelu %u tanh : tensor<?x?x128xf32>
  %y0 = actsparse.matmul %a, %wd : (tensor<?x?x128xf32>, tensor<128x32xf32>) -> tensor<?x?x32xf32>
  %y = actsparse.add %bd, %y0 : (tensor<32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  %r = actsparse.add %x, %y : (tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return %r : tensor<?x?x32xf32>
}

// -----

// OPT: ReLU, biases after the product; two blocks are numbered in order.
// CHECK-LABEL: func.func @opt_two_blocks
// CHECK: %[[A:.*]] = actsparse.ffn %arg0 up {{.*}} activation = relu layer = 0
// CHECK: actsparse.ffn %[[A]] up {{.*}} activation = relu layer = 1
func.func @opt_two_blocks(%x: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %wu = actsparse.weight "fc1.weight" : tensor<32x128xf32>
  %bu = actsparse.weight "fc1.bias" : tensor<128xf32>
  %wd = actsparse.weight "fc2.weight" : tensor<128x32xf32>
  %bd = actsparse.weight "fc2.bias" : tensor<32xf32>
  %u0 = actsparse.matmul %x, %wu : (tensor<?x32xf32>, tensor<32x128xf32>) -> tensor<?x128xf32>
  %u = actsparse.add %u0, %bu : (tensor<?x128xf32>, tensor<128xf32>) -> tensor<?x128xf32>
  %a = actsparse.relu %u : tensor<?x128xf32>
  %y0 = actsparse.matmul %a, %wd : (tensor<?x128xf32>, tensor<128x32xf32>) -> tensor<?x32xf32>
  %y = actsparse.add %y0, %bd : (tensor<?x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
  %v0 = actsparse.matmul %y, %wu : (tensor<?x32xf32>, tensor<32x128xf32>) -> tensor<?x128xf32>
  %b = actsparse.relu %v0 : tensor<?x128xf32>
  %z = actsparse.matmul %b, %wd : (tensor<?x128xf32>, tensor<128x32xf32>) -> tensor<?x32xf32>
  return %z : tensor<?x32xf32>
}

// -----

// Exact GELU decomposed (opset 13) in a plain block.
// CHECK-LABEL: func.func @decomposed_gelu
// CHECK: actsparse.ffn %arg0 up %{{.*}} down %{{.*}} activation = gelu layer = 0
// CHECK-NOT: actsparse.erf
func.func @decomposed_gelu(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %wu = actsparse.weight "up" : tensor<8x32xf32>
  %wd = actsparse.weight "down" : tensor<32x8xf32>
  %u = actsparse.matmul %x, %wu : (tensor<?x8xf32>, tensor<8x32xf32>) -> tensor<?x32xf32>
  %c = actsparse.constant dense<1.41421354> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<f32>
  %d = actsparse.div %u, %c : (tensor<?x32xf32>, tensor<f32>) -> tensor<?x32xf32>
  %e = actsparse.erf %d : tensor<?x32xf32>
  %p = actsparse.add %e, %one : (tensor<?x32xf32>, tensor<f32>) -> tensor<?x32xf32>
  %m = actsparse.mul %u, %p : (tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %a = actsparse.mul %m, %half : (tensor<?x32xf32>, tensor<f32>) -> tensor<?x32xf32>
  %y = actsparse.matmul %a, %wd : (tensor<?x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Attention is not an FFN: projections without an activation, and the
// score and value products multiply activations, not weights.
// CHECK-LABEL: func.func @attention
// CHECK-NOT: actsparse.ffn
func.func @attention(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %wq = actsparse.weight "q" : tensor<16x16xf32>
  %wk = actsparse.weight "k" : tensor<16x16xf32>
  %wv = actsparse.weight "v" : tensor<16x16xf32>
  %wo = actsparse.weight "o" : tensor<16x16xf32>
  %q = actsparse.matmul %x, %wq : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %k = actsparse.matmul %x, %wk : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %v = actsparse.matmul %x, %wv : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %kt = actsparse.transpose %k, perm = [1, 0] : tensor<4x16xf32> -> tensor<16x4xf32>
  %s = actsparse.matmul %q, %kt : (tensor<4x16xf32>, tensor<16x4xf32>) -> tensor<4x4xf32>
  %p = actsparse.softmax %s, axis = 1 : tensor<4x4xf32>
  %c = actsparse.matmul %p, %v : (tensor<4x4xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %o = actsparse.matmul %c, %wo : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  return %o : tensor<4x16xf32>
}

// -----

// An activation over attention scores (a MatMul of two activations) with a
// weight projection after it: the "up" side multiplies no weight.
// CHECK-LABEL: func.func @activation_of_activations
// CHECK-NOT: actsparse.ffn
func.func @activation_of_activations(%q: tensor<4x16xf32>, %k: tensor<16x4xf32>) -> tensor<4x16xf32> {
  %wo = actsparse.weight "o" : tensor<4x16xf32>
  %s = actsparse.matmul %q, %k : (tensor<4x16xf32>, tensor<16x4xf32>) -> tensor<4x4xf32>
  %a = actsparse.relu %s : tensor<4x4xf32>
  %o = actsparse.matmul %a, %wo : (tensor<4x4xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %o : tensor<4x16xf32>
}

// -----

// The up projection is read elsewhere too: fusing would drop that use.
// CHECK-LABEL: func.func @up_has_other_user
// CHECK-NOT: actsparse.ffn
func.func @up_has_other_user(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x32xf32>) {
  %wu = actsparse.weight "up" : tensor<8x32xf32>
  %wd = actsparse.weight "down" : tensor<32x8xf32>
  %u = actsparse.matmul %x, %wu : (tensor<?x8xf32>, tensor<8x32xf32>) -> tensor<?x32xf32>
  %a = actsparse.relu %u : tensor<?x32xf32>
  %y = actsparse.matmul %a, %wd : (tensor<?x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return %y, %u : tensor<?x8xf32>, tensor<?x32xf32>
}

// -----

// The neurons are read elsewhere too.
// CHECK-LABEL: func.func @neurons_have_other_user
// CHECK-NOT: actsparse.ffn
func.func @neurons_have_other_user(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x32xf32>) {
  %wu = actsparse.weight "up" : tensor<8x32xf32>
  %wd = actsparse.weight "down" : tensor<32x8xf32>
  %u = actsparse.matmul %x, %wu : (tensor<?x8xf32>, tensor<8x32xf32>) -> tensor<?x32xf32>
  %a = actsparse.silu %u : tensor<?x32xf32>
  %y = actsparse.matmul %a, %wd : (tensor<?x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return %y, %a : tensor<?x8xf32>, tensor<?x32xf32>
}

// -----

// Gate and up read different inputs.
// CHECK-LABEL: func.func @gate_and_up_differ
// CHECK-NOT: actsparse.ffn
func.func @gate_and_up_differ(%x: tensor<?x16xf32>, %z: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %wg = actsparse.weight "gate" : tensor<16x40xf32>
  %wu = actsparse.weight "up" : tensor<16x40xf32>
  %wd = actsparse.weight "down" : tensor<40x16xf32>
  %g = actsparse.matmul %x, %wg : (tensor<?x16xf32>, tensor<16x40xf32>) -> tensor<?x40xf32>
  %a = actsparse.silu %g : tensor<?x40xf32>
  %u = actsparse.matmul %z, %wu : (tensor<?x16xf32>, tensor<16x40xf32>) -> tensor<?x40xf32>
  %h = actsparse.mul %a, %u : (tensor<?x40xf32>, tensor<?x40xf32>) -> tensor<?x40xf32>
  %y = actsparse.matmul %h, %wd : (tensor<?x40xf32>, tensor<40x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Mismatched shapes that still broadcast: a one-column gate scales every
// neuron alike, and a one-element bias is not one bias per neuron.
// CHECK-LABEL: func.func @mismatched_shapes
// CHECK-NOT: actsparse.ffn
func.func @mismatched_shapes(%x: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %wg = actsparse.weight "gate" : tensor<16x1xf32>
  %wu = actsparse.weight "up" : tensor<16x40xf32>
  %wd = actsparse.weight "down" : tensor<40x16xf32>
  %b1 = actsparse.weight "bias1" : tensor<1xf32>
  %g = actsparse.matmul %x, %wg : (tensor<?x16xf32>, tensor<16x1xf32>) -> tensor<?x1xf32>
  %a = actsparse.silu %g : tensor<?x1xf32>
  %u = actsparse.matmul %x, %wu : (tensor<?x16xf32>, tensor<16x40xf32>) -> tensor<?x40xf32>
  %h = actsparse.mul %a, %u : (tensor<?x1xf32>, tensor<?x40xf32>) -> tensor<?x40xf32>
  %y = actsparse.matmul %h, %wd : (tensor<?x40xf32>, tensor<40x16xf32>) -> tensor<?x16xf32>
  %v0 = actsparse.matmul %y, %wu : (tensor<?x16xf32>, tensor<16x40xf32>) -> tensor<?x40xf32>
  %v = actsparse.add %v0, %b1 : (tensor<?x40xf32>, tensor<1xf32>) -> tensor<?x40xf32>
  %r = actsparse.relu %v : tensor<?x40xf32>
  %z = actsparse.matmul %r, %wd : (tensor<?x40xf32>, tensor<40x16xf32>) -> tensor<?x16xf32>
  return %y, %z : tensor<?x16xf32>, tensor<?x16xf32>
}
