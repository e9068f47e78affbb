// RUN: sparse-opt %s --split-input-file --actsparse-last-position-logits | FileCheck %s
// The classifier product behind `logits` multiplies the last position only:
// its left operand becomes a Gather of row -1 along the positions, and the
// result (and @main's result type) has one position.

// CHECK-LABEL: func.func @main
// CHECK-SAME: %[[H:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-SAME: -> (tensor<?x1x512xf32> {actsparse.name = "logits"}, tensor<?x?x64xf32> {actsparse.name = "hidden"})
// CHECK: %[[LAST:.*]] = actsparse.constant dense<-1> : tensor<1xi64>
// CHECK: %[[ROW:.*]] = actsparse.gather %[[H]], %[[LAST]], axis = 1 : (tensor<?x?x64xf32>, tensor<1xi64>) -> tensor<?x1x64xf32>
// CHECK: %[[L:.*]] = actsparse.matmul %[[ROW]], %{{.*}} : (tensor<?x1x64xf32>, tensor<64x512xf32>) -> tensor<?x1x512xf32>
// CHECK: return %[[L]], %[[H]] : tensor<?x1x512xf32>, tensor<?x?x64xf32>
func.func @main(%h: tensor<?x?x64xf32> {actsparse.name = "h"},
                %w: tensor<64x512xf32> {actsparse.name = "w"})
    -> (tensor<?x?x512xf32> {actsparse.name = "logits"},
        tensor<?x?x64xf32> {actsparse.name = "hidden"}) {
  %l = actsparse.matmul %h, %w : (tensor<?x?x64xf32>, tensor<64x512xf32>) -> tensor<?x?x512xf32>
  return %l, %h : tensor<?x?x512xf32>, tensor<?x?x64xf32>
}

// -----

// Static positions: the result keeps the batch, one position.
// CHECK-LABEL: func.func @main
// CHECK: actsparse.gather %{{.*}}, %{{.*}}, axis = 1 : (tensor<2x7x64xf32>, tensor<1xi64>) -> tensor<2x1x64xf32>
// CHECK: return %{{.*}} : tensor<2x1x512xf32>
func.func @main(%h: tensor<2x7x64xf32> {actsparse.name = "h"},
                %w: tensor<64x512xf32> {actsparse.name = "w"})
    -> (tensor<2x7x512xf32> {actsparse.name = "logits"}) {
  %l = actsparse.matmul %h, %w : (tensor<2x7x64xf32>, tensor<64x512xf32>) -> tensor<2x7x512xf32>
  return %l : tensor<2x7x512xf32>
}

// -----

// The product is read by something else too: every position is needed.
// CHECK-LABEL: func.func @main
// CHECK-NOT: actsparse.gather
// CHECK: return %{{.*}}, %{{.*}} : tensor<?x?x512xf32>, tensor<?x?x1xf32>
func.func @main(%h: tensor<?x?x64xf32> {actsparse.name = "h"},
                %w: tensor<64x512xf32> {actsparse.name = "w"})
    -> (tensor<?x?x512xf32> {actsparse.name = "logits"},
        tensor<?x?x1xf32> {actsparse.name = "mean"}) {
  %l = actsparse.matmul %h, %w : (tensor<?x?x64xf32>, tensor<64x512xf32>) -> tensor<?x?x512xf32>
  %m = actsparse.reduce_mean %l, axes = [2] keepdims : tensor<?x?x512xf32> -> tensor<?x?x1xf32>
  return %l, %m : tensor<?x?x512xf32>, tensor<?x?x1xf32>
}

// -----

// Logits that are not a product of [B, S, K] by [K, V] (here a bias after
// it) are left alone.
// CHECK-LABEL: func.func @main
// CHECK-NOT: actsparse.gather
// CHECK: return %{{.*}} : tensor<?x?x512xf32>
func.func @main(%h: tensor<?x?x64xf32> {actsparse.name = "h"},
                %w: tensor<64x512xf32> {actsparse.name = "w"},
                %b: tensor<512xf32> {actsparse.name = "b"})
    -> (tensor<?x?x512xf32> {actsparse.name = "logits"}) {
  %l = actsparse.matmul %h, %w : (tensor<?x?x64xf32>, tensor<64x512xf32>) -> tensor<?x?x512xf32>
  %y = actsparse.add %l, %b : (tensor<?x?x512xf32>, tensor<512xf32>) -> tensor<?x?x512xf32>
  return %y : tensor<?x?x512xf32>
}

// -----

// A result of another name is not the logits.
// CHECK-LABEL: func.func @main
// CHECK-NOT: actsparse.gather
// CHECK: return %{{.*}} : tensor<?x?x512xf32>
func.func @main(%h: tensor<?x?x64xf32> {actsparse.name = "h"},
                %w: tensor<64x512xf32> {actsparse.name = "w"})
    -> (tensor<?x?x512xf32> {actsparse.name = "scores"}) {
  %l = actsparse.matmul %h, %w : (tensor<?x?x64xf32>, tensor<64x512xf32>) -> tensor<?x?x512xf32>
  return %l : tensor<?x?x512xf32>
}
