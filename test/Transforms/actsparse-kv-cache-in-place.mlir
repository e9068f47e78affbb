// RUN: sparse-opt %s --split-input-file --actsparse-kv-cache-in-place | FileCheck %s
// A result `present = Concat(past, new)` that attention also reads becomes
// an append into a cache argument named like the result; the result goes.

// CHECK-LABEL: func.func @main
// CHECK-SAME: %[[PAST:[a-z0-9]+]]: tensor<?x4x?x8xf32> {actsparse.name = "past_key_values.0.key"}
// CHECK-SAME: %[[NEW:[a-z0-9]+]]: tensor<?x4x?x8xf32> {actsparse.name = "new"}
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: tensor<?x4x?x8xf32> {actsparse.kv_cache = {axis = 2 : i64, past = "past_key_values.0.key"}, actsparse.name = "present.0.key"}
// CHECK-SAME: -> (tensor<?x4x?x1xf32> {actsparse.name = "logits"}, tensor<4xi64> {actsparse.name = "past_shape"})
// The past's shape is still read from the past.
// CHECK: actsparse.shape %[[PAST]]
// CHECK: %[[KV:.*]] = actsparse.kv_append %[[NEW]] into %[[CACHE]] after %[[PAST]] axis = 2
// CHECK-NOT: actsparse.concat
// CHECK: actsparse.reduce_mean %[[KV]]
// CHECK: return %{{.*}}, %{{.*}} : tensor<?x4x?x1xf32>, tensor<4xi64>
func.func @main(%past: tensor<?x4x?x8xf32> {actsparse.name = "past_key_values.0.key"},
                %new: tensor<?x4x?x8xf32> {actsparse.name = "new"})
    -> (tensor<?x4x?x1xf32> {actsparse.name = "logits"},
        tensor<?x4x?x8xf32> {actsparse.name = "present.0.key"},
        tensor<4xi64> {actsparse.name = "past_shape"}) {
  %s = actsparse.shape %past : tensor<?x4x?x8xf32> -> tensor<4xi64>
  %kv = actsparse.concat %past, %new axis = 2 : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  %r = actsparse.reduce_mean %kv, axes = [3] keepdims : tensor<?x4x?x8xf32> -> tensor<?x4x?x1xf32>
  return %r, %kv, %s : tensor<?x4x?x1xf32>, tensor<?x4x?x8xf32>, tensor<4xi64>
}

// -----

// Only handed back: there is nothing to save, and an append nobody reads
// would be removed with the result.
// CHECK-LABEL: func.func @main
// CHECK-NOT: kv_cache
// CHECK: actsparse.concat
// CHECK: return
func.func @main(%past: tensor<1x4x?x8xf32> {actsparse.name = "past"},
                %new: tensor<1x4x1x8xf32> {actsparse.name = "new"})
    -> (tensor<1x4x?x8xf32> {actsparse.name = "present"}) {
  %kv = actsparse.concat %past, %new axis = 2 : (tensor<1x4x?x8xf32>, tensor<1x4x1x8xf32>) -> tensor<1x4x?x8xf32>
  return %kv : tensor<1x4x?x8xf32>
}

// -----

// The past is also returned as it is, or the Concat does not start with an
// argument, or joins three tensors: left alone.
// CHECK-LABEL: func.func @main
// CHECK-NOT: kv_cache
// CHECK-COUNT-3: actsparse.concat
func.func @main(%past: tensor<1x4x?x8xf32> {actsparse.name = "past"},
                %new: tensor<1x4x1x8xf32> {actsparse.name = "new"})
    -> (tensor<1x4x?x8xf32> {actsparse.name = "a"},
        tensor<1x4x?x8xf32> {actsparse.name = "b"},
        tensor<1x4x?x8xf32> {actsparse.name = "c"},
        tensor<1x4x?x8xf32> {actsparse.name = "same_past"},
        tensor<1x4x?x8xf32> {actsparse.name = "sum"}) {
  %a = actsparse.concat %past, %new axis = 2 : (tensor<1x4x?x8xf32>, tensor<1x4x1x8xf32>) -> tensor<1x4x?x8xf32>
  %b = actsparse.concat %new, %past axis = 2 : (tensor<1x4x1x8xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  %c = actsparse.concat %b, %new, %new axis = 2 : (tensor<1x4x?x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>) -> tensor<1x4x?x8xf32>
  %s1 = actsparse.add %a, %b : (tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  %s = actsparse.add %s1, %c : (tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  return %a, %b, %c, %past, %s : tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>
}
