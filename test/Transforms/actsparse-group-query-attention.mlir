// RUN: sparse-opt %s --split-input-file --actsparse-group-query-attention | FileCheck %s
// Attention over key/value heads repeated for their query groups (4 KV
// heads, 2 query heads each) reads the KV heads themselves: the query rows
// of a group are reshaped into one head, and the result back.

// CHECK-LABEL: func.func @repeated_kv
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: tensor<?x8x?x8xf32>, %[[K:[a-z0-9]+]]: tensor<?x4x?x8xf32>, %[[V:[a-z0-9]+]]: tensor<?x4x?x8xf32>
// CHECK-NOT: actsparse.expand
// CHECK-DAG: %[[G:.*]] = actsparse.constant dense<[0, 4, -1, 0]> : tensor<4xi64>
// CHECK-DAG: %[[H:.*]] = actsparse.constant dense<[0, 8, -1, 0]> : tensor<4xi64>
// CHECK: %[[QG:.*]] = actsparse.reshape %[[Q]], %[[G]] : (tensor<?x8x?x8xf32>, tensor<4xi64>) -> tensor<?x4x?x8xf32>
// CHECK: %[[KT:.*]] = actsparse.transpose %[[K]], perm = [0, 1, 3, 2] : tensor<?x4x?x8xf32> -> tensor<?x4x8x?xf32>
// CHECK: %[[S:.*]] = actsparse.matmul %[[QG]], %[[KT]] : (tensor<?x4x?x8xf32>, tensor<?x4x8x?xf32>) -> tensor<?x4x?x?xf32>
// CHECK: %[[SH:.*]] = actsparse.reshape %[[S]], %[[H]] : (tensor<?x4x?x?xf32>, tensor<4xi64>) -> tensor<?x8x?x?xf32>
// CHECK: %[[P:.*]] = actsparse.softmax %[[SH]]
// CHECK: %[[PG:.*]] = actsparse.reshape %[[P]], %[[G]] : (tensor<?x8x?x?xf32>, tensor<4xi64>) -> tensor<?x4x?x?xf32>
// CHECK: %[[O:.*]] = actsparse.matmul %[[PG]], %[[V]] : (tensor<?x4x?x?xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
// CHECK: actsparse.reshape %[[O]], %[[H]] : (tensor<?x4x?x8xf32>, tensor<4xi64>) -> tensor<?x8x?x8xf32>
func.func @repeated_kv(%q: tensor<?x8x?x8xf32>, %k: tensor<?x4x?x8xf32>, %v: tensor<?x4x?x8xf32>,
                       %s5: tensor<5xi64>, %s4: tensor<4xi64>) -> tensor<?x8x?x8xf32> {
  %ku = actsparse.unsqueeze %k, axes = [2] : tensor<?x4x?x8xf32> -> tensor<?x4x1x?x8xf32>
  %ke = actsparse.expand %ku, %s5 : (tensor<?x4x1x?x8xf32>, tensor<5xi64>) -> tensor<?x4x2x?x8xf32>
  %kr = actsparse.reshape %ke, %s4 : (tensor<?x4x2x?x8xf32>, tensor<4xi64>) -> tensor<?x8x?x8xf32>
  %vu = actsparse.unsqueeze %v, axes = [2] : tensor<?x4x?x8xf32> -> tensor<?x4x1x?x8xf32>
  %ve = actsparse.expand %vu, %s5 : (tensor<?x4x1x?x8xf32>, tensor<5xi64>) -> tensor<?x4x2x?x8xf32>
  %vr = actsparse.reshape %ve, %s4 : (tensor<?x4x2x?x8xf32>, tensor<4xi64>) -> tensor<?x8x?x8xf32>
  %kt = actsparse.transpose %kr, perm = [0, 1, 3, 2] : tensor<?x8x?x8xf32> -> tensor<?x8x8x?xf32>
  %scores = actsparse.matmul %q, %kt : (tensor<?x8x?x8xf32>, tensor<?x8x8x?xf32>) -> tensor<?x8x?x?xf32>
  %p = actsparse.softmax %scores, axis = 3 : tensor<?x8x?x?xf32>
  %o = actsparse.matmul %p, %vr : (tensor<?x8x?x?xf32>, tensor<?x8x?x8xf32>) -> tensor<?x8x?x8xf32>
  return %o : tensor<?x8x?x8xf32>
}

