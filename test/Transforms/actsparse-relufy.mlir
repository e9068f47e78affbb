// RUN: sparse-opt %s --split-input-file --actsparse-relufy | FileCheck %s --check-prefix=RELU
// RUN: sparse-opt %s --split-input-file --actsparse-relufy="mode=shifted-relu shift=0.25" | FileCheck %s --check-prefix=SHIFT
// RUN: sparse-opt %s --split-input-file --actsparse-relufy="mode=fatrelu threshold=0.125" | FileCheck %s --check-prefix=FAT
// RUN: sparse-opt %s --split-input-file --actsparse-relufy="drelu=true" | FileCheck %s --check-prefix=DRELU
// RUN: sparse-opt %s --split-input-file --actsparse-relufy="drelu=true" 2>&1 >/dev/null | FileCheck %s --check-prefix=DRELUWARN
// RUN: sparse-opt %s --split-input-file --actsparse-relufy="stage2=true" | FileCheck %s --check-prefix=STAGE2
// RUN: sparse-opt %s --split-input-file --actsparse-relufy="mode=threshold threshold=0.5" | FileCheck %s --check-prefix=CATS
// RUN: sparse-opt %s --split-input-file --actsparse-relufy="mode=threshold threshold=0.5 threshold-on=neuron" | FileCheck %s --check-prefix=CATSNEURON
// RUN: sparse-opt %s --split-input-file --actsparse-relufy="mode=fatrelu threshold=0.5 threshold-on=neuron" | FileCheck %s --check-prefix=FATNEURON
// RUN: not sparse-opt %s --split-input-file --actsparse-relufy="mode=gelu" 2>&1 | FileCheck %s --check-prefix=BADMODE
// RUN: not sparse-opt %s --split-input-file --actsparse-relufy="mode=relu threshold-on=neuron" 2>&1 | FileCheck %s --check-prefix=BADON
// RUN: not sparse-opt %s --split-input-file --actsparse-relufy="mode=threshold threshold-on=product" 2>&1 | FileCheck %s --check-prefix=BADONVALUE
// RUN: not sparse-opt %s --split-input-file --actsparse-relufy="threshold=0.5" 2>&1 | FileCheck %s --check-prefix=BADTHRESHOLD

// BADMODE: unknown mode 'gelu' (expected relu, shifted-relu, fatrelu or threshold)
// BADTHRESHOLD: threshold is only meaningful with mode=fatrelu
// BADON: threshold-on=neuron needs mode=fatrelu or mode=threshold
// BADONVALUE: threshold-on must be activation or neuron, not 'product'
// DRELUWARN: warning: dReLU needs a gated FFN; this block has no gate

// A Llama layer: RMSNorm (as exported: x * 1/sqrt(mean(x^2) + eps) * g)
// feeding the attention projections and the SwiGLU block, and the final
// RMSNorm feeding the LM head.
// RELU-LABEL: func.func @llama_layer
// RELU: actsparse.ffn %{{.*}} up %{{.*}} gate %{{.*}} down %{{.*}} activation = relu original = silu layer = 0
// RELU-NOT: actsparse.relu

// SHIFT: %[[S:.*]] = actsparse.constant dense<2.500000e-01> : tensor<f32>
// SHIFT: actsparse.ffn {{.*}} shift %[[S]] activation = relu original = silu

// FAT: actsparse.ffn {{.*}} activation = relu threshold = 1.250000e-01 original = silu

// DRELU: actsparse.ffn {{.*}} activation = relu relu_up original = silu

// CATS: actsparse.ffn {{.*}} activation = silu threshold = 5.000000e-01 layer = 0
// CATSNEURON: actsparse.ffn {{.*}} activation = silu threshold = 5.000000e-01 threshold_on = neuron layer = 0
// FATNEURON: actsparse.ffn {{.*}} activation = relu threshold = 5.000000e-01 threshold_on = neuron original = silu

