// RUN: sparse-opt %s --split-input-file --verify-diagnostics
// The dialect's discardable attributes (ActSparseDialect::get*AttrName) are
// checked wherever they appear; a misspelt one is an error, not ignored.

// expected-error @below {{'actsparse.weight_pack' belongs on a builtin.module}}
func.func @pack_on_a_function() attributes {actsparse.weight_pack = "m.pack"} {
  return
}

// -----

// expected-error @below {{'actsparse.weight_pack_id' must be a string}}
module attributes {actsparse.weight_pack_id = 7 : i64} {
}

// -----

// expected-error @below {{unknown actsparse attribute 'actsparse.weight_pak'}}
module attributes {actsparse.weight_pak = "m.pack"} {
}

// -----

func.func @stage2_on_a_sigmoid(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{'actsparse.stage2' is a unit attribute of actsparse.relu}}
  %y = actsparse.sigmoid %x {actsparse.stage2} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @refit_of_not_a_string() -> tensor<4xf32> {
  // expected-error @below {{'actsparse.refit_of' is a string attribute of actsparse.weight}}
  %w = actsparse.weight "w" {actsparse.refit_of = 1 : i64} : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// A module as the importer writes it verifies.
module attributes {actsparse.weight_pack = "m.pack", actsparse.weight_pack_id = "0123abcd"} {
  func.func @ok(%x: tensor<4xf32> {actsparse.name = "x"}) -> tensor<4xf32> {
    %y = actsparse.relu %x {actsparse.stage2} : tensor<4xf32>
    return %y : tensor<4xf32>
  }
}
