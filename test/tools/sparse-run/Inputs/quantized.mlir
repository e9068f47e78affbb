module {
  func.func @main(%x: tensor<2x32xf32> {actsparse.name = "x"}, %z: tensor<1xf32> {actsparse.name = "z"})
      -> (tensor<2x2xf32> {actsparse.name = "y"}, tensor<2x32xf32> {actsparse.name = "w8"},
          tensor<1x32xf32> {actsparse.name = "w40"}, tensor<1x32xf32> {actsparse.name = "w41"}) {
    %q8 = actsparse.constant dense<[[0, 36, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [0, 56, -16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]]> : tensor<2x34xi8>
    %q40 = actsparse.constant dense<[[0, 52, 0, 17, 34, 51, 68, 85, 102, 119, -120, -103, -86, -69, -52, -35, -18, -1]]> : tensor<1x18xi8>
    %q41 = actsparse.constant dense<[[0, 56, 0, 60, 0, 17, 34, 51, 68, 85, 102, 119, -120, -103, -86, -69, -52, -35, -18, -1]]> : tensor<1x20xi8>
    %w8 = actsparse.dequantize q8_0 %q8 : tensor<2x34xi8> -> tensor<2x32xf32>
    %wt = actsparse.transpose %w8, perm = [1, 0] : tensor<2x32xf32> -> tensor<32x2xf32>
    %y = actsparse.matmul %x, %wt : (tensor<2x32xf32>, tensor<32x2xf32>) -> tensor<2x2xf32>
    %w40 = actsparse.dequantize q4_0 %q40 : tensor<1x18xi8> -> tensor<1x32xf32>
    %w41 = actsparse.dequantize q4_1 %q41 : tensor<1x20xi8> -> tensor<1x32xf32>
    %o8 = actsparse.add %w8, %z : (tensor<2x32xf32>, tensor<1xf32>) -> tensor<2x32xf32>
    %o40 = actsparse.add %w40, %z : (tensor<1x32xf32>, tensor<1xf32>) -> tensor<1x32xf32>
    %o41 = actsparse.add %w41, %z : (tensor<1x32xf32>, tensor<1xf32>) -> tensor<1x32xf32>
    return %y, %o8, %o40, %o41 : tensor<2x2xf32>, tensor<2x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>
  }
}
