// embedding.metal — token embedding lookup from a quantized table in MLX's affine format
// (formats/affine.ts): each row of the [vocab, embed_dim] table is embed_dim codes of 4 or 6
// bits packed LSB first, with one bf16 scale s and bias b per group of group_size values.
//
// Kernels embedding_gather_4bit, embedding_gather_6bit
//   Computes   out[t][c] = float(q) * s + b   for the row id = ids[t] of the table: f32
//              arithmetic (s * q is exact in f32, so the value is rounded once), f32 out.
//              Rows are addressed relative to the table bound: row = id - row_base, so a
//              table split in shards (or a buffer holding part of a vocabulary) binds as it
//              is. An id outside [row_base, row_base + row_count) gives a row of zeros
//              instead of a read out of bounds (ids live on the device; the host cannot see
//              them before the dispatch runs). mlx-native did not check ids.
//   Bindings   buffer(0) table    packed codes [row_count, packed_row_stride bytes]
//              buffer(1) scales   ushort (bf16 bits) [row_count, n_groups_per_row]
//              buffer(2) biases   ushort (bf16 bits) [row_count, n_groups_per_row]
//              buffer(3) ids      uint [n_tokens]
//              buffer(4) out      float [n_tokens, embed_dim]
//              buffer(5) params   constant EmbeddingParams (setBytes, 24 bytes). The seed's
//                                 struct had the first four fields, with the row stride in
//                                 words for 4 bits and bytes for 6; here it is bytes for both.
//   Limits     embed_dim a multiple of group_size (32, 64 or 128); packed_row_stride a
//              multiple of 4 and at least embed_dim * bits / 8 (ops/embedding.ts checks).
//   Geometry   threads-grid (embed_dim / EMBEDDING_VALUES_PER_THREAD, n_tokens): each thread
//              reads one aligned 8- or 12-byte run of codes (16 values, inside one group:
//              16 divides every group size), one scale and bias, and writes four float4s.

#include <metal_stdlib>
using namespace metal;

// Mirrored by EMBEDDING_VALUES_PER_THREAD in ops/embedding.ts (its test reads this line).
constant constexpr uint EMBEDDING_VALUES_PER_THREAD = 16;

struct EmbeddingParams {
  uint embed_dim;          // values per row
  uint group_size;         // values per scale/bias pair
  uint packed_row_stride;  // bytes between rows of the table
  uint n_groups_per_row;   // embed_dim / group_size
  uint row_base;           // the id of the table's first row
  uint row_count;          // rows in the bound table
};

template <uint BITS>
static inline void embedding_gather(
    device const uchar* table,
    device const ushort* scales,
    device const ushort* biases,
    device const uint* ids,
    device float* out,
    constant EmbeddingParams& params,
    uint2 position) {
  constexpr uint WORDS = EMBEDDING_VALUES_PER_THREAD * BITS / 32u;  // 2 or 3
  const uint c0 = position.x * EMBEDDING_VALUES_PER_THREAD;
  if (c0 >= params.embed_dim) {
    return;
  }
  const uint t = position.y;
  device float4* dst =
      reinterpret_cast<device float4*>(out + size_t(t) * params.embed_dim + c0);
  const uint row = ids[t] - params.row_base;  // wraps past row_count when id < row_base
  if (row >= params.row_count) {
    for (uint i = 0; i < EMBEDDING_VALUES_PER_THREAD / 4u; ++i) {
      dst[i] = float4(0.0f);
    }
    return;
  }
  device const uint* words = reinterpret_cast<device const uint*>(
      table + size_t(row) * params.packed_row_stride + c0 * BITS / 8u);
  uint w[WORDS];
  for (uint i = 0; i < WORDS; ++i) {
    w[i] = words[i];
  }
  const size_t g = size_t(row) * params.n_groups_per_row + c0 / params.group_size;
  const float s = as_type<float>(uint(scales[g]) << 16);
  const float b = as_type<float>(uint(biases[g]) << 16);
  float v[EMBEDDING_VALUES_PER_THREAD];
  for (uint i = 0; i < EMBEDDING_VALUES_PER_THREAD; ++i) {
    const uint bit = i * BITS;
    uint code = w[bit / 32u] >> (bit % 32u);
    if (bit % 32u + BITS > 32u) {
      code |= w[bit / 32u + 1u] << (32u - bit % 32u);
    }
    v[i] = fma(float(code & ((1u << BITS) - 1u)), s, b);
  }
  for (uint i = 0; i < EMBEDDING_VALUES_PER_THREAD / 4u; ++i) {
    dst[i] = float4(v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]);
  }
}

[[kernel]] void embedding_gather_4bit(
    device const uchar* table [[buffer(0)]],
    device const ushort* scales [[buffer(1)]],
    device const ushort* biases [[buffer(2)]],
    device const uint* ids [[buffer(3)]],
    device float* out [[buffer(4)]],
    constant EmbeddingParams& params [[buffer(5)]],
    uint2 position [[thread_position_in_grid]]) {
  embedding_gather<4>(table, scales, biases, ids, out, params, position);
}

[[kernel]] void embedding_gather_6bit(
    device const uchar* table [[buffer(0)]],
    device const ushort* scales [[buffer(1)]],
    device const ushort* biases [[buffer(2)]],
    device const uint* ids [[buffer(3)]],
    device float* out [[buffer(4)]],
    constant EmbeddingParams& params [[buffer(5)]],
    uint2 position [[thread_position_in_grid]]) {
  embedding_gather<6>(table, scales, biases, ids, out, params, position);
}
