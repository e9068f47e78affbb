// A GPT-2 style FFN as the importer produces it from torch.onnx.export:
// up-projection, exact GELU spelled out with Erf, down-projection.
func.func @ffn(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %w_up = actsparse.weight "h.0.mlp.c_fc.weight" : tensor<64x256xf32>
  %w_down = actsparse.weight "h.0.mlp.c_proj.weight" : tensor<256x64xf32>
  %sqrt2 = actsparse.constant dense<1.41421354> : tensor<f32>
  %one = actsparse.constant dense<1.0> : tensor<f32>
  %half = actsparse.constant dense<0.5> : tensor<f32>
  %h = actsparse.matmul %x, %w_up : (tensor<?x?x64xf32>, tensor<64x256xf32>) -> tensor<?x?x256xf32>
  %0 = actsparse.div %h, %sqrt2 : (tensor<?x?x256xf32>, tensor<f32>) -> tensor<?x?x256xf32>
  %1 = actsparse.erf %0 : tensor<?x?x256xf32>
  %2 = actsparse.add %1, %one : (tensor<?x?x256xf32>, tensor<f32>) -> tensor<?x?x256xf32>
  %3 = actsparse.mul %h, %2 : (tensor<?x?x256xf32>, tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
  %a = actsparse.mul %3, %half : (tensor<?x?x256xf32>, tensor<f32>) -> tensor<?x?x256xf32>
  %y = actsparse.matmul %a, %w_down : (tensor<?x?x256xf32>, tensor<256x64xf32>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}
