//===- LoweringUtils.h - helpers of the actsparse lowering ------*- C++ -*-===//
//
// What the lowering patterns of every op family (ToLinalg/*.cpp) share:
// constants and sizes, ONNX broadcasting, the guarded elementwise and
// reduction builders, index checks and the runtime functions generated code
// calls. Internal to the Conversion library; each family's populate
// function is declared at the end and called by ActSparseToLinalg.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_LIB_CONVERSION_TOLINALG_LOWERINGUTILS_H
#define ACTSPARSE_LIB_CONVERSION_TOLINALG_LOWERINGUTILS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::actsparse::lowering {

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

RankedTensorType tensorTypeOf(Value v);

Value indexConst(OpBuilder &b, Location loc, int64_t v);

Value scalarConst(OpBuilder &b, Location loc, Type t, double v);

Value toIndex(OpBuilder &b, Location loc, Value v);

/// Size of dimension `d` of `v`, static when known.
OpFoldResult dimOf(OpBuilder &b, Location loc, Value v, int64_t d);

Value dimValue(OpBuilder &b, Location loc, Value v, int64_t d);

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elt);

/// Result sizes of an ONNX broadcast of `operands` to `type`: static dims as
/// given, dynamic ones from an operand whose aligned dimension is not 1.
SmallVector<OpFoldResult> broadcastSizes(OpBuilder &b, Location loc,
                                         RankedTensorType type,
                                         ValueRange operands);

/// The map reading `operand` inside a broadcast to rank `rank`.
AffineMap broadcastMap(OpBuilder &b, RankedTensorType operand,
                       RankedTensorType result);

/// The private declaration of runtime function `name` in `op`'s module,
/// created on first use.
func::FuncOp getRuntimeFunction(Operation *op, StringRef name,
                                FunctionType type);

/// The runtime kernel `name` (called through its C interface), declared
/// read-only in the tensor arguments `readOnly`, so that bufferization
/// copies nothing for them.
func::FuncOp getRuntimeKernel(Operation *op, StringRef name, FunctionType type,
                              ArrayRef<unsigned> readOnly);

/// The runtime's out-of-range report function.
func::FuncOp getIndexErrorFunction(Operation *op);

/// An operand whose dimensions are only known at run time is read whole
/// along them (broadcastMap), so each must equal the result's size there.
/// ONNX would broadcast such a dimension when it is 1; the importer infers
/// every dimension it can, and what is left is checked here: a mismatch is
/// reported to the runtime (which fails the call) and the operand replaced
/// by a placeholder of the right size, so nothing is read out of bounds and
/// no wrong number is returned silently.
Value guardDynamicDims(OpBuilder &b, Location loc, Value v,
                       RankedTensorType type, ArrayRef<OpFoldResult> sizes);

/// An elementwise linalg.generic over `operands` broadcast to `type`.
Value elementwise(OpBuilder &b, Location loc, RankedTensorType type,
                  ValueRange operandsIn, BodyFn body);

/// Reduces `input` over the sorted `axes`, dropping them from the result,
/// into an accumulator of `init`'s type.
Value reduce(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> axes,
             Value init, BodyFn combine);

/// Map reading a tensor reduced over `axes` from the full iteration space.
AffineMap droppedAxesMap(OpBuilder &b, int64_t rank, ArrayRef<int64_t> axes);

/// Number of elements over `axes` of `v`, as a float of type `t`.
Value countOf(OpBuilder &b, Location loc, Value v, ArrayRef<int64_t> axes,
              Type t);

/// Mean over `axes` (sorted), without the reduced dimensions. f32 sums
/// accumulate in f64: a norm over 576-2048 elements summed in f32 drifts
/// by ~1e-6 relative, which 30 layers turn into 1e-4 on the logits.
Value meanOver(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> axes);

Value sigmoidScalar(OpBuilder &b, Location loc, Value x);

/// ONNX Cast of one element; integers are signed unless the flags say
/// otherwise.
Value castScalar(OpBuilder &b, Location loc, Value x, Type to,
                 bool fromUnsigned = false, bool toUnsigned = false);

/// A tensor<Nxi64> holding index values, the shape operand of tensor.reshape.
Value i64ShapeTensor(OpBuilder &b, Location loc, ArrayRef<Value> dims);

/// `v[d0, ..., dn-1, K]` as a row-major `[d0 * ... * dn-1, K]` view through
/// tensor.reshape (memref.reshape after bufferization), which keeps the
/// leading dims dynamic without strided collapse/expand views. `leading`
/// receives the sizes of the leading dims. K may be dynamic.
Value flattenToRows(OpBuilder &b, Location loc, Value v,
                    SmallVector<Value> &leading);

/// The rows a runtime kernel wrote into `buffer` (a [rows, cols] memref of
/// its own) as a tensor of `type`: the inverse of flattenToRows, with the
/// `leading` sizes it returned; `cols` is the last dimension.
Value fromKernelRows(OpBuilder &b, Location loc, Value buffer,
                     RankedTensorType type, SmallVector<Value> leading,
                     Value cols);

/// Inserts size-1 dimensions at `unitAxes` (positions in `type`) into `src`,
/// whose dimensions are the other ones of `type`, in order.
Value insertUnitDims(OpBuilder &b, Location loc, Value src,
                     ArrayRef<int64_t> unitAxes, RankedTensorType type);

/// `v + size` where `v` is negative: ONNX's from-the-end indices.
Value fromEnd(OpBuilder &b, Location loc, Value v, Value size);

/// An ONNX index into an axis of `size` entries, as generated code may use
/// it: negative values count from the end; one outside the axis is reported
/// to the runtime (`report`, which fails the call) and replaced by 0, so
/// nothing is ever read or written out of bounds.
Value checkedIndex(OpBuilder &b, Location loc, Value idx, Value size,
                   func::FuncOp report);

/// Element `i` of a 1-D integer tensor, as an index.
Value elementAt(OpBuilder &b, Location loc, Value t, int64_t i);

//===----------------------------------------------------------------------===//
// The op families' patterns
//===----------------------------------------------------------------------===//

/// Elementwise ops, activations and casts (Elementwise.cpp).
void populateElementwisePatterns(RewritePatternSet &patterns);
/// MatMul (runtime kernels), Softmax, ReduceMean, LayerNormalization
/// (Reductions.cpp).
void populateReductionPatterns(RewritePatternSet &patterns);
/// actsparse.ffn and actsparse.sparse_ffn (Ffn.cpp).
void populateFfnPatterns(RewritePatternSet &patterns);
/// Gather, Transpose, Reshape, Slice, Trilu, ScatterND, Expand, Unsqueeze,
/// Concat (DataMovement.cpp).
void populateDataMovementPatterns(RewritePatternSet &patterns);
/// Constants, Shape, ConstantOfShape, Range (Shapes.cpp).
void populateShapePatterns(RewritePatternSet &patterns);

} // namespace mlir::actsparse::lowering

#endif // ACTSPARSE_LIB_CONVERSION_TOLINALG_LOWERINGUTILS_H