// -----

// PyTorch's export of scaled_dot_product_attention scales the transposed
// keys by a one-element factor: the factor moves onto the KV heads
// themselves, before the repetition, which then goes away.
// CHECK-LABEL: func.func @scaled_keys
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: tensor<?x8x?x8xf32>, %[[K:[a-z0-9]+]]: tensor<?x4x?x8xf32>, %{{.*}}: tensor<5xi64>, %{{.*}}: tensor<4xi64>, %[[F:[a-z0-9]+]]: tensor<1xf32>)
// CHECK-NOT: actsparse.expand
// CHECK: %[[KS:.*]] = actsparse.mul %[[K]], %[[F]] : (tensor<?x4x?x8xf32>, tensor<1xf32>) -> tensor<?x4x?x8xf32>
// CHECK: %[[KT:.*]] = actsparse.transpose %[[KS]], perm = [0, 1, 3, 2] : tensor<?x4x?x8xf32> -> tensor<?x4x8x?xf32>
// CHECK: actsparse.matmul %{{.*}}, %[[KT]] : (tensor<?x4x?x8xf32>, tensor<?x4x8x?xf32>) -> tensor<?x4x?x?xf32>
// A factor of more than one element stays where it is.
// CHECK-LABEL: func.func @not_a_scale
// CHECK: actsparse.expand
func.func @scaled_keys(%q: tensor<?x8x?x8xf32>, %k: tensor<?x4x?x8xf32>,
                       %s5: tensor<5xi64>, %s4: tensor<4xi64>, %f: tensor<1xf32>) -> tensor<?x8x?x?xf32> {
  %ku = actsparse.unsqueeze %k, axes = [2] : tensor<?x4x?x8xf32> -> tensor<?x4x1x?x8xf32>
  %ke = actsparse.expand %ku, %s5 : (tensor<?x4x1x?x8xf32>, tensor<5xi64>) -> tensor<?x4x2x?x8xf32>
  %kr = actsparse.reshape %ke, %s4 : (tensor<?x4x2x?x8xf32>, tensor<4xi64>) -> tensor<?x8x?x8xf32>
  %kt = actsparse.transpose %kr, perm = [0, 1, 3, 2] : tensor<?x8x?x8xf32> -> tensor<?x8x8x?xf32>
  %ks = actsparse.mul %kt, %f : (tensor<?x8x8x?xf32>, tensor<1xf32>) -> tensor<?x8x8x?xf32>
  %scores = actsparse.matmul %q, %ks : (tensor<?x8x?x8xf32>, tensor<?x8x8x?xf32>) -> tensor<?x8x?x?xf32>
  return %scores : tensor<?x8x?x?xf32>
}
func.func @not_a_scale(%q: tensor<?x8x?x8xf32>, %k: tensor<?x4x?x8xf32>,
                       %s5: tensor<5xi64>, %s4: tensor<4xi64>, %f: tensor<8x1xf32>) -> tensor<?x8x?x?xf32> {
  %ku = actsparse.unsqueeze %k, axes = [2] : tensor<?x4x?x8xf32> -> tensor<?x4x1x?x8xf32>
  %ke = actsparse.expand %ku, %s5 : (tensor<?x4x1x?x8xf32>, tensor<5xi64>) -> tensor<?x4x2x?x8xf32>
  %kr = actsparse.reshape %ke, %s4 : (tensor<?x4x2x?x8xf32>, tensor<4xi64>) -> tensor<?x8x?x8xf32>
  %kt = actsparse.transpose %kr, perm = [0, 1, 3, 2] : tensor<?x8x?x8xf32> -> tensor<?x8x8x?xf32>
  %ks = actsparse.mul %kt, %f : (tensor<?x8x8x?xf32>, tensor<8x1xf32>) -> tensor<?x8x8x?xf32>
  %scores = actsparse.matmul %q, %ks : (tensor<?x8x?x8xf32>, tensor<?x8x8x?xf32>) -> tensor<?x8x?x?xf32>
  return %scores : tensor<?x8x?x?xf32>
}

