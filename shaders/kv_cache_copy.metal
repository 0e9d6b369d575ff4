// kv_cache_copy.metal — append new keys/values to a KV cache, with ring (sliding-window)
// wrap-around and an optional f32 → f16 or bf16 → f32 conversion on the way.
//
// Conventions
// - Every kernel copies whole rows of contiguous elements; a thread moves KV_COPY_N_READS (= 4)
//   consecutive elements of one row, as one 4-vector when the row length is a multiple of 4
//   (so every vector is aligned; buffers start at offset 0), element by element otherwise.
// - Conversions are plain MSL conversions: f32 → f16 rounds to nearest even, values beyond
//   the f16 range become ±inf; bf16 → f32 is exact.
// - Sizes arrive in a small `constant` struct bound with setBytes. The host checks that no two
//   new tokens land in the same cache slot (n ≤ capacity), so no two threads write one element.
// - Sources and caches must be distinct buffers.
//
// Flat layout: cache [capacity, row_size] (row_size = n_kv_heads · head_dim, one row per slot)
//
//   kv_cache_copy (half → half), kv_cache_copy_f32 (float → float)
//     cache[slot(t)][e] = src[t][e]                                  t < n_new, e < row_size
//     slot(t) = (write_pos + t) mod capacity   when is_sliding ≠ 0 (ring buffer)
//             = write_pos + t                  otherwise (host checks write_pos + n_new ≤ capacity)
//     buffer(0) src    T[n_new · row_size]      buffer(1) cache  T[capacity · row_size]
//     buffer(2) KvCopyFlatParams { uint write_pos, row_size, n_new, capacity, is_sliding; }
//     Geometry: threads-grid (ceil(row_size / 4), n_new, 1).
//
// Head-major layout: cache [n_heads, capacity, head_dim]
//
//   kv_cache_copy_batch_f32 (float → float), kv_cache_copy_batch_f32_to_f16 (float → half)
//     One token, every head: cache[h][seq_pos][e] = src[h][e]     h < n_heads, e < head_dim
//     seq_pos is the slot, already wrapped by the caller (host checks seq_pos < capacity).
//     buffer(0) src  float[n_heads · head_dim]     buffer(1) cache  Out[n_heads · capacity · head_dim]
//     buffer(2) KvCopyBatchParams { uint n_heads, head_dim, capacity, seq_pos; }
//     Geometry: threads-grid (ceil(head_dim / 4), n_heads, 1).
//
//   kv_cache_copy_seq_f32 (float → float), kv_cache_copy_seq_f32_to_f16 (float → half),
//   kv_cache_copy_seq_bf16 (bfloat → float: a bf16 projection into an f32 cache)
//     Tokens [src_tok_offset, src_tok_offset + n_tokens) of src [T_src, n_heads, head_dim]:
//       cache[h][slot(t)][e] = src[src_tok_offset + t][h][e]
//       slot(t) = (seq_pos_start + t) mod capacity  (a plain append when it does not wrap)
//     buffer(0) src  In[T_src · n_heads · head_dim]     buffer(1) cache  Out[n_heads · capacity · head_dim]
//     buffer(2) KvCopySeqParams { uint n_heads, head_dim, capacity, seq_pos_start, n_tokens,
//                                 src_tok_offset; }
//     Geometry: threads-grid (ceil(head_dim / 4), n_heads, n_tokens).
//
//   kv_cache_copy_seq_f32_kv_dual (float → float), kv_cache_copy_seq_f32_to_f16_kv_dual (→ half)
//     K and V in one dispatch, each as kv_cache_copy_seq_*:
//     buffer(0) src_k  buffer(1) src_v  buffer(2) cache_k  buffer(3) cache_v
//     buffer(4) KvCopySeqParams (shared by K and V)
//     Geometry: as kv_cache_copy_seq_*.
//
// bf16 kernels exist only where the compiler has bfloat (__HAVE_BFLOAT__).

#include <metal_stdlib>
using namespace metal;

// Elements per thread. Mirrored by KV_COPY_N_READS in ops/_defines.ts (a test reads this line).
constant constexpr uint KV_COPY_N_READS = 4;

struct KvCopyFlatParams {
  uint write_pos;   // first slot (any value when sliding: taken mod capacity)
  uint row_size;    // elements per slot
  uint n_new;       // tokens to write
  uint capacity;    // slots in the cache
  uint is_sliding;  // nonzero: ring buffer
};

struct KvCopyBatchParams {
  uint n_heads;
  uint head_dim;
  uint capacity;
  uint seq_pos;  // slot to write, < capacity
};

struct KvCopySeqParams {
  uint n_heads;
  uint head_dim;
  uint capacity;
  uint seq_pos_start;   // slot of the first token (taken mod capacity)
  uint n_tokens;        // tokens to copy, <= capacity
  uint src_tok_offset;  // first source token
};

// Copies elements [e, min(e + 4, n)) of one row; `vectors` means n is a multiple of 4.
template <typename In, typename Out>
static inline void copy_row_chunk(device const In* src, device Out* dst, uint e, uint n, bool vectors) {
  if (vectors) {
    const vec<In, 4> v = *reinterpret_cast<device const vec<In, 4>*>(src + e);
    // Per-lane conversion (vec<Out, 4>(v) would do; the CPU backend lacks that conversion).
    *reinterpret_cast<device vec<Out, 4>*>(dst + e) =
        vec<Out, 4>(static_cast<Out>(v.x), static_cast<Out>(v.y), static_cast<Out>(v.z), static_cast<Out>(v.w));
  } else {
    const uint end = min(e + KV_COPY_N_READS, n);
    for (uint i = e; i < end; ++i) {
      dst[i] = static_cast<Out>(src[i]);
    }
  }
}

