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

// -----

// Reshape: the shape operand's length is the result rank.
func.func @reshape_rank(%x: tensor<2x3xf32>, %s: tensor<3xi64>) {
  // expected-error @below {{shape operand has 3 elements but the result has rank 2}}
  %0 = actsparse.reshape %x, %s : (tensor<2x3xf32>, tensor<3xi64>) -> tensor<3x2xf32>
  return
}

// -----

// Reshape keeps the element count.
func.func @reshape_count(%x: tensor<2x3xf32>, %s: tensor<2xi64>) {
  // expected-error @below {{changes the number of elements}}
  %0 = actsparse.reshape %x, %s : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2x2xf32>
  return
}

// -----

// Transpose needs a permutation.
func.func @transpose_not_permutation(%x: tensor<2x3xf32>) {
  // expected-error @below {{perm is not a permutation of 0..1}}
  %0 = actsparse.transpose %x, perm = [0, 0] : tensor<2x3xf32> -> tensor<2x2xf32>
  return
}

// -----

// Transpose result dimensions follow the permutation.
func.func @transpose_result(%x: tensor<2x3xf32>) {
  // expected-error @below {{result shape [2x3] does not match the expected shape [3x2]}}
  %0 = actsparse.transpose %x, perm = [1, 0] : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

// Gather: data[:axis] + indices + data[axis+1:].
func.func @gather_result(%t: tensor<10x4xf32>, %i: tensor<5xi64>) {
  // expected-error @below {{result shape [5] does not match the expected shape [5x4]}}
  %0 = actsparse.gather %t, %i, axis = 0 : (tensor<10x4xf32>, tensor<5xi64>) -> tensor<5xf32>
  return
}

// -----

// Axes are normalised by the importer: no negative values in the IR.
func.func @gather_axis(%t: tensor<10x4xf32>, %i: tensor<5xi64>) {
  // expected-error @below {{axis -1 is out of range for rank 2}}
  %0 = actsparse.gather %t, %i, axis = -1 : (tensor<10x4xf32>, tensor<5xi64>) -> tensor<10x5xf32>
  return
}

// -----

// Concat: non-axis dimensions agree.
func.func @concat_mismatch(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) {
  // expected-error @below {{inputs differ in dimension 0 (2 vs 4)}}
  %0 = actsparse.concat %a, %b axis = 1 : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x6xf32>
  return
}

// -----

// Concat: the axis dimension is the sum.
func.func @concat_sum(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) {
  // expected-error @below {{result shape [2x5] does not match the expected shape [2x6]}}
  %0 = actsparse.concat %a, %b axis = 1 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x5xf32>
  return
}

// -----

// kv_append: the rows fit the cache in every other dimension.
func.func @kv_append_heads(%new: tensor<1x2x1x8xf32>, %cache: tensor<1x4x?x8xf32>, %past: tensor<1x4x?x8xf32>) {
  // expected-error @below {{dimension 1 is 2 where the cache has 4}}
  %0 = actsparse.kv_append %new into %cache after %past axis = 2 : tensor<1x2x1x8xf32>, tensor<1x4x?x8xf32> -> tensor<1x4x?x8xf32>
  return
}

// -----

// kv_append: a static cache holds exactly the past and the new rows.
func.func @kv_append_rows(%new: tensor<1x4x1x8xf32>, %cache: tensor<1x4x6x8xf32>, %past: tensor<1x4x4x8xf32>) {
  // expected-error @below {{the cache holds 6 rows along axis 2, not the 4 past and 1 new ones}}
  %0 = actsparse.kv_append %new into %cache after %past axis = 2 : tensor<1x4x1x8xf32>, tensor<1x4x4x8xf32> -> tensor<1x4x6x8xf32>
  return
}

// -----

// kv_append: one rank for all three.
func.func @kv_append_rank(%new: tensor<4x1x8xf32>, %cache: tensor<1x4x?x8xf32>, %past: tensor<1x4x?x8xf32>) {
  // expected-error @below {{rows, cache and past must have the same rank}}
  %0 = actsparse.kv_append %new into %cache after %past axis = 2 : tensor<4x1x8xf32>, tensor<1x4x?x8xf32> -> tensor<1x4x?x8xf32>
  return
}

// -----

// Unsqueeze axes are sorted and unique.
func.func @unsqueeze_unsorted(%x: tensor<3xf32>) {
  // expected-error @below {{axes must be sorted and unique}}
  %0 = actsparse.unsqueeze %x, axes = [1, 0] : tensor<3xf32> -> tensor<1x1x3xf32>
  return
}

// -----

// ReduceMean with keepdims keeps a 1.
func.func @reduce_mean_result(%x: tensor<2x3xf32>) {
  // expected-error @below {{result shape [2] does not match the expected shape [2x1]}}
  %0 = actsparse.reduce_mean %x, axes = [1] keepdims : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

// LayerNorm scale covers the normalised dimensions.
func.func @layer_norm_scale(%x: tensor<2x6xf32>, %g: tensor<5xf32>) {
  // expected-error @below {{scale and bias must broadcast to the normalised shape [6]}}
  %0 = actsparse.layer_norm %x, %g axis = 1, epsilon = 1.0e-5 : (tensor<2x6xf32>, tensor<5xf32>) -> tensor<2x6xf32>
  return
}

// -----

// Softmax axis in range.
func.func @softmax_axis(%x: tensor<2x6xf32>) {
  // expected-error @below {{axis 2 is out of range for rank 2}}
  %0 = actsparse.softmax %x, axis = 2 : tensor<2x6xf32>
  return
}

// -----

// Where broadcasts all three operands.
func.func @where_broadcast(%c: tensor<3xi1>, %a: tensor<4xf32>, %b: tensor<4xf32>) {
  // expected-error @below {{operands don't have broadcast-compatible shapes}}
  %0 = actsparse.where %c, %a, %b : (tensor<3xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Shape returns end - start dimensions.
func.func @shape_range(%x: tensor<?x?x8xf32>) {
  // expected-error @below {{range [2 : 4] must satisfy 0 <= start <= end <= 3}}
  %0 = actsparse.shape %x [2 : 4] : tensor<?x?x8xf32> -> tensor<2xi64>
  return
}

// -----

// ConstantOfShape fills with one value.
func.func @constant_of_shape_value(%s: tensor<2xi64>) {
  // expected-error @below {{value must hold exactly one element}}
  %0 = actsparse.constant_of_shape %s, value = dense<[1.0, 2.0]> : tensor<2xf32> : (tensor<2xi64>) -> tensor<?x?xf32>
  return
}

// -----

// Cast changes the element type only.
func.func @cast_shape(%x: tensor<2x3xi64>) {
  // expected-error @below {{cannot change the shape}}
  %0 = actsparse.cast %x : tensor<2x3xi64> to tensor<3x2xf32>
  return
}

// -----

// Comparisons give i1.
func.func @compare_result(%a: tensor<3xi64>, %b: tensor<3xi64>) {
  // expected-error @below {{result #0 must be ranked tensor of 1-bit signless integer values}}
  %0 = actsparse.less %a, %b : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>
  return
}

// -----

// An FFN's down projection reads one row per neuron.
func.func @ffn_down_rows(%x: tensor<?x8xf32>, %u: tensor<8x32xf32>, %d: tensor<16x8xf32>) {
  // expected-error @below {{rows of down (16) differ from the neurons of up (32)}}
  %0 = actsparse.ffn %x up %u down %d activation = relu : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// Gate and up have one column per neuron each.
func.func @ffn_gate_shape(%x: tensor<?x8xf32>, %u: tensor<8x32xf32>, %g: tensor<8x16xf32>, %d: tensor<32x8xf32>) {
  // expected-error @below {{gate and up must have the same shape}}
  %0 = actsparse.ffn %x up %u gate %g down %d activation = silu : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<8x16xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// A per-neuron shift has one entry per neuron.
func.func @ffn_shift(%x: tensor<?x8xf32>, %u: tensor<8x32xf32>, %d: tensor<32x8xf32>, %s: tensor<8xf32>) {
  // expected-error @below {{shift must be a scalar or have one entry per neuron}}
  %0 = actsparse.ffn %x up %u down %d shift %s activation = relu : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<32x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// dReLU applies ReLU to the up projection of a gated block.
func.func @ffn_drelu_plain(%x: tensor<?x8xf32>, %u: tensor<8x32xf32>, %d: tensor<32x8xf32>) {
  // expected-error @below {{relu_up (dReLU) needs a gated block}}
  %0 = actsparse.ffn %x up %u down %d activation = relu relu_up : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// Thresholds are magnitudes.
func.func @ffn_threshold(%x: tensor<?x8xf32>, %u: tensor<8x32xf32>, %d: tensor<32x8xf32>) {
  // expected-error @below {{threshold must be finite and >= 0}}
  %0 = actsparse.ffn %x up %u down %d activation = relu threshold = -1.0 : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// What a threshold compares means nothing without a threshold.
func.func @ffn_threshold_on(%x: tensor<?x8xf32>, %u: tensor<8x32xf32>, %d: tensor<32x8xf32>) {
  // expected-error @below {{threshold_on needs a threshold}}
  %0 = actsparse.ffn %x up %u down %d activation = silu threshold_on = neuron : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<32x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// The result keeps the input's leading dims and has down's columns.
func.func @ffn_result(%x: tensor<?x8xf32>, %u: tensor<8x32xf32>, %d: tensor<32x4xf32>) {
  // expected-error @below {{result shape [?x8] does not match the expected shape [?x4]}}
  %0 = actsparse.ffn %x up %u down %d activation = relu : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<32x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

// A sliced axis never grows; the others keep their size.
func.func @slice_grows(%x: tensor<4x6xf32>, %s: tensor<1xi64>, %e: tensor<1xi64>) {
  // expected-error @below {{result dimension 1 (7) exceeds the input's (6)}}
  %0 = actsparse.slice %x, %s, %e, axes = [1], steps = [1] : (tensor<4x6xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<4x7xf32>
  return
}

// -----

func.func @slice_kept_axis(%x: tensor<4x6xf32>, %s: tensor<1xi64>, %e: tensor<1xi64>) {
  // expected-error @below {{result shape [3x?] does not match the expected shape [4x?]}}
  %0 = actsparse.slice %x, %s, %e, axes = [1], steps = [1] : (tensor<4x6xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<3x?xf32>
  return
}

// -----

func.func @trilu_rank(%x: tensor<4xf32>) {
  // expected-error @below {{needs an input of rank 2 or more}}
  %0 = actsparse.trilu %x upper : tensor<4xf32>
  return
}

// -----

// updates = indices.shape[:-1] + data.shape[k:] = [2] + [3].
func.func @scatter_updates(%d: tensor<4x3xf32>, %i: tensor<2x1xi64>, %u: tensor<2x4xf32>) {
  // expected-error @below {{updates have shape [2x4], expected [2x3]}}
  %0 = actsparse.scatter_nd %d, %i, %u : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @scatter_index_length(%d: tensor<4x3xf32>, %i: tensor<2x3xi64>, %u: tensor<2xf32>) {
  // expected-error @below {{index length 3 is not in 1..2 (the data rank)}}
  %0 = actsparse.scatter_nd %d, %i, %u : (tensor<4x3xf32>, tensor<2x3xi64>, tensor<2xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @sparse_ffn_row_length(%x: tensor<?x8xf32>, %b: tensor<32x24xf32>) {
  // expected-error @below {{bundle rows of 24 floats, but these fields with 8 inputs and 8 outputs take 32}}
  %0 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down"] activation = relu : (tensor<?x8xf32>, tensor<32x24xf32>) -> tensor<?x8xf32>
  return
}

// -----

// q8_0: three fields of one 34-byte block each (102 bytes) take a 128-byte
// row.
func.func @sparse_ffn_quantized_row_length(%x: tensor<?x8xf32>, %q: tensor<32x64xi8>) {
  // expected-error @below {{bundle rows of 64 bytes, but these fields with 8 inputs and 8 outputs take 128}}
  %0 = actsparse.sparse_ffn %x bundle %q quant = q8_0 fields = ["gate", "up", "down"] activation = relu : (tensor<?x8xf32>, tensor<32x64xi8>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sparse_ffn_i8_without_format(%x: tensor<?x8xf32>, %q: tensor<32x128xi8>) {
  // expected-error @below {{a quantized bundle (quant = ...) is a matrix of i8, and an i8 bundle needs its quant format}}
  %0 = actsparse.sparse_ffn %x bundle %q fields = ["gate", "up", "down"] activation = relu : (tensor<?x8xf32>, tensor<32x128xi8>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sparse_ffn_f32_with_format(%x: tensor<?x8xf32>, %b: tensor<32x32xf32>) {
  // expected-error @below {{a quantized bundle (quant = ...) is a matrix of i8}}
  %0 = actsparse.sparse_ffn %x bundle %b quant = q8_0 fields = ["gate", "up", "down"] activation = relu : (tensor<?x8xf32>, tensor<32x32xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sparse_ffn_gate_pre_and_gate(%x: tensor<?x8xf32>, %b: tensor<32x32xf32>, %g: tensor<?x32xf32>) {
  // expected-error @below {{with gate_pre the rows hold no gate, gate_bias or shift}}
  %0 = actsparse.sparse_ffn %x bundle %b gate_pre %g fields = ["gate", "up", "down"] activation = relu : (tensor<?x8xf32>, tensor<32x32xf32>, tensor<?x32xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sparse_ffn_gate_pre_shape(%x: tensor<?x8xf32>, %b: tensor<32x16xf32>, %g: tensor<?x31xf32>) {
  // expected-error @below {{gate_pre must have the input's leading dimensions and one entry per neuron (32)}}
  %0 = actsparse.sparse_ffn %x bundle %b gate_pre %g fields = ["up", "down"] activation = relu : (tensor<?x8xf32>, tensor<32x16xf32>, tensor<?x31xf32>) -> tensor<?x8xf32>
  return
}

// -----

// The gate apart tells the kernel every activation; a SiLU block's zeros
// are not its gate's.
func.func @sparse_ffn_gate_pre_silu(%x: tensor<?x8xf32>, %b: tensor<32x16xf32>, %g: tensor<?x32xf32>) {
  // expected-error @below {{gate_pre serves blocks whose gate decides their zeros}}
  %0 = actsparse.sparse_ffn %x bundle %b gate_pre %g fields = ["up", "down"] activation = silu : (tensor<?x8xf32>, tensor<32x16xf32>, tensor<?x32xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sparse_ffn_field_order(%x: tensor<?x8xf32>, %b: tensor<32x32xf32>) {
  // expected-error @below {{fields must be a subsequence of}}
  %0 = actsparse.sparse_ffn %x bundle %b fields = ["up", "gate", "down"] activation = relu : (tensor<?x8xf32>, tensor<32x32xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sparse_ffn_no_down(%x: tensor<?x8xf32>, %b: tensor<32x16xf32>) {
  // expected-error @below {{fields must include up and down}}
  %0 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up"] activation = relu : (tensor<?x8xf32>, tensor<32x16xf32>) -> tensor<?x8xf32>
  return
}

// -----

// A SiLU block's zeros are not decided by its gate: no predictor can skip
// its up rows.
func.func @sparse_ffn_predictor_silu(%x: tensor<?x8xf32>, %b: tensor<32x32xf32>) {
  // expected-error @below {{a predictor needs a block whose gate decides its zeros}}
  %0 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down"] activation = silu predictor = exact_gate : (tensor<?x8xf32>, tensor<32x32xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sparse_ffn_scores_without_lowrank(%x: tensor<?x8xf32>, %b: tensor<32x32xf32>, %a: tensor<8x4xf32>, %bb: tensor<4x32xf32>, %c: tensor<32xf32>) {
  // expected-error @below {{scores(A, B, c) go with predictor = lowrank, and only with it}}
  %0 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down"] scores(%a, %bb, %c) activation = relu : (tensor<?x8xf32>, tensor<32x32xf32>, tensor<8x4xf32>, tensor<4x32xf32>, tensor<32xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sparse_ffn_score_shapes(%x: tensor<?x8xf32>, %b: tensor<32x32xf32>, %a: tensor<8x4xf32>, %bb: tensor<4x16xf32>, %c: tensor<32xf32>) {
  // expected-error @below {{scores must be D x r, r x H and H (D = 8, H = 32)}}
  %0 = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down"] scores(%a, %bb, %c) activation = relu predictor = lowrank : (tensor<?x8xf32>, tensor<32x32xf32>, tensor<8x4xf32>, tensor<4x16xf32>, tensor<32xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @dequantize_row_bytes(%q: tensor<4x36xi8>) {
  // expected-error @below {{rows of 64 q8_0 weights take 68 bytes (2 blocks of 34), not 36}}
  %0 = actsparse.dequantize q8_0 %q : tensor<4x36xi8> -> tensor<4x64xf32>
  return
}

// -----

func.func @dequantize_row_bytes_f16(%q: tensor<4x64xi8>) {
  // expected-error @below {{rows of 40 f16 weights take 128 bytes (2 blocks of 64), not 64}}
  %0 = actsparse.dequantize f16 %q : tensor<4x64xi8> -> tensor<4x40xf32>
  return
}

// -----

func.func @dequantize_rows(%q: tensor<4x36xi8>) {
  // expected-error @below {{has 4 rows of blocks for 3 result rows}}
  %0 = actsparse.dequantize q4_0 %q : tensor<4x36xi8> -> tensor<3x64xf32>
  return
}

// -----

func.func @dequantize_dynamic(%q: tensor<?x36xi8>) {
  // expected-error @below {{needs static 2-D input and result}}
  %0 = actsparse.dequantize q4_0 %q : tensor<?x36xi8> -> tensor<?x64xf32>
  return
}

// -----

func.func @dequantize_kind(%q: tensor<4x36xi8>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'kind' [q8_0, q4_0, q4_1, f16, bf16]}}
  %0 = actsparse.dequantize q5_0 %q : tensor<4x36xi8> -> tensor<4x64xf32>
  return
}

// -----

func.func @mod_float(%a: tensor<3xf32>) {
  // expected-error @below {{on floats needs fmod (ONNX's rule)}}
  %0 = actsparse.mod %a, %a : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @reduce_l2_int(%x: tensor<3xi32>) {
  // expected-error @below {{reduce l2 needs a floating-point input}}
  %0 = actsparse.reduce l2 %x, axes = [0] : tensor<3xi32> -> tensor<i32>
  return
}

// -----

func.func @reduce_shape(%x: tensor<2x3xf32>) {
  // expected-error @below {{result shape}}
  %0 = actsparse.reduce max %x, axes = [1] : tensor<2x3xf32> -> tensor<3xf32>
  return
}

// -----

func.func @arg_reduce_kind(%x: tensor<2x3xf32>) {
  // expected-error @below {{kind must be max or min}}
  %0 = actsparse.arg_reduce sum %x, axis = 1 : tensor<2x3xf32> -> tensor<2xi64>
  return
}

// -----

func.func @gather_elements_rank(%x: tensor<2x3xf32>, %i: tensor<2xi64>) {
  // expected-error @below {{indices must have the data's rank}}
  %0 = actsparse.gather_elements %x, %i, axis = 0 : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2xf32>
  return
}

// -----

func.func @top_k_too_many(%x: tensor<2x3xf32>, %k: tensor<1xi64>) {
  // expected-error @below {{k exceeds the axis size}}
  %0:2 = actsparse.top_k %x, %k, axis = 1 : (tensor<2x3xf32>, tensor<1xi64>) -> (tensor<2x4xf32>, tensor<2x4xi64>)
  return
}

// -----

func.func @slice_zero_step(%x: tensor<4xf32>, %s: tensor<1xi64>) {
  // expected-error @below {{steps must be non-zero}}
  %0 = actsparse.slice %x, %s, %s, axes = [0], steps = [0] : (tensor<4xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<?xf32>
  return
}

// -----

func.func @scatter_nd_reduction(%d: tensor<4xf32>, %i: tensor<2x1xi64>, %u: tensor<2xf32>) {
  // expected-error @below {{reduction must be sum, prod, max or min}}
  %0 = actsparse.scatter_nd %d, %i, %u reduction l2 : (tensor<4xf32>, tensor<2x1xi64>, tensor<2xf32>) -> tensor<4xf32>
  return
}
