// RUN: sparse-opt %s --split-input-file | FileCheck %s
// RUN: sparse-opt %s --split-input-file | sparse-opt --split-input-file | FileCheck %s
// Round trip of every op's custom assembly format.

// CHECK-LABEL: func.func @values
func.func @values() -> (tensor<f32>, tensor<64x172xf32>) {
  // CHECK: actsparse.constant dense<5.000000e-01> : tensor<f32>
  %c = actsparse.constant dense<0.5> : tensor<f32>
  // CHECK: actsparse.weight "layers.0.w1" : tensor<64x172xf32>
  %w = actsparse.weight "layers.0.w1" : tensor<64x172xf32>
  return %c, %w : tensor<f32>, tensor<64x172xf32>
}

// -----

// CHECK-LABEL: func.func @binary
func.func @binary(%a: tensor<?x64xf32>, %b: tensor<64xf32>, %i: tensor<2xi64>) {
  // CHECK: actsparse.add %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %0 = actsparse.add %a, %b : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // CHECK: actsparse.sub
  %1 = actsparse.sub %b, %a : (tensor<64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  // CHECK: actsparse.mul
  %2 = actsparse.mul %a, %a : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  // CHECK: actsparse.div
  %3 = actsparse.div %a, %b : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // CHECK: actsparse.pow
  %4 = actsparse.pow %a, %b : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // Integer arithmetic appears in exported shape computations.
  // CHECK: actsparse.mul %{{.*}} : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  %5 = actsparse.mul %i, %i : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  return
}

// -----

// CHECK-LABEL: func.func @unary
func.func @unary(%x: tensor<?x?x64xf32>) {
  // CHECK: actsparse.neg %{{.*}} : tensor<?x?x64xf32>
  %0 = actsparse.neg %x : tensor<?x?x64xf32>
  // CHECK: actsparse.sqrt
  %1 = actsparse.sqrt %x : tensor<?x?x64xf32>
  // CHECK: actsparse.reciprocal
  %2 = actsparse.reciprocal %x : tensor<?x?x64xf32>
  // CHECK: actsparse.exp
  %3 = actsparse.exp %x : tensor<?x?x64xf32>
  // CHECK: actsparse.tanh
  %4 = actsparse.tanh %x : tensor<?x?x64xf32>
  // CHECK: actsparse.erf
  %5 = actsparse.erf %x : tensor<?x?x64xf32>
  // CHECK: actsparse.sigmoid
  %6 = actsparse.sigmoid %x : tensor<?x?x64xf32>
  return
}

// -----

// CHECK-LABEL: func.func @activations
func.func @activations(%x: tensor<?x172xf32>) {
  // CHECK: actsparse.relu %{{.*}} : tensor<?x172xf32>
  %0 = actsparse.relu %x : tensor<?x172xf32>
  // CHECK: actsparse.silu %{{.*}} : tensor<?x172xf32>
  %1 = actsparse.silu %x : tensor<?x172xf32>
  // CHECK: actsparse.gelu %{{.*}} : tensor<?x172xf32>
  %2 = actsparse.gelu %x : tensor<?x172xf32>
  // CHECK: actsparse.gelu %{{.*}} tanh : tensor<?x172xf32>
  %3 = actsparse.gelu %x tanh : tensor<?x172xf32>
  // CHECK: actsparse.thresholded_relu %{{.*}}, alpha = 2.500000e-01 : tensor<?x172xf32>
  %4 = actsparse.thresholded_relu %x, alpha = 0.25 : tensor<?x172xf32>
  return
}

// -----

// CHECK-LABEL: func.func @matmul
func.func @matmul(%x: tensor<?x?x64xf32>, %w: tensor<64x172xf32>, %v: tensor<64xf32>,
                  %q: tensor<1x8x?x16xf32>, %k: tensor<1x8x16x?xf32>) {
  // CHECK: actsparse.matmul %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
  %0 = actsparse.matmul %x, %w : (tensor<?x?x64xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
  // A rank-1 operand loses its promoted dimension.
  // CHECK: actsparse.matmul %{{.*}} : (tensor<64xf32>, tensor<64x172xf32>) -> tensor<172xf32>
  %1 = actsparse.matmul %v, %w : (tensor<64xf32>, tensor<64x172xf32>) -> tensor<172xf32>
  // Attention scores: batched with dynamic sequence dimensions.
  // CHECK: actsparse.matmul %{{.*}} -> tensor<1x8x?x?xf32>
  %2 = actsparse.matmul %q, %k : (tensor<1x8x?x16xf32>, tensor<1x8x16x?xf32>) -> tensor<1x8x?x?xf32>
  return
}

// -----

// CHECK-LABEL: func.func @graph_ops
func.func @graph_ops(%x: tensor<?x?x64xf32>, %g: tensor<64xf32>, %ids: tensor<?x?xi64>,
                     %t: tensor<512x64xf32>, %c: tensor<?x?xi1>) {
  // CHECK: actsparse.shape %{{.*}}[1 : 3] : tensor<?x?x64xf32> -> tensor<2xi64>
  %s = actsparse.shape %x [1 : 3] : tensor<?x?x64xf32> -> tensor<2xi64>
  // CHECK: actsparse.shape %{{.*}} : tensor<?x?x64xf32> -> tensor<3xi64>
  %s3 = actsparse.shape %x : tensor<?x?x64xf32> -> tensor<3xi64>
  // CHECK: actsparse.layer_norm %{{.*}}, %{{.*}} axis = 2, epsilon = 9.99999974E-6 : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %n = actsparse.layer_norm %x, %g axis = 2, epsilon = 1.0e-5 : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  // CHECK: actsparse.layer_norm %{{.*}}, %{{.*}}, %{{.*}} axis = 2
  %nb = actsparse.layer_norm %x, %g, %g axis = 2, epsilon = 1.0e-5 : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  // CHECK: actsparse.gather %{{.*}}, %{{.*}}, axis = 0 : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %e = actsparse.gather %t, %ids, axis = 0 : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  // CHECK: actsparse.reshape %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<3xi64>) -> tensor<?x?x64xf32>
  %r = actsparse.reshape %x, %s3 : (tensor<?x?x64xf32>, tensor<3xi64>) -> tensor<?x?x64xf32>
  // CHECK: actsparse.transpose %{{.*}}, perm = [1, 0, 2] : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %tr = actsparse.transpose %x, perm = [1, 0, 2] : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  // CHECK: actsparse.unsqueeze %{{.*}}, axes = [1] : tensor<?x?x64xf32> -> tensor<?x1x?x64xf32>
  %u = actsparse.unsqueeze %x, axes = [1] : tensor<?x?x64xf32> -> tensor<?x1x?x64xf32>
  // CHECK: actsparse.concat %{{.*}}, %{{.*}} axis = 1 : (tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %cc = actsparse.concat %x, %x axis = 1 : (tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  // CHECK: actsparse.kv_append %{{.*}} into %{{.*}} after %{{.*}} axis = 1 : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %kv = actsparse.kv_append %x into %cc after %x axis = 1 : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  // CHECK: actsparse.softmax %{{.*}}, axis = 2 : tensor<?x?x64xf32>
  %sm = actsparse.softmax %x, axis = 2 : tensor<?x?x64xf32>
  // CHECK: actsparse.reduce_mean %{{.*}}, axes = [2] keepdims : tensor<?x?x64xf32> -> tensor<?x?x1xf32>
  %m = actsparse.reduce_mean %x, axes = [2] keepdims : tensor<?x?x64xf32> -> tensor<?x?x1xf32>
  // CHECK: actsparse.expand %{{.*}}, %{{.*}} : (tensor<?x?x1xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  %ex = actsparse.expand %m, %s3 : (tensor<?x?x1xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  // CHECK: actsparse.constant_of_shape %{{.*}}, value = dense<0> : tensor<1xi64> : (tensor<2xi64>) -> tensor<?x?xi64>
  %z = actsparse.constant_of_shape %s, value = dense<0> : tensor<1xi64> : (tensor<2xi64>) -> tensor<?x?xi64>
  // CHECK: actsparse.cast %{{.*}} : tensor<?x?xi64> to tensor<?x?xf32>
  %f = actsparse.cast %z : tensor<?x?xi64> to tensor<?x?xf32>
  // CHECK: actsparse.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x?xi1>, tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %w = actsparse.where %c, %f, %f : (tensor<?x?xi1>, tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %zero = actsparse.constant dense<0> : tensor<i64>
  // CHECK: actsparse.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rg = actsparse.range %zero, %zero, %zero : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  return
}

// -----

// CHECK-LABEL: func.func @ffn
func.func @ffn(%x: tensor<?x?x8xf32>, %u: tensor<8x32xf32>, %g: tensor<8x32xf32>, %d: tensor<32x8xf32>, %s: tensor<32xf32>) {
  // CHECK: actsparse.ffn %{{.*}} up %{{.*}} gate %{{.*}} down %{{.*}} activation = silu layer = 0 :
  %0 = actsparse.ffn %x up %u gate %g down %d activation = silu layer = 0 : (tensor<?x?x8xf32>, tensor<8x32xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x?x8xf32>
  // CHECK: actsparse.ffn %{{.*}} up %{{.*}} gate %{{.*}} down %{{.*}} shift %{{.*}} activation = relu relu_up threshold = 1.250000e-01 threshold_on = neuron original = silu layer = 1 :
  %1 = actsparse.ffn %x up %u gate %g down %d shift %s activation = relu relu_up threshold = 0.125 threshold_on = neuron original = silu layer = 1 : (tensor<?x?x8xf32>, tensor<8x32xf32>, tensor<8x32xf32>, tensor<32x8xf32>, tensor<32xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

// Bundle rows: gate (8) + up (8) + down (8) = 24 floats, padded to 32; with
// a shift, 25 floats, still 32.
// CHECK-LABEL: func.func @sparse_ffn
func.func @sparse_ffn(%x: tensor<?x?x8xf32>, %b: tensor<32x32xf32>, %db: tensor<8xf32>, %a: tensor<8x4xf32>, %bb: tensor<4x32xf32>, %c: tensor<32xf32>) {
  // CHECK: actsparse.sparse_ffn %{{.*}} bundle %{{.*}} fields = ["gate", "up", "down"] activation = relu predictor = exact_gate original = silu layer = 0 :
  %0 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down"] activation = relu predictor = exact_gate original = silu layer = 0 : (tensor<?x?x8xf32>, tensor<32x32xf32>) -> tensor<?x?x8xf32>
  // CHECK: actsparse.sparse_ffn %{{.*}} bundle %{{.*}} fields = ["gate", "up", "down", "shift"] down_bias %{{.*}} scores(%{{.*}}, %{{.*}}, %{{.*}}) activation = relu threshold = 5.000000e-02 predictor = lowrank layer = 1 :
  %1 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down", "shift"] down_bias %db scores(%a, %bb, %c) activation = relu threshold = 0.05 predictor = lowrank layer = 1 : (tensor<?x?x8xf32>, tensor<32x32xf32>, tensor<8xf32>, tensor<8x4xf32>, tensor<4x32xf32>, tensor<32xf32>) -> tensor<?x?x8xf32>
  // CHECK: actsparse.sparse_ffn %{{.*}} bundle %{{.*}} fields = ["gate", "up", "down"] activation = silu threshold = 1.000000e-01 threshold_on = neuron layer = 2 :
  %2 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down"] activation = silu threshold = 0.1 threshold_on = neuron layer = 2 : (tensor<?x?x8xf32>, tensor<32x32xf32>) -> tensor<?x?x8xf32>
  return
}

// A q4_0 bundle row, worked by hand: gate, up and down of 8 weights are one
// 18-byte block each (54 bytes), the shift at byte 56, padded to 64.
// The gate apart: rows of up and down (8 + 8 floats, padded to 16).
// CHECK-LABEL: func.func @sparse_ffn_gate_pre
func.func @sparse_ffn_gate_pre(%x: tensor<?x8xf32>, %b: tensor<32x16xf32>, %g: tensor<?x32xf32>) {
  // CHECK: actsparse.sparse_ffn %{{.*}} bundle %{{.*}} gate_pre %{{.*}} fields = ["up", "down"] activation = relu predictor = exact_gate : (tensor<?x8xf32>, tensor<32x16xf32>, tensor<?x32xf32>) -> tensor<?x8xf32>
  %0 = actsparse.sparse_ffn %x bundle %b gate_pre %g fields = ["up", "down"] activation = relu predictor = exact_gate : (tensor<?x8xf32>, tensor<32x16xf32>, tensor<?x32xf32>) -> tensor<?x8xf32>
  return
}

// CHECK-LABEL: func.func @sparse_ffn_quantized
func.func @sparse_ffn_quantized(%x: tensor<?x8xf32>, %q: tensor<32x64xi8>) {
  // CHECK: actsparse.sparse_ffn %{{.*}} bundle %{{.*}} quant = q4_0 fields = ["gate", "up", "down", "shift"] activation = relu predictor = exact_gate : (tensor<?x8xf32>, tensor<32x64xi8>) -> tensor<?x8xf32>
  %0 = actsparse.sparse_ffn %x bundle %q quant = q4_0 fields = ["gate", "up", "down", "shift"] activation = relu predictor = exact_gate : (tensor<?x8xf32>, tensor<32x64xi8>) -> tensor<?x8xf32>
  return
}

// -----

// CHECK-LABEL: func.func @dequantize
func.func @dequantize(%a: tensor<3x40xi8>, %b: tensor<3x34xi8>) -> (tensor<3x64xf32>, tensor<3x1xf32>) {
  // CHECK: actsparse.dequantize q4_1 %{{.*}} : tensor<3x40xi8> -> tensor<3x64xf32>
  %0 = actsparse.dequantize q4_1 %a : tensor<3x40xi8> -> tensor<3x64xf32>
  // A partial block takes a whole one.
  // CHECK: actsparse.dequantize q8_0 %{{.*}} : tensor<3x34xi8> -> tensor<3x1xf32>
  %1 = actsparse.dequantize q8_0 %b : tensor<3x34xi8> -> tensor<3x1xf32>
  return %0, %1 : tensor<3x64xf32>, tensor<3x1xf32>
}

// -----

// The float kinds: blocks of 32 16-bit floats, 64 bytes.
// CHECK-LABEL: func.func @dequantize_floats
func.func @dequantize_floats(%a: tensor<2x128xi8>) -> (tensor<2x40xf32>, tensor<2x64xf32>) {
  // CHECK: actsparse.dequantize f16 %{{.*}} : tensor<2x128xi8> -> tensor<2x40xf32>
  %0 = actsparse.dequantize f16 %a : tensor<2x128xi8> -> tensor<2x40xf32>
  // CHECK: actsparse.dequantize bf16 %{{.*}} : tensor<2x128xi8> -> tensor<2x64xf32>
  %1 = actsparse.dequantize bf16 %a : tensor<2x128xi8> -> tensor<2x64xf32>
  return %0, %1 : tensor<2x40xf32>, tensor<2x64xf32>
}

// -----

// The ops of the ONNX conformance work (docs/Conformance.md).
// CHECK-LABEL: func.func @conformance_elementwise
func.func @conformance_elementwise(%a: tensor<3xf32>, %i: tensor<3xi32>,
                                   %p: tensor<3xi1>) {
  // CHECK: actsparse.min %{{.*}}, %{{.*}} : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi32>
  %0 = actsparse.min %i, %i : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi32>
  // CHECK: actsparse.mod %{{.*}}, %{{.*}} fmod : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %1 = actsparse.mod %a, %a fmod : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  // CHECK: actsparse.mod %{{.*}}, %{{.*}} : (tensor<3xi32>
  %2 = actsparse.mod %i, %i : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi32>
  // CHECK: actsparse.xor
  %3 = actsparse.xor %p, %p : (tensor<3xi1>, tensor<3xi1>) -> tensor<3xi1>
  // CHECK: actsparse.not %{{.*}} : tensor<3xi1>
  %4 = actsparse.not %p : tensor<3xi1>
  // CHECK: actsparse.is_inf %{{.*}} detect_negative : tensor<3xf32> -> tensor<3xi1>
  %5 = actsparse.is_inf %a detect_negative : tensor<3xf32> -> tensor<3xi1>
  // CHECK: actsparse.is_nan %{{.*}} : tensor<3xf32> -> tensor<3xi1>
  %6 = actsparse.is_nan %a : tensor<3xf32> -> tensor<3xi1>
  // CHECK: actsparse.leaky_relu %{{.*}}, alpha = 1.000000e-01, beta = 0.000000e+00 : tensor<3xf32>
  %7 = actsparse.leaky_relu %a, alpha = 0.1, beta = 0.0 : tensor<3xf32>
  // CHECK: actsparse.abs %{{.*}} : tensor<3xi32>
  %8 = actsparse.abs %i : tensor<3xi32>
  // CHECK: actsparse.atanh %{{.*}} : tensor<3xf32>
  %9 = actsparse.atanh %a : tensor<3xf32>
  return
}

// -----

// CHECK-LABEL: func.func @conformance_reductions
func.func @conformance_reductions(%x: tensor<2x3xf32>, %k: tensor<1xi64>,
                                  %idx: tensor<2x2xi64>) {
  // CHECK: actsparse.reduce log_sum_exp %{{.*}}, axes = [1] keepdims : tensor<2x3xf32> -> tensor<2x1xf32>
  %0 = actsparse.reduce log_sum_exp %x, axes = [1] keepdims : tensor<2x3xf32> -> tensor<2x1xf32>
  // CHECK: actsparse.reduce sum %{{.*}}, axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  %1 = actsparse.reduce sum %x, axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  // CHECK: actsparse.arg_reduce min %{{.*}}, axis = 1 select_last_index : tensor<2x3xf32> -> tensor<2xi64>
  %2 = actsparse.arg_reduce min %x, axis = 1 select_last_index : tensor<2x3xf32> -> tensor<2xi64>
  // CHECK: actsparse.log_softmax %{{.*}}, axis = 0 : tensor<2x3xf32>
  %3 = actsparse.log_softmax %x, axis = 0 : tensor<2x3xf32>
  // CHECK: actsparse.top_k %{{.*}}, %{{.*}}, axis = 1 largest : (tensor<2x3xf32>, tensor<1xi64>) -> (tensor<2x2xf32>, tensor<2x2xi64>)
  %4:2 = actsparse.top_k %x, %k, axis = 1 largest : (tensor<2x3xf32>, tensor<1xi64>) -> (tensor<2x2xf32>, tensor<2x2xi64>)
  // CHECK: actsparse.cumsum %{{.*}}, axis = 1 exclusive reverse : tensor<2x3xf32>
  %5 = actsparse.cumsum %x, axis = 1 exclusive reverse : tensor<2x3xf32>
  // CHECK: actsparse.gather_elements %{{.*}}, %{{.*}}, axis = 1 : (tensor<2x3xf32>, tensor<2x2xi64>) -> tensor<2x2xf32>
  %6 = actsparse.gather_elements %x, %idx, axis = 1 : (tensor<2x3xf32>, tensor<2x2xi64>) -> tensor<2x2xf32>
  return
}

// -----

// CHECK-LABEL: func.func @conformance_scatter_slice
func.func @conformance_scatter_slice(%d: tensor<4x3xf32>, %i: tensor<2x1xi64>,
                                     %u: tensor<2x3xf32>, %s: tensor<1xi64>) {
  // CHECK: actsparse.scatter_nd %{{.*}}, %{{.*}}, %{{.*}} reduction prod : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x3xf32>) -> tensor<4x3xf32>
  %0 = actsparse.scatter_nd %d, %i, %u reduction prod : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x3xf32>) -> tensor<4x3xf32>
  // CHECK: actsparse.slice %{{.*}}, %{{.*}}, %{{.*}}, axes = [0], steps = [-2]
  %1 = actsparse.slice %d, %s, %s, axes = [0], steps = [-2] : (tensor<4x3xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x3xf32>
  return
}
