// RUN: sparse-opt %s --actsparse-unshare-destinations | FileCheck %s
// Every destination gets an init of its own: a tensor.empty or a
// linalg.fill (with its own tensor.empty) that CSE had merged is cloned
// right before each user but one. Dynamic sizes come along.

#id = affine_map<(d0) -> (d0)>
#red = affine_map<(d0) -> ()>

// CHECK-LABEL: func.func @shared
// CHECK: %[[E1:.*]] = tensor.empty() : tensor<4xf32>
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[E1]] : tensor<4xf32>)
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<4xf32>
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[E2]] : tensor<4xf32>)
// CHECK: %[[D1:.*]] = tensor.empty(%[[N:.*]]) : tensor<?xf32>
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[D1]] : tensor<?xf32>)
// CHECK: %[[D2:.*]] = tensor.empty(%[[N]]) : tensor<?xf32>
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[D2]] : tensor<?xf32>)
// Two reductions from one zero-filled accumulator: two fills, two empties.
// CHECK: %[[Z1:.*]] = tensor.empty() : tensor<f32>
// CHECK-NEXT: %[[F1:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[Z1]] : tensor<f32>)
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[F1]] : tensor<f32>)
// CHECK: %[[Z2:.*]] = tensor.empty() : tensor<f32>
// CHECK-NEXT: %[[F2:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[Z2]] : tensor<f32>)
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[F2]] : tensor<f32>)
// CHECK-NOT: tensor.empty
func.func @shared(%x: tensor<4xf32>, %y: tensor<?xf32>, %n: index)
    -> (tensor<4xf32>, tensor<4xf32>, tensor<?xf32>, tensor<?xf32>, tensor<f32>, tensor<f32>) {
  %e = tensor.empty() : tensor<4xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.negf %in : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%a : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.negf %in : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  %d = tensor.empty(%n) : tensor<?xf32>
  %c = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%y : tensor<?xf32>) outs(%d : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.negf %in : f32
    linalg.yield %m : f32
  } -> tensor<?xf32>
  %c2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%c : tensor<?xf32>) outs(%d : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.negf %in : f32
    linalg.yield %m : f32
  } -> tensor<?xf32>
  %zero = arith.constant 0.0 : f32
  %z = tensor.empty() : tensor<f32>
  %f = linalg.fill ins(%zero : f32) outs(%z : tensor<f32>) -> tensor<f32>
  %s1 = linalg.generic {indexing_maps = [#id, #red], iterator_types = ["reduction"]}
      ins(%x : tensor<4xf32>) outs(%f : tensor<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.addf %in, %acc : f32
    linalg.yield %m : f32
  } -> tensor<f32>
  %s2 = linalg.generic {indexing_maps = [#id, #red], iterator_types = ["reduction"]}
      ins(%a : tensor<4xf32>) outs(%f : tensor<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.addf %in, %acc : f32
    linalg.yield %m : f32
  } -> tensor<f32>
  return %a, %b, %c, %c2, %s1, %s2 : tensor<4xf32>, tensor<4xf32>, tensor<?xf32>, tensor<?xf32>, tensor<f32>, tensor<f32>
}
