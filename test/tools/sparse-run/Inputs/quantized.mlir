module {
  func.func @main(%x: tensor<2x32xf32> {actsparse.name = "x"}, %z: tensor<1xf32> {actsparse.name = "z"})
      -> (tensor<2x2xf32> {actsparse.name = "y"}, tensor<2x32xf32> {actsparse.name = "w8"},
          tensor<1x32xf32> {actsparse.name = "w40"}, tensor<1x32xf32> {actsparse.name = "w41"},
          tensor<2x1xf32> {actsparse.name = "y16"}, tensor<1x32xf32> {actsparse.name = "w16"},
          tensor<2x1xf32> {actsparse.name = "yb16"}, tensor<1x32xf32> {actsparse.name = "wb16"}) {
    %q8 = actsparse.constant dense<[[0, 36, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [0, 56, -16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]]> : tensor<2x34xi8>
    %q40 = actsparse.constant dense<[[0, 52, 0, 17, 34, 51, 68, 85, 102, 119, -120, -103, -86, -69, -52, -35, -18, -1]]> : tensor<1x18xi8>
    %q41 = actsparse.constant dense<[[0, 56, 0, 60, 0, 17, 34, 51, 68, 85, 102, 119, -120, -103, -86, -69, -52, -35, -18, -1]]> : tensor<1x20xi8>
    %q16 = actsparse.constant dense<[[0, -60, -128, -61, 0, -61, -128, -62, 0, -62, -128, -63, 0, -63, -128, -64, 0, -64, 0, -65, 0, -66, 0, -67, 0, -68, 0, -70, 0, -72, 0, -76, 0, 0, 0, 52, 0, 56, 0, 58, 0, 60, 0, 61, 0, 62, 0, 63, 0, 64, -128, 64, 0, 65, -128, 65, 0, 66, -128, 66, 0, 67, -128, 67]]> : tensor<1x64xi8>
    %qb16 = actsparse.constant dense<[[0, 64, -16, 63, -32, 63, -48, 63, -64, 63, -80, 63, -96, 63, -112, 63, -128, 63, 96, 63, 64, 63, 32, 63, 0, 63, -64, 62, -128, 62, 0, 62, 0, 0, 0, -66, -128, -66, -64, -66, 0, -65, 32, -65, 64, -65, 96, -65, -128, -65, -112, -65, -96, -65, -80, -65, -64, -65, -48, -65, -32, -65, -16, -65]]> : tensor<1x64xi8>
    %w8 = actsparse.dequantize q8_0 %q8 : tensor<2x34xi8> -> tensor<2x32xf32>
    %wt = actsparse.transpose %w8, perm = [1, 0] : tensor<2x32xf32> -> tensor<32x2xf32>
    %y = actsparse.matmul %x, %wt : (tensor<2x32xf32>, tensor<32x2xf32>) -> tensor<2x2xf32>
    %w40 = actsparse.dequantize q4_0 %q40 : tensor<1x18xi8> -> tensor<1x32xf32>
    %w41 = actsparse.dequantize q4_1 %q41 : tensor<1x20xi8> -> tensor<1x32xf32>
    %w16 = actsparse.dequantize f16 %q16 : tensor<1x64xi8> -> tensor<1x32xf32>
    %t16 = actsparse.transpose %w16, perm = [1, 0] : tensor<1x32xf32> -> tensor<32x1xf32>
    %y16 = actsparse.matmul %x, %t16 : (tensor<2x32xf32>, tensor<32x1xf32>) -> tensor<2x1xf32>
    %wb16 = actsparse.dequantize bf16 %qb16 : tensor<1x64xi8> -> tensor<1x32xf32>
    %tb16 = actsparse.transpose %wb16, perm = [1, 0] : tensor<1x32xf32> -> tensor<32x1xf32>
    %yb16 = actsparse.matmul %x, %tb16 : (tensor<2x32xf32>, tensor<32x1xf32>) -> tensor<2x1xf32>
    %o16 = actsparse.add %w16, %z : (tensor<1x32xf32>, tensor<1xf32>) -> tensor<1x32xf32>
    %ob16 = actsparse.add %wb16, %z : (tensor<1x32xf32>, tensor<1xf32>) -> tensor<1x32xf32>
    %o8 = actsparse.add %w8, %z : (tensor<2x32xf32>, tensor<1xf32>) -> tensor<2x32xf32>
    %o40 = actsparse.add %w40, %z : (tensor<1x32xf32>, tensor<1xf32>) -> tensor<1x32xf32>
    %o41 = actsparse.add %w41, %z : (tensor<1x32xf32>, tensor<1xf32>) -> tensor<1x32xf32>
    return %y, %o8, %o40, %o41, %y16, %o16, %yb16, %ob16 : tensor<2x2xf32>, tensor<2x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>, tensor<2x1xf32>, tensor<1x32xf32>, tensor<2x1xf32>, tensor<1x32xf32>
  }
}