template <typename T>
[[kernel]] void kv_copy_flat(
    device const T* src [[buffer(0)]],
    device T* cache [[buffer(1)]],
    constant KvCopyFlatParams& params [[buffer(2)]],
    uint2 gid [[thread_position_in_grid]]) {
  const uint e = gid.x * KV_COPY_N_READS;
  const uint t = gid.y;
  const uint n = params.row_size;
  if (e < n && t < params.n_new) {
    const uint slot = params.is_sliding != 0
        ? (params.write_pos % params.capacity + t) % params.capacity
        : params.write_pos + t;
    copy_row_chunk<T, T>(src + size_t(t) * n, cache + size_t(slot) * n, e, n, n % KV_COPY_N_READS == 0);
  }
}

template <typename Out>
[[kernel]] void kv_copy_batch(
    device const float* src [[buffer(0)]],
    device Out* cache [[buffer(1)]],
    constant KvCopyBatchParams& params [[buffer(2)]],
    uint2 gid [[thread_position_in_grid]]) {
  const uint e = gid.x * KV_COPY_N_READS;
  const uint h = gid.y;
  const uint d = params.head_dim;
  if (e < d && h < params.n_heads) {
    const size_t dst_row = size_t(h) * params.capacity + params.seq_pos;
    copy_row_chunk<float, Out>(src + size_t(h) * d, cache + dst_row * d, e, d, d % KV_COPY_N_READS == 0);
  }
}

// One (token, head) row of the _seq kernels.
template <typename In, typename Out>
static inline void kv_copy_seq_row(
    device const In* src, device Out* cache, constant KvCopySeqParams& params, uint e, uint h, uint t) {
  const uint d = params.head_dim;
  const uint slot = (params.seq_pos_start % params.capacity + t) % params.capacity;
  const size_t src_row = (size_t(params.src_tok_offset) + t) * params.n_heads + h;
  const size_t dst_row = size_t(h) * params.capacity + slot;
  copy_row_chunk<In, Out>(src + src_row * d, cache + dst_row * d, e, d, d % KV_COPY_N_READS == 0);
}

template <typename In, typename Out>
[[kernel]] void kv_copy_seq(
    device const In* src [[buffer(0)]],
    device Out* cache [[buffer(1)]],
    constant KvCopySeqParams& params [[buffer(2)]],
    uint3 gid [[thread_position_in_grid]]) {
  const uint e = gid.x * KV_COPY_N_READS;
  if (e < params.head_dim && gid.y < params.n_heads && gid.z < params.n_tokens) {
    kv_copy_seq_row<In, Out>(src, cache, params, e, gid.y, gid.z);
  }
}

template <typename Out>
[[kernel]] void kv_copy_seq_dual(
    device const float* src_k [[buffer(0)]],
    device const float* src_v [[buffer(1)]],
    device Out* cache_k [[buffer(2)]],
    device Out* cache_v [[buffer(3)]],
    constant KvCopySeqParams& params [[buffer(4)]],
    uint3 gid [[thread_position_in_grid]]) {
  const uint e = gid.x * KV_COPY_N_READS;
  if (e < params.head_dim && gid.y < params.n_heads && gid.z < params.n_tokens) {
    kv_copy_seq_row<float, Out>(src_k, cache_k, params, e, gid.y, gid.z);
    kv_copy_seq_row<float, Out>(src_v, cache_v, params, e, gid.y, gid.z);
  }
}

template [[host_name("kv_cache_copy")]] [[kernel]] decltype(kv_copy_flat<half>) kv_copy_flat<half>;
template [[host_name("kv_cache_copy_f32")]] [[kernel]] decltype(kv_copy_flat<float>) kv_copy_flat<float>;
template [[host_name("kv_cache_copy_batch_f32")]] [[kernel]] decltype(kv_copy_batch<float>) kv_copy_batch<float>;
template [[host_name("kv_cache_copy_batch_f32_to_f16")]] [[kernel]] decltype(kv_copy_batch<half>) kv_copy_batch<half>;
template [[host_name("kv_cache_copy_seq_f32")]] [[kernel]] decltype(kv_copy_seq<float, float>) kv_copy_seq<float, float>;
template [[host_name("kv_cache_copy_seq_f32_to_f16")]] [[kernel]] decltype(kv_copy_seq<float, half>) kv_copy_seq<float, half>;
template [[host_name("kv_cache_copy_seq_f32_kv_dual")]] [[kernel]] decltype(kv_copy_seq_dual<float>) kv_copy_seq_dual<float>;
template [[host_name("kv_cache_copy_seq_f32_to_f16_kv_dual")]] [[kernel]] decltype(kv_copy_seq_dual<half>) kv_copy_seq_dual<half>;

// bfloat needs MSL 3.1 (macOS 14); without it kv_cache_copy_seq_bf16 is absent.
#if defined(__HAVE_BFLOAT__)
template [[host_name("kv_cache_copy_seq_bf16")]] [[kernel]] decltype(kv_copy_seq<bfloat, float>) kv_copy_seq<bfloat, float>;
#endif