// The RMSNorm of the layer feeds Q, K, V and the FFN through one ReLU; the
// final norm feeding the LM head keeps its dense output.
// STAGE2-LABEL: func.func @llama_layer
// STAGE2: %[[N1:.*]] = actsparse.mul %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<16xf32>)
// STAGE2-NEXT: %[[R1:.*]] = actsparse.relu %[[N1]]
// STAGE2-NEXT: actsparse.matmul %[[R1]]
// STAGE2-NEXT: actsparse.matmul %[[R1]]
// STAGE2: actsparse.ffn %[[R1]]
// STAGE2: %[[N2:.*]] = actsparse.mul %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<16xf32>)
// STAGE2-NOT: actsparse.relu
// STAGE2: actsparse.matmul %[[N2]]
func.func @llama_layer(%x: tensor<?x16xf32>) -> tensor<?x32xf32> {
  %g1 = actsparse.weight "norm1" : tensor<16xf32>
  %g2 = actsparse.weight "norm2" : tensor<16xf32>
  %wq = actsparse.weight "q" : tensor<16x16xf32>
  %wk = actsparse.weight "k" : tensor<16x16xf32>
  %wg = actsparse.weight "gate" : tensor<16x40xf32>
  %wu = actsparse.weight "up" : tensor<16x40xf32>
  %wd = actsparse.weight "down" : tensor<40x16xf32>
  %head = actsparse.weight "head" : tensor<16x32xf32>
  %two = actsparse.constant dense<2.0> : tensor<f32>
  %eps = actsparse.constant dense<1.0e-5> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %p = actsparse.pow %x, %two : (tensor<?x16xf32>, tensor<f32>) -> tensor<?x16xf32>
  %m = actsparse.reduce_mean %p, axes = [1] keepdims : tensor<?x16xf32> -> tensor<?x1xf32>
  %e = actsparse.add %m, %eps : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %s = actsparse.sqrt %e : tensor<?x1xf32>
  %r = actsparse.div %one, %s : (tensor<f32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %xn = actsparse.mul %x, %r : (tensor<?x16xf32>, tensor<?x1xf32>) -> tensor<?x16xf32>
  %n1 = actsparse.mul %xn, %g1 : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %q = actsparse.matmul %n1, %wq : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %k = actsparse.matmul %n1, %wk : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %qk = actsparse.add %q, %k : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %y = actsparse.ffn %n1 up %wu gate %wg down %wd activation = silu layer = 0 : (tensor<?x16xf32>, tensor<16x40xf32>, tensor<16x40xf32>, tensor<40x16xf32>) -> tensor<?x16xf32>
  %res = actsparse.add %qk, %y : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %p2 = actsparse.pow %res, %two : (tensor<?x16xf32>, tensor<f32>) -> tensor<?x16xf32>
  %m2 = actsparse.reduce_mean %p2, axes = [1] keepdims : tensor<?x16xf32> -> tensor<?x1xf32>
  %e2 = actsparse.add %m2, %eps : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %s2 = actsparse.sqrt %e2 : tensor<?x1xf32>
  %r2 = actsparse.div %one, %s2 : (tensor<f32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %xn2 = actsparse.mul %res, %r2 : (tensor<?x16xf32>, tensor<?x1xf32>) -> tensor<?x16xf32>
  %n2 = actsparse.mul %xn2, %g2 : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  %logits = actsparse.matmul %n2, %head : (tensor<?x16xf32>, tensor<16x32xf32>) -> tensor<?x32xf32>
  return %logits : tensor<?x32xf32>
}

// -----

// GPT-2: LayerNorm feeds the fused QKV projection and the MLP. A plain
// block has no up projection to apply dReLU to: a warning, and ReLU on its
// only projection.
// STAGE2-LABEL: func.func @gpt2_layer
// STAGE2: %[[L:.*]] = actsparse.layer_norm
// STAGE2-NEXT: %[[R:.*]] = actsparse.relu %[[L]]
// STAGE2-NEXT: actsparse.matmul %[[R]]
// STAGE2: actsparse.ffn %[[R]] up
// DRELU-LABEL: func.func @gpt2_layer
// DRELU: actsparse.ffn {{.*}} activation = relu original = gelu_tanh
func.func @gpt2_layer(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %g = actsparse.weight "ln.g" : tensor<8xf32>
  %b = actsparse.weight "ln.b" : tensor<8xf32>
  %wqkv = actsparse.weight "c_attn" : tensor<8x24xf32>
  %wu = actsparse.weight "fc" : tensor<8x32xf32>
  %wd = actsparse.weight "proj" : tensor<32x8xf32>
  %l = actsparse.layer_norm %x, %g, %b axis = 1, epsilon = 1.0e-5 : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %qkv = actsparse.matmul %l, %wqkv : (tensor<?x8xf32>, tensor<8x24xf32>) -> tensor<?x24xf32>
  %y = actsparse.ffn %l up %wu down %wd activation = gelu_tanh layer = 0 : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  %t = actsparse.shape %qkv : tensor<?x24xf32> -> tensor<2xi64>
  return %y : tensor<?x8xf32>
}