// -----

// Not a repetition of heads: the Expand broadcasts another dimension, the
// unit dimension is not the head group, or the head counts do not match.
// CHECK-LABEL: func.func @not_repeated
// CHECK-COUNT-3: actsparse.expand
// CHECK-NOT: dense<[0, 4, -1, 0]>
func.func @not_repeated(%q: tensor<1x8x1x8xf32>, %k: tensor<1x4x3x8xf32>, %k1: tensor<1x4x1x8xf32>,
                        %s5: tensor<5xi64>, %s4: tensor<4xi64>)
    -> (tensor<1x8x1x3xf32>, tensor<1x8x1x2xf32>, tensor<1x8x1x3xf32>) {
  // The rows are broadcast too (1 -> 2), not only the group.
  %u1 = actsparse.unsqueeze %k1, axes = [2] : tensor<1x4x1x8xf32> -> tensor<1x4x1x1x8xf32>
  %e1 = actsparse.expand %u1, %s5 : (tensor<1x4x1x1x8xf32>, tensor<5xi64>) -> tensor<1x4x2x2x8xf32>
  %r1 = actsparse.reshape %e1, %s4 : (tensor<1x4x2x2x8xf32>, tensor<4xi64>) -> tensor<1x8x2x8xf32>
  %t1 = actsparse.transpose %r1, perm = [0, 1, 3, 2] : tensor<1x8x2x8xf32> -> tensor<1x8x8x2xf32>
  %a1 = actsparse.matmul %q, %t1 : (tensor<1x8x1x8xf32>, tensor<1x8x8x2xf32>) -> tensor<1x8x1x2xf32>
  // Unsqueezed after the rows: [1, 4, 3, 1, 8].
  %u2 = actsparse.unsqueeze %k, axes = [3] : tensor<1x4x3x8xf32> -> tensor<1x4x3x1x8xf32>
  %e2 = actsparse.expand %u2, %s5 : (tensor<1x4x3x1x8xf32>, tensor<5xi64>) -> tensor<1x4x3x2x8xf32>
  %r2 = actsparse.reshape %e2, %s4 : (tensor<1x4x3x2x8xf32>, tensor<4xi64>) -> tensor<1x8x3x8xf32>
  %t2 = actsparse.transpose %r2, perm = [0, 1, 3, 2] : tensor<1x8x3x8xf32> -> tensor<1x8x8x3xf32>
  %a2 = actsparse.matmul %q, %t2 : (tensor<1x8x1x8xf32>, tensor<1x8x8x3xf32>) -> tensor<1x8x1x3xf32>
  // A transpose that is not the keys' [0, 1, 3, 2].
  %u3 = actsparse.unsqueeze %k, axes = [2] : tensor<1x4x3x8xf32> -> tensor<1x4x1x3x8xf32>
  %e3 = actsparse.expand %u3, %s5 : (tensor<1x4x1x3x8xf32>, tensor<5xi64>) -> tensor<1x4x2x3x8xf32>
  %r3 = actsparse.reshape %e3, %s4 : (tensor<1x4x2x3x8xf32>, tensor<4xi64>) -> tensor<1x8x3x8xf32>
  %t3 = actsparse.transpose %r3, perm = [0, 2, 1, 3] : tensor<1x8x3x8xf32> -> tensor<1x3x8x8xf32>
  %r3b = actsparse.reshape %t3, %s4 : (tensor<1x3x8x8xf32>, tensor<4xi64>) -> tensor<1x8x8x3xf32>
  %a3 = actsparse.matmul %q, %r3b : (tensor<1x8x1x8xf32>, tensor<1x8x8x3xf32>) -> tensor<1x8x1x3xf32>
  return %a2, %a1, %a3 : tensor<1x8x1x3xf32>, tensor<1x8x1x2xf32>, tensor<1x8x1x3xf32>
}

