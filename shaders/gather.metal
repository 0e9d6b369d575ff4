// gather.metal — row gather: out[i][:] = src[idx[i]][:] (embedding lookups of f32 tables, KV or
// hidden-state reordering by token ids, MoE token gathers).
//
// Kernel gather_f32
//   Computes   out[i][c] = src[idx[i]][c]   for i < n_idx, c < width, when idx[i] < src_rows;
//              a row whose id is out of range (idx[i] >= src_rows) is written as zeros, never
//              read out of bounds (the ids live on the device: the host cannot check them).
//   Bindings   buffer(0) src     float[src_rows * width], row-major
//              buffer(1) idx     uint[n_idx]
//              buffer(2) out     float[n_idx * width]; must not overlap src
//              buffer(3) params  constant GatherParams { uint width, n_idx, src_rows; }
//                                (setBytes, 12 bytes)
//   Geometry   threads-grid (ceil(width / GATHER_N_READS), n_idx, 1), bounds-checked. Each thread
//              moves GATHER_N_READS consecutive floats of one row (a float4 when the row width
//              is a multiple of 4, so rows stay 16-byte aligned; one by one otherwise).

#include <metal_stdlib>
using namespace metal;

// Floats per thread. Mirrored by GATHER_N_READS in ops/_defines.ts (a test reads this line).
constant constexpr uint GATHER_N_READS = 4;

struct GatherParams {
  uint width;     // row length of src and out
  uint n_idx;     // number of ids = rows of out
  uint src_rows;  // rows of src
};

[[kernel]] void gather_f32(
    device const float* src [[buffer(0)]],
    device const uint* idx [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant GatherParams& params [[buffer(3)]],
    uint2 gid [[thread_position_in_grid]]) {
  const uint width = params.width;
  const uint row = gid.y;
  const uint base = gid.x * GATHER_N_READS;
  if (row < params.n_idx && base < width) {
    const uint id = idx[row];
    const bool valid = id < params.src_rows;
    device const float* from = src + ulong(valid ? id : 0) * width;
    device float* to = out + ulong(row) * width;
    if (width % GATHER_N_READS == 0) {
      const float4 v = *reinterpret_cast<device const float4*>(from + base);
      *reinterpret_cast<device float4*>(to + base) = valid ? v : float4(0.0f);
    } else {
      const uint end = min(base + GATHER_N_READS, width);
      for (uint c = base; c < end; ++c) {
        to[c] = valid ? from[c] : 0.0f;
      }
    }
  }
}
