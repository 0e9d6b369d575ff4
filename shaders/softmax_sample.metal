// softmax_sample.metal — draw one token per row from softmax(logits / T), optionally
// restricted to the top-p nucleus, given a uniform number supplied by the host.
//
// Kernel softmax_sample_f32
//   Computes   e[j] = exp((x[j] - max) / T),  S = sum e,  probs[j] = e[j] / S   (written out)
//              Nucleus: with top_p < 1 the row must be sorted by descending logit (e.g. the
//              values from top_k_f32); the nucleus is the prefix 0..m whose mass first
//              reaches top_p * S (cumulative sum >= top_p * S). With top_p >= 1 it is the
//              whole row (any order).
//              Draw: with M the nucleus mass, token = the first index j <= m with e[j] > 0
//              whose running sum exceeds u * M (u in [0, 1) from uniforms[r]); when rounding
//              leaves no such index, the last index of the nucleus with e[j] > 0.
//              So u = 0 picks the first token of nonzero probability, and a token of
//              probability 0 (logit -inf) is never drawn. logprob = ln(probs[token]) of the
//              full tempered distribution (not renormalised to the nucleus).
//   RNG        None on the device: the draw is a pure function of (logits, T, top_p, u), so a
//              seeded host generator makes sampling reproducible (for a fixed threadgroup
//              width, which fixes the f32 summation order).
//   NaN/inf    NaN logits are undefined; +inf logits are undefined (use finite logits or -inf
//              for masked entries). A row that is all -inf is undefined.
//   Bindings   buffer(0) logits    float[rows * n]
//              buffer(1) probs     float[rows * n] (the softmax, an output; mlx-native's scratch)
//              buffer(2) token     uint[rows]
//              buffer(3) logprob   float[rows]
//              buffer(4) params    constant SampleParams { uint n; float inv_temperature;
//                                  float top_p; }   (setBytes; mlx-native passed device floats
//                                  (n, T, u) and one row)
//              buffer(5) uniforms  constant float[rows] (setBytes, so rows <= 1024)
//   Geometry   TG-grid (rows, 1, 1), one threadgroup per row, width a multiple of 32 up to
//              32 * SAMPLE_MAX_SIMDGROUPS = 1024. The max is a strided (coalesced) scan; then
//              each thread owns a contiguous block of ceil(n / width) entries, sums its e[j]
//              (written to probs), and an exclusive scan over threads (simd_prefix_exclusive_sum
//              plus per-SIMD-group totals in threadgroup memory) gives every block's offset.
//              A search picks the first block whose sum crosses the target (simd_min over
//              candidates) and only that thread walks its block. Finally every thread scales
//              its block by 1 / S.

#include <metal_stdlib>
using namespace metal;

// Upper bound on SIMD-groups per threadgroup. Mirrored by SAMPLE_MAX_SIMDGROUPS in
// ops/_defines.ts (a test reads this line).
constant constexpr uint SAMPLE_MAX_SIMDGROUPS = 32;

constant constexpr uint NONE = 0xFFFFFFFFu;

struct SampleParams {
  uint n;                 // row length
  float inv_temperature;  // 1 / T, T > 0
  float top_p;            // (0, 1]; >= 1 disables the nucleus
};

struct Reducer {
  threadgroup float* fs;
  threadgroup uint* us;
  uint lane;
  uint simdgroup;
  uint simdgroups;

  float max(float v) {
    v = simd_max(v);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (lane == 0) fs[simdgroup] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return simd_max(lane < simdgroups ? fs[lane] : -FLT_MAX);
  }
  uint min(uint v) {
    v = simd_min(v);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (lane == 0) us[simdgroup] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return simd_min(lane < simdgroups ? us[lane] : NONE);
  }
  uint max(uint v) {
    v = simd_max(v);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (lane == 0) us[simdgroup] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return simd_max(lane < simdgroups ? us[lane] : 0u);
  }
};

struct Found {
  uint index;
  float cdf;  // running sum through `index`
};

