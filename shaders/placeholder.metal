// placeholder.metal — the catalogue's smoke and specialisation kernel.
//
// mlx-native registers the name `placeholder` without a kernel behind it; this project serves
// every catalogue name for real, so `placeholder` is the smallest useful kernel: it writes a
// ramp whose slope and sign come from two optional function constants. Tests use it to show
// that the registry compiles, specialises and caches correctly (distinct constants give
// distinct results; the same constants in another order give the same pipeline).
//
// Kernel `placeholder`
//   Computes   output[i] = (negate ? -1 : 1) * float(i) * float(step)   for i < n
//   Constants  [[function_constant(100)]] int  step    optional, default 1
//              [[function_constant(200)]] bool negate  optional, default false
//   Bindings   buffer(0) output  device float[n]
//              buffer(1) params  constant PlaceholderParams { uint n; }   (setBytes, 4 bytes)
//   Dtypes     f32 output only. Exact while i * step stays below 2^24 in magnitude.
//   Geometry   threads-grid (n, 1, 1), any threadgroup width (linear split); threads past n
//              return without writing.

#include <metal_stdlib>
using namespace metal;

constant int placeholder_step_value [[function_constant(100)]];
constant bool placeholder_negate_value [[function_constant(200)]];

constant int placeholder_step =
    is_function_constant_defined(placeholder_step_value) ? placeholder_step_value : 1;
constant bool placeholder_negate =
    is_function_constant_defined(placeholder_negate_value) ? placeholder_negate_value : false;

struct PlaceholderParams {
  uint n;  // element count of `output`
};

[[kernel]] void placeholder(
    device float* output [[buffer(0)]],
    constant PlaceholderParams& params [[buffer(1)]],
    uint gid [[thread_position_in_grid]]) {
  if (gid >= params.n) {
    return;
  }
  const float value = float(gid) * float(placeholder_step);
  output[gid] = placeholder_negate ? -value : value;
}
