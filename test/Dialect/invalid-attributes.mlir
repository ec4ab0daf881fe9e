// RUN: pce-opt %s -split-input-file -verify-diagnostics
//
// The dialect's attribute verifier (dialect/PCEAttributes.cpp): one case per
// rule for the `pce.*` attributes on functions, arguments, results, modules
// and the experts' epilogue. Valid uses: attributes.mlir.

// A misspelt argument attribute, with the spelling it is close to.
// expected-error @below {{'func.func' op unknown attribute 'pce.inptu' on argument #0 (did you mean 'pce.input'?)}}
func.func @misspelt_argument(%x: tensor<2xf32> {pce.inptu = "x"}) {
  return
}

// -----

// A name close to none: the verifier lists the names it knows.
// expected-error @below {{'func.func' op unknown attribute 'pce.weights' on result #0; the pce dialect defines pce.input, pce.param, pce.role, pce.output, pce.routing, pce.differentiable, pce.layer_name, pce.training_plan, pce.head}}
func.func @unknown_result(%x: tensor<2xf32> {pce.input = "x"}) -> (tensor<2xf32> {pce.weights = "y"}) {
  return %x : tensor<2xf32>
}

// -----

// expected-error @below {{'func.func' op unknown attribute 'pce.diferentiable' on 'func.func' (did you mean 'pce.differentiable'?)}}
func.func @misspelt_function_attribute() attributes {pce.diferentiable} {
  return
}

// -----

// An argument attribute on a result.
// expected-error @below {{'func.func' op attribute 'pce.input' is a function argument attribute, found on result #0}}
func.func @input_on_result(%x: tensor<2xf32> {pce.input = "x"}) -> (tensor<2xf32> {pce.input = "y"}) {
  return %x : tensor<2xf32>
}

// -----

// A result attribute on a function.
// expected-error @below {{'func.func' op attribute 'pce.output' is a function result attribute (or of the out-parameter a result becomes in bufferization), found on 'func.func'}}
func.func @output_on_function() attributes {pce.output = "y"} {
  return
}

// -----

// An argument attribute on a function.
// expected-error @below {{'func.func' op attribute 'pce.param' is a function argument attribute, found on 'func.func'}}
func.func @param_on_function() attributes {pce.param = "w"} {
  return
}

// -----

// A function attribute on an argument.
// expected-error @below {{'func.func' op attribute 'pce.differentiable' is an attribute of a function, found on argument #0}}
func.func @differentiable_on_argument(%x: tensor<2xf32> {pce.differentiable}) {
  return
}

// -----

func.func @differentiable_on_an_op(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @below {{'arith.addf' op attribute 'pce.differentiable' is an attribute of a function, found on 'arith.addf'}}
  %y = arith.addf %x, %x {pce.differentiable} : tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

// expected-error @below {{'builtin.module' op attribute 'pce.layer_name' is an attribute of a function, found on 'builtin.module'}}
module attributes {pce.layer_name = "layer1"} {
}

// -----

// expected-error @below {{'func.func' op attribute 'pce.training_plan' is an attribute of a builtin.module, found on 'func.func'}}
func.func @plan_on_function() attributes {pce.training_plan = "{}"} {
  return
}

// -----

// A parameter name that is not a string.
// expected-error @below {{'func.func' op attribute 'pce.param' on argument #0 must be a non-empty string (a name), found 3 : i64}}
func.func @param_not_a_string(%w: tensor<2xf32> {pce.param = 3}) {
  return
}

// -----

// expected-error @below {{'func.func' op attribute 'pce.output' on result #0 must be a non-empty string (a name), found ""}}
func.func @empty_output(%x: tensor<2xf32> {pce.input = "x"}) -> (tensor<2xf32> {pce.output = ""}) {
  return %x : tensor<2xf32>
}

// -----

// expected-error @below {{'func.func' op attribute 'pce.routing' on result #0 must be a non-empty string (a name), found unit}}
func.func @routing_unit(%x: tensor<2xf32> {pce.input = "x"}) -> (tensor<2xf32> {pce.routing}) {
  return %x : tensor<2xf32>
}

// -----

// expected-error @below {{'func.func' op attribute 'pce.differentiable' on 'func.func' must be a unit attribute (no value), found true}}
func.func @differentiable_with_value() attributes {pce.differentiable = true} {
  return
}

// -----

// expected-error @below {{'func.func' op attribute 'pce.layer_name' on 'func.func' must be a non-empty string (a name), found ["layer1"]}}
func.func @layer_name_not_a_string() attributes {pce.layer_name = ["layer1"]} {
  return
}

// -----

// expected-error @below {{'builtin.module' op attribute 'pce.training_plan' on 'builtin.module' must be a string, found 1 : i64}}
module attributes {pce.training_plan = 1} {
}

// -----

// An argument is an input or a parameter, never both.
// expected-error @below {{'func.func' op argument #0 has both 'pce.input' and 'pce.param': an argument is an input or a parameter}}
func.func @input_and_param(%x: tensor<2xf32> {pce.input = "x", pce.param = "w"}) {
  return
}

// -----

// expected-error @below {{'func.func' op result #0 has both 'pce.output' and 'pce.routing': a result is an output or routing weights}}
func.func @output_and_routing(%x: tensor<2xf32> {pce.input = "x"}) -> (tensor<2xf32> {pce.output = "y", pce.routing = "r"}) {
  return %x : tensor<2xf32>
}

// -----

// A role is one of runtime/ParameterRole.h's names.
// expected-error @below {{'func.func' op attribute 'pce.role' on argument #0 must be a parameter role (conv_kernel, conv_bias, linear_weight, linear_bias, bn_gamma, bn_beta, bn_running_mean, bn_running_var, embed_weight, embed_bias, router_keys, router_mlp_weight, router_mlp_bias, router_log_tau, expert_kernel, expert_scale, expert_shift, mix_proj_weight, mix_proj_bias, se_weight, se_bias, heatmap_bias), found "kernel"}}
func.func @unknown_role(%w: tensor<2xf32> {pce.param = "w", pce.role = "kernel"}) {
  return
}

// -----

// Only a parameter has a role.
// expected-error @below {{'func.func' op argument #0 has 'pce.role' but no 'pce.param': only a parameter has a role}}
func.func @role_of_an_input(%x: tensor<2xf32> {pce.input = "x", pce.role = "conv_bias"}) {
  return
}

// -----

// expected-error @below {{'func.func' op attribute 'pce.role' is a function argument attribute, found on 'func.func'}}
func.func @role_on_a_function() attributes {pce.role = "conv_bias"} {
  return
}

// -----

// A head that does not parse is reported where it is written.
// expected-error @below {{'builtin.module' op attribute 'pce.head' on 'builtin.module': JSON: byte 8: head.kind: unknown head kind 'panoptic' (expected classification, segmentation or detection)}}
module attributes {pce.head = "{\"kind\":\"panoptic\",\"classes\":2,\"in\":[1]}"} {
}
