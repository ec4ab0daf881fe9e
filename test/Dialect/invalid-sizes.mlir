// RUN: pce-opt %s -split-input-file -verify-diagnostics
//
// Shape arithmetic is checked (shapes::CheckedSizes): a size that would
// exceed the largest tensor dimension (2^63-1) is a diagnostic naming the op
// and the quantity, never a wrapped, negative dimension. The largest legal
// sizes still verify (the last cases).

func.func @patchify_channels(%x: tensor<1x9223372036854775804x1x1xf32>) {
  // expected-error @below {{'pce.patchify' op channels C+4 overflows: 9223372036854775804 + 4 exceeds 9223372036854775807, the largest tensor size}}
  %p = pce.patchify %x patch [1, 1] : tensor<1x9223372036854775804x1x1xf32>
  return
}

// -----

func.func @patchify_patches(%x: tensor<1x1x4294967296x2147483648xf32>) {
  // expected-error @below {{'pce.patchify' op number of patches P = (H/ph)*(W/pw) overflows: 4294967296 * 2147483648 exceeds 9223372036854775807, the largest tensor size}}
  %p = pce.patchify %x patch [1, 1] : tensor<1x1x4294967296x2147483648xf32>
  return
}

// -----

func.func @patchify_halo(%x: tensor<1x1x2x2xf32>) {
  // expected-error @below {{'pce.patchify' op halo 2r overflows: 2 * 4611686018427387904 exceeds 9223372036854775807, the largest tensor size}}
  %p = pce.patchify %x patch [2, 2] radius 4611686018427387904 : tensor<1x1x2x2xf32>
  return
}

// -----

func.func @patchify_elements(%x: tensor<1099511627776x1048572x1x1xf32>) {
  // expected-error @below {{'pce.patchify' op the result [1099511627776, 1, 1048576, 3, 3] would hold more than 9223372036854775807 elements, the largest tensor size}}
  %p = pce.patchify %x patch [1, 1] radius 1 : tensor<1099511627776x1048572x1x1xf32>
  return
}

// -----

func.func @embed_width(%p: tensor<1x1x5x3x3xf32>, %w: tensor<439208192231179801x5xf32>, %b: tensor<439208192231179801xf32>) {
  // expected-error @below {{'pce.embed' op embedding width D = De*sum(l*l) overflows: 439208192231179801 * 21 exceeds 9223372036854775807, the largest tensor size}}
  %e = pce.embed %p, %w, %b radius 1 : tensor<1x1x5x3x3xf32>, tensor<439208192231179801x5xf32>, tensor<439208192231179801xf32>
  return
}

// -----

func.func @embed_levels(%p: tensor<1x1x5x3x3xf32>, %w: tensor<1x5xf32>, %b: tensor<1xf32>) {
  // expected-error @below {{'pce.embed' op SPP bins l*l overflows: 4294967296 * 4294967296 exceeds 9223372036854775807, the largest tensor size}}
  %e = pce.embed %p, %w, %b radius 1 levels [4294967296] : tensor<1x1x5x3x3xf32>, tensor<1x5xf32>, tensor<1xf32>
  return
}

// -----

func.func @experts_elements(%p: tensor<1x1x5x1x1xf32>, %k: tensor<4294967296x2147483648x5x1x1xf32>, %s: tensor<4294967296x2147483648xf32>) {
  // expected-error @below {{'pce.experts' op the result [1, 1, 4294967296, 2147483648, 1, 1] would hold more than 9223372036854775807 elements, the largest tensor size}}
  %y = pce.experts %p, %k affine(%s, %s : tensor<4294967296x2147483648xf32>, tensor<4294967296x2147483648xf32>) : tensor<1x1x5x1x1xf32>, tensor<4294967296x2147483648x5x1x1xf32>
  return
}

// -----

func.func @mix_concat_channels(%w: tensor<1x1x4294967296xf32>, %y: tensor<1x1x4294967296x2147483648x1x1xf32>, %wc: tensor<1x1xf32>, %bc: tensor<1xf32>) {
  // expected-error @below {{'pce.mix' op concatenated channels E*Co overflows: 4294967296 * 2147483648 exceeds 9223372036854775807, the largest tensor size}}
  %m = pce.mix concat %w, %y proj(%wc, %bc : tensor<1x1xf32>, tensor<1xf32>) : tensor<1x1x4294967296xf32>, tensor<1x1x4294967296x2147483648x1x1xf32>
  return
}

// -----

func.func @unpatchify_grid(%m: tensor<1x1x1x1x1xf32>) {
  // expected-error @below {{'pce.unpatchify' op number of patches nph*npw overflows: 4294967296 * 2147483648 exceeds 9223372036854775807, the largest tensor size}}
  %o = pce.unpatchify %m grid [4294967296, 2147483648] : tensor<1x1x1x1x1xf32>
  return
}

// -----

func.func @unpatchify_height(%m: tensor<1x2x1x4611686018427387904x1xf32>) {
  // expected-error @below {{'pce.unpatchify' op output height nph*ph overflows: 2 * 4611686018427387904 exceeds 9223372036854775807, the largest tensor size}}
  %o = pce.unpatchify %m grid [2, 1] : tensor<1x2x1x4611686018427387904x1xf32>
  return
}

// -----

func.func @route_elements(%x: tensor<4294967296x2147483648x1x1x1xf32>) {
  // expected-error @below {{'pce.route' op the result [4294967296, 2147483648, 2] would hold more than 9223372036854775807 elements, the largest tensor size}}
  %r = pce.route uniform %x experts 2 : tensor<4294967296x2147483648x1x1x1xf32>
  return
}

// -----

// The largest legal sizes verify: C+4 = 2^63-1 channels, nph*ph = 2^63-2
// rows, D = De*21 <= 2^63-1.
func.func @largest_legal(%x: tensor<1x9223372036854775803x1x1xf32>,
                         %m: tensor<1x2x1x4611686018427387903x1xf32>,
                         %p: tensor<1x1x5x3x3xf32>, %w: tensor<439208192231179800x5xf32>, %b: tensor<439208192231179800xf32>)
    -> (tensor<1x1x9223372036854775807x1x1xf32>, tensor<1x1x9223372036854775806x1xf32>, tensor<1x1x9223372036854775800xf32>) {
  %q = pce.patchify %x patch [1, 1] : tensor<1x9223372036854775803x1x1xf32>
  %o = pce.unpatchify %m grid [2, 1] : tensor<1x2x1x4611686018427387903x1xf32>
  %e = pce.embed %p, %w, %b radius 1 : tensor<1x1x5x3x3xf32>, tensor<439208192231179800x5xf32>, tensor<439208192231179800xf32>
  return %q, %o, %e : tensor<1x1x9223372036854775807x1x1xf32>, tensor<1x1x9223372036854775806x1xf32>, tensor<1x1x9223372036854775800xf32>
}