// The first index j in the row with e[j] > 0 whose running sum passes `target` (>= when
// `inclusive`, > otherwise); else the last index with e[j] > 0. `pre` is this thread's block
// offset and `block` its block sum; e[lo..hi) of this thread are in `e`.
static Found search(device const float* e, uint lo, uint hi, float pre, float block,
                    float target, bool inclusive, uint tid, thread Reducer& reduce,
                    threadgroup Found* result) {
  // Each thread tests its block against the target relative to its own offset, exactly as
  // its walk below will, so the chosen thread always finds its index.
  const float rel = target - pre;
  const bool hit = block > 0.0f && (inclusive ? block >= rel : block > rel);
  uint winner = reduce.min(hit ? tid : NONE);
  const bool fallback = winner == NONE;
  if (fallback) winner = reduce.max(block > 0.0f ? tid : 0u);
  if (tid == winner) {
    float cum = 0.0f;
    Found f = {hi - 1, pre + block};
    bool found = false;
    for (uint j = lo; j < hi && !found; ++j) {
      const float v = e[j];
      cum += v;
      if (v > 0.0f) {
        if (!fallback && (inclusive ? cum >= rel : cum > rel)) {
          f.index = j;
          f.cdf = pre + cum;
          found = true;
        } else if (fallback) {
          f.index = j;  // keeps the last positive one
        }
      }
    }
    *result = f;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup | mem_flags::mem_device);
  const Found f = *result;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return f;
}

[[kernel]] void softmax_sample_f32(
    device const float* logits [[buffer(0)]],
    device float* probs [[buffer(1)]],
    device uint* token [[buffer(2)]],
    device float* logprob [[buffer(3)]],
    constant SampleParams& params [[buffer(4)]],
    constant float* uniforms [[buffer(5)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_position_in_threadgroup]],
    uint width [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint simdgroup [[simdgroup_index_in_threadgroup]],
    uint simdgroups [[simdgroups_per_threadgroup]]) {
  threadgroup float part_f[SAMPLE_MAX_SIMDGROUPS];
  threadgroup uint part_u[SAMPLE_MAX_SIMDGROUPS];
  threadgroup Found result;
  Reducer reduce = {part_f, part_u, lane, simdgroup, simdgroups};

  const uint n = params.n;
  const float inv_t = params.inv_temperature;
  device const float* x = logits + ulong(row) * n;
  device float* e = probs + ulong(row) * n;

  // 1. Row maximum (coalesced).
  float m = -FLT_MAX;
  for (uint j = tid; j < n; j += width) m = fmax(m, x[j]);
  m = reduce.max(m);

  // 2. Unnormalised weights over this thread's contiguous block, and the block sum.
  const uint per = (n + width - 1) / width;
  const uint lo = min(tid * per, n);
  const uint hi = min(lo + per, n);
  float block = 0.0f;
  for (uint j = lo; j < hi; ++j) {
    const float v = exp((x[j] - m) * inv_t);
    e[j] = v;
    block += v;
  }

  // 3. Block offsets: exclusive scan over threads.
  const float in_sg = simd_prefix_exclusive_sum(block);
  const float sg_total = simd_sum(block);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lane == 0) part_f[simdgroup] = sg_total;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float pre = in_sg;
  float total = 0.0f;
  for (uint s = 0; s < simdgroups; ++s) {
    const float t = part_f[s];
    if (s < simdgroup) pre += t;
    total += t;
  }

  // 4. Nucleus (top-p on a row sorted by descending logit).
  uint last = n - 1;
  float mass = total;
  if (params.top_p < 1.0f) {
    const Found nucleus = search(e, lo, hi, pre, block, params.top_p * total, true, tid,
                                 reduce, &result);
    last = nucleus.index;
    mass = nucleus.cdf;
  }

  // 5. The draw.
  const Found draw = search(e, lo, hi, pre, block, uniforms[row] * mass, false, tid, reduce,
                            &result);
  const uint chosen = min(draw.index, last);

  // 6. Normalise this thread's block; thread 0 reports the token.
  const float inv_total = 1.0f / total;
  for (uint j = lo; j < hi; ++j) e[j] *= inv_total;
  if (tid == 0) {
    token[row] = chosen;
    logprob[row] = (x[chosen] - m) * inv_t - log(total);
  }
}