// -----

// Plain multi-head attention exported through repeat_kv (one query head per
// key/value head): the repeat is the heads themselves, and attention reads
// them directly (on a KV-cache view the Reshape would copy the cache).
// CHECK-LABEL: func.func @single_repeat
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: tensor<?x8x?x8xf32>, %[[K:[a-z0-9]+]]: tensor<?x8x?x8xf32>, %[[V:[a-z0-9]+]]: tensor<?x8x?x8xf32>
// CHECK-NOT: actsparse.reshape
// CHECK: %[[KT:.*]] = actsparse.transpose %[[K]], perm = [0, 1, 3, 2]
// CHECK: %[[S:.*]] = actsparse.matmul %[[Q]], %[[KT]]
// CHECK: %[[P:.*]] = actsparse.softmax %[[S]]
// CHECK: actsparse.matmul %[[P]], %[[V]] : (tensor<?x8x?x?xf32>, tensor<?x8x?x8xf32>) -> tensor<?x8x?x8xf32>
// A single repeat whose Expand also broadcasts the rows is not the heads.
// CHECK-LABEL: func.func @single_repeat_broadcasting_rows
// CHECK: actsparse.expand
// CHECK: actsparse.reshape
func.func @single_repeat(%q: tensor<?x8x?x8xf32>, %k: tensor<?x8x?x8xf32>, %v: tensor<?x8x?x8xf32>,
                         %s5: tensor<5xi64>, %s4: tensor<4xi64>) -> tensor<?x8x?x8xf32> {
  %ku = actsparse.unsqueeze %k, axes = [2] : tensor<?x8x?x8xf32> -> tensor<?x8x1x?x8xf32>
  %ke = actsparse.expand %ku, %s5 : (tensor<?x8x1x?x8xf32>, tensor<5xi64>) -> tensor<?x8x1x?x8xf32>
  %kr = actsparse.reshape %ke, %s4 : (tensor<?x8x1x?x8xf32>, tensor<4xi64>) -> tensor<?x8x?x8xf32>
  %vu = actsparse.unsqueeze %v, axes = [2] : tensor<?x8x?x8xf32> -> tensor<?x8x1x?x8xf32>
  %ve = actsparse.expand %vu, %s5 : (tensor<?x8x1x?x8xf32>, tensor<5xi64>) -> tensor<?x8x1x?x8xf32>
  %vr = actsparse.reshape %ve, %s4 : (tensor<?x8x1x?x8xf32>, tensor<4xi64>) -> tensor<?x8x?x8xf32>
  %kt = actsparse.transpose %kr, perm = [0, 1, 3, 2] : tensor<?x8x?x8xf32> -> tensor<?x8x8x?xf32>
  %scores = actsparse.matmul %q, %kt : (tensor<?x8x?x8xf32>, tensor<?x8x8x?xf32>) -> tensor<?x8x?x?xf32>
  %p = actsparse.softmax %scores, axis = 3 : tensor<?x8x?x?xf32>
  %o = actsparse.matmul %p, %vr : (tensor<?x8x?x?xf32>, tensor<?x8x?x8xf32>) -> tensor<?x8x?x8xf32>
  return %o : tensor<?x8x?x8xf32>
}
func.func @single_repeat_broadcasting_rows(%k1: tensor<1x8x1x8xf32>, %s5: tensor<5xi64>,
                                           %s4: tensor<4xi64>) -> tensor<1x8x2x8xf32> {
  %u = actsparse.unsqueeze %k1, axes = [2] : tensor<1x8x1x8xf32> -> tensor<1x8x1x1x8xf32>
  %e = actsparse.expand %u, %s5 : (tensor<1x8x1x1x8xf32>, tensor<5xi64>) -> tensor<1x8x1x2x8xf32>
  %r = actsparse.reshape %e, %s4 : (tensor<1x8x1x2x8xf32>, tensor<4xi64>) -> tensor<1x8x2x8xf32>
  return %r : tensor<1x8x2x8xf32>
}
