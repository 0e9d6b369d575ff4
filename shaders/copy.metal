// copy.metal — f32 copies: a strided 2-D view made contiguous, and a flat range between offsets.
//
// Kernel strided_copy_f32
//   Computes   dst[r * cols + c] = src[src_offset + r * row_stride + c * col_stride]
//              for r < rows, c < cols: gathers a strided (e.g. transposed, sliced or
//              broadcast, stride 0) 2-D view into a contiguous [rows, cols] matrix. Strides
//              and the offset count elements; the source index is computed in 64 bits.
//   Bindings   buffer(0) src     float[...] (at least src_offset + (rows-1)*row_stride
//                                + (cols-1)*col_stride + 1 elements; the host checks)
//              buffer(1) dst     float[rows * cols]; must not overlap the view read
//              buffer(2) params  constant StridedCopyParams { uint rows, cols, row_stride,
//                                col_stride, src_offset; }   (setBytes, 20 bytes; mlx-native had
//                                no src_offset)
//   Geometry   threads-grid (cols, rows, 1), bounds-checked; x runs along the contiguous
//              destination row, so writes (and reads when col_stride = 1) are coalesced.
//
// Kernel offset_copy_f32
//   Computes   dst[dst_offset + i] = src[src_offset + i] for i < count (e.g. appending rows to
//              a cache, or slicing a row range out of a batch).
//   Bindings   buffer(0) src     float[src_offset + count]
//              buffer(1) dst     float[dst_offset + count]; may be the same buffer as `src` only
//                                when the two ranges do not overlap (the host checks)
//              buffer(2) params  constant OffsetCopyParams { uint src_offset, dst_offset, count; }
//                                (setBytes, 12 bytes)
//   Geometry   threads-grid (ceil(count / COPY_N_READS), 1, 1), any threadgroup width. Each
//              thread moves COPY_N_READS consecutive floats as one packed_float4 (4-byte
//              aligned, so any offsets work) when all are in range, one by one in the tail.

#include <metal_stdlib>
using namespace metal;

// Floats per thread of offset_copy_f32. Mirrored by COPY_N_READS in ops/_defines.ts (a test
// reads this line).
constant constexpr uint COPY_N_READS = 4;

struct StridedCopyParams {
  uint rows;
  uint cols;
  uint row_stride;  // elements between source rows
  uint col_stride;  // elements between source columns
  uint src_offset;  // element index of src[0][0]
};

struct OffsetCopyParams {
  uint src_offset;
  uint dst_offset;
  uint count;
};

[[kernel]] void strided_copy_f32(
    device const float* src [[buffer(0)]],
    device float* dst [[buffer(1)]],
    constant StridedCopyParams& params [[buffer(2)]],
    uint2 gid [[thread_position_in_grid]]) {
  const uint c = gid.x;
  const uint r = gid.y;
  if (c < params.cols && r < params.rows) {
    const ulong from = ulong(params.src_offset) + ulong(r) * params.row_stride +
                       ulong(c) * params.col_stride;
    dst[ulong(r) * params.cols + c] = src[from];
  }
}

[[kernel]] void offset_copy_f32(
    device const float* src [[buffer(0)]],
    device float* dst [[buffer(1)]],
    constant OffsetCopyParams& params [[buffer(2)]],
    uint gid [[thread_position_in_grid]]) {
  const uint count = params.count;
  const uint base = gid * COPY_N_READS;
  device const float* from = src + params.src_offset;
  device float* to = dst + params.dst_offset;
  if (base < count && count - base >= COPY_N_READS) {
    *reinterpret_cast<device packed_float4*>(to + base) =
        *reinterpret_cast<device const packed_float4*>(from + base);
  } else {
    for (uint i = base; i < count; ++i) {
      to[i] = from[i];
    }
  }
}
