// Input of the installed-package test (test/install/check-install.sh): a
// SwiGLU FFN chain as the importer writes it. After the consumer's
// fuse-ffn + relufy, one actsparse.ffn with ReLU remains.
// CHECK-LABEL: func.func @block
// CHECK-DAG: %[[G:.*]] = actsparse.weight "gate"
// CHECK-DAG: %[[U:.*]] = actsparse.weight "up"
// CHECK-DAG: %[[D:.*]] = actsparse.weight "down"
// CHECK: %[[Y:.*]] = actsparse.ffn %arg0 up %[[U]] gate %[[G]] down %[[D]] activation = relu original = silu layer = 0
// CHECK-NEXT: return %[[Y]]
// CHECK-NOT: actsparse.silu
func.func @block(%x: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %wg = actsparse.weight "gate" : tensor<32x96xf32>
  %wu = actsparse.weight "up" : tensor<32x96xf32>
  %wd = actsparse.weight "down" : tensor<96x32xf32>
  %g = actsparse.matmul %x, %wg : (tensor<?x32xf32>, tensor<32x96xf32>) -> tensor<?x96xf32>
  %a = actsparse.silu %g : tensor<?x96xf32>
  %u = actsparse.matmul %x, %wu : (tensor<?x32xf32>, tensor<32x96xf32>) -> tensor<?x96xf32>
  %h = actsparse.mul %a, %u : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
  %y = actsparse.matmul %h, %wd : (tensor<?x96xf32>, tensor<96x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
