// RUN: sparse-opt %s --actsparse-lower-to-llvm | FileCheck %s --implicit-check-not='llvm.call @malloc('
// The whole pipeline leaves only the LLVM dialect, with the C interface the
// runtime calls and results the caller frees. Allocations go through the
// runtime's checked allocation function (MLIR's generic one), never malloc
// directly.

// CHECK-NOT: actsparse.
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK-NOT: memref.
// CHECK-DAG: llvm.func @main(
// CHECK-DAG: llvm.func @_mlir_ciface_main(
// CHECK-DAG: llvm.call @_mlir_memref_to_llvm_alloc(
// The weight projection is a call into the runtime kernel for weights laid
// out as GEMM strips, its "set" variant (C = A W), which needs no zero fill
// of the fresh output before it.
// CHECK-DAG: llvm.call @_mlir_ciface_actsparse_rt_matmul_panels_set_f32(
// The GELU's kernel (actsparse-parallel-kernels) runs through the
// runtime's parallel-for: its arguments in a stack slot, a task function
// that loads them (two 2-D descriptors, 14 words) and calls the chunk
// function for chunk t of T.
// CHECK-DAG: %[[SLOT:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(ptr, ptr, i64, i64, i64, i64, i64, ptr, ptr, i64, i64, i64, i64, i64)>
// CHECK-DAG: llvm.call @actsparse_rt_parallel_for(%{{.*}}, %[[SLOT]], %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK-DAG: llvm.func @[[KERNEL:actsparse_kernel_[0-9]+]]_task(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64)
// CHECK-DAG: llvm.call @[[KERNEL]]_chunk({{.*}}) : (!llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
func.func @main(%x: tensor<?x4xf32> {actsparse.name = "x"}) -> (tensor<?x5xf32> {actsparse.name = "y"}) {
  %w = actsparse.weight "w" : tensor<4x5xf32>
  %0 = actsparse.matmul %x, %w : (tensor<?x4xf32>, tensor<4x5xf32>) -> tensor<?x5xf32>
  %1 = actsparse.gelu %0 tanh : tensor<?x5xf32>
  return %1 : tensor<?x5xf32>
}
