// tq_dequantize_kv.metal — reads TurboQuant KV-cache positions back as dense f32, in the
// rotated domain (T(x), not x: apply fwht_sign_undo for x). The inverse of the encoders of
// hadamard_quantize_kv_fast.metal, up to the codebook's rounding.
//
// Kernels
//   tq_dequantize_kv     4-bit cache: row of D/2 bytes, coordinate 2b in the low nibble of byte
//                        b, 2b + 1 in the high nibble
//   tq_dequantize_hb_kv  5/6/8-bit cache: row of D bytes, one index each; params.codebook_bits
//                        picks the book and the mask (5: 0x1F, 6: 0x3F, 8: the whole byte)
// Computes   dst[t][h][j] = c[index(h, slot, j)] · scale, slot = (read_pos + t) mod cache_capacity;
//            scale = norm/16 for D = 256 (norm = ||T(x)||) and norm_b / scale_factor_d512 for
//            D = 512 (norm_b = the RMS of block b = j/256).
// Bindings   buffer(0) packed  uchar[num_kv_heads, cache_capacity, row bytes]
//            buffer(1) norms   float[num_kv_heads, cache_capacity, norms_per_pos]
//            buffer(2) dst     float[positions, num_kv_heads, D]
//            buffer(3) params  constant TqDequantParams / TqDequantHbParams (setBytes); head_dim
//                              is 256 or 512 and norms_per_pos = head_dim / 256 (the host checks)
// Geometry   TG-grid (num_kv_heads, positions, 1), threadgroups of D threads: one coordinate per
//            thread, no collectives (the CPU backend runs it as a plain loop).

#include <metal_stdlib>
using namespace metal;

// BEGIN generated tables: codebook4 codebook5 codebook6 codebook8
constant float TQ_CODEBOOK_4[16] = {
    -2.73258948f, -2.06901717f, -1.61804640f, -1.25623119f, -0.942340434f, -0.656759143f,
    -0.388048291f, -0.128395036f, 0.128395036f, 0.388048291f, 0.656759143f, 0.942340434f,
    1.25623119f, 1.61804640f, 2.06901717f, 2.73258948f,
};

constant float TQ_CODEBOOK_5[32] = {
    -3.26073241f, -2.69111967f, -2.31773949f, -2.02872849f, -1.78723323f, -1.57622802f,
    -1.38634038f, -1.21180439f, -1.04878330f, -0.894565105f, -0.747135699f, -0.604933619f,
    -0.466699511f, -0.331378311f, -0.198051825f, -0.0658896565f, 0.0658896565f, 0.198051825f,
    0.331378311f, 0.466699511f, 0.604933619f, 0.747135699f, 0.894565105f, 1.04878330f,
    1.21180439f, 1.38634038f, 1.57622802f, 1.78723323f, 2.02872849f, 2.31773949f,
    2.69111967f, 3.26073241f,
};

constant float TQ_CODEBOOK_6[64] = {
    -3.74410129f, -3.24043703f, -2.91740680f, -2.67227387f, -2.47130489f, -2.29898119f,
    -2.14681029f, -2.00961113f, -1.88397729f, -1.76754189f, -1.65858889f, -1.55583119f,
    -1.45827639f, -1.36514103f, -1.27579451f, -1.18972015f, -1.10648823f, -1.02573633f,
    -0.947154939f, -0.870476604f, -0.795467675f, -0.721921921f, -0.649655581f, -0.578503013f,
    -0.508313775f, -0.438949674f, -0.370282650f, -0.302192837f, -0.234566987f, -0.167296901f,
    -0.100278288f, -0.0334095061f, 0.0334095061f, 0.100278288f, 0.167296901f, 0.234566987f,
    0.302192837f, 0.370282650f, 0.438949674f, 0.508313775f, 0.578503013f, 0.649655581f,
    0.721921921f, 0.795467675f, 0.870476604f, 0.947154939f, 1.02573633f, 1.10648823f,
    1.18972015f, 1.27579451f, 1.36514103f, 1.45827639f, 1.55583119f, 1.65858889f,
    1.76754189f, 1.88397729f, 2.00961113f, 2.14681029f, 2.29898119f, 2.47130489f,
    2.67227387f, 2.91740680f, 3.24043703f, 3.74410129f,
};

constant float TQ_CODEBOOK_8[256] = {
    -4.60353565f, -4.18659544f, -3.92563772f, -3.73166633f, -3.57558799f, -3.44407177f,
    -3.32984853f, -3.22850013f, -3.13713264f, -3.05374193f, -2.97688222f, -2.90547299f,
    -2.83868575f, -2.77587056f, -2.71650767f, -2.66017389f, -2.60652137f, -2.55525947f,
    -2.50614262f, -2.45896220f, -2.41353869f, -2.36971712f, -2.32736182f, -2.28635454f,
    -2.24658990f, -2.20797539f, -2.17042828f, -2.13387418f, -2.09824657f, -2.06348515f,
    -2.02953577f, -1.99634850f, -1.96387839f, -1.93208420f, -1.90092802f, -1.87037516f,
    -1.84039330f, -1.81095314f, -1.78202689f, -1.75358939f, -1.72561693f, -1.69808745f,
    -1.67098033f, -1.64427650f, -1.61795783f, -1.59200752f, -1.56640983f, -1.54114962f,
    -1.51621318f, -1.49158704f, -1.46725869f, -1.44321656f, -1.41944933f, -1.39594638f,
    -1.37269759f, -1.34969366f, -1.32692528f, -1.30438399f, -1.28206146f, -1.25994992f,
    -1.23804176f, -1.21632993f, -1.19480765f, -1.17346823f, -1.15230536f, -1.13131320f,
    -1.11048603f, -1.08981812f, -1.06930423f, -1.04893923f, -1.02871823f, -1.00863647f,
    -0.988689363f, -0.968872607f, -0.949181795f, -0.929612935f, -0.910162032f, -0.890825272f,
    -0.871598899f, -0.852479279f, -0.833463013f, -0.814546704f, -0.795727015f, -0.777000844f,
    -0.758365035f, -0.739816606f, -0.721352637f, -0.702970266f, -0.684666753f, -0.666439414f,
    -0.648285508f, -0.630202591f, -0.612188101f, -0.594239593f, -0.576354682f, -0.558531046f,
    -0.540766299f, -0.523058295f, -0.505404770f, -0.487803608f, -0.470252663f, -0.452749878f,
    -0.435293198f, -0.417880654f, -0.400510222f, -0.383179963f, -0.365888000f, -0.348632425f,
    -0.331411391f, -0.314223051f, -0.297065586f, -0.279937238f, -0.262836218f, -0.245760784f,
    -0.228709206f, -0.211679757f, -0.194670752f, -0.177680492f, -0.160707325f, -0.143749565f,
    -0.126805589f, -0.109873720f, -0.0929523557f, -0.0760398582f, -0.0591346025f, -0.0422349833f,
    -0.0253393836f, -0.00844619330f, 0.00844619330f, 0.0253393836f, 0.0422349833f, 0.0591346025f,
    0.0760398582f, 0.0929523557f, 0.109873720f, 0.126805589f, 0.143749565f, 0.160707325f,
    0.177680492f, 0.194670752f, 0.211679757f, 0.228709206f, 0.245760784f, 0.262836218f,
    0.279937238f, 0.297065586f, 0.314223051f, 0.331411391f, 0.348632425f, 0.365888000f,
    0.383179963f, 0.400510222f, 0.417880654f, 0.435293198f, 0.452749878f, 0.470252663f,
    0.487803608f, 0.505404770f, 0.523058295f, 0.540766299f, 0.558531046f, 0.576354682f,
    0.594239593f, 0.612188101f, 0.630202591f, 0.648285508f, 0.666439414f, 0.684666753f,
    0.702970266f, 0.721352637f, 0.739816606f, 0.758365035f, 0.777000844f, 0.795727015f,
    0.814546704f, 0.833463013f, 0.852479279f, 0.871598899f, 0.890825272f, 0.910162032f,
    0.929612935f, 0.949181795f, 0.968872607f, 0.988689363f, 1.00863647f, 1.02871823f,
    1.04893923f, 1.06930423f, 1.08981812f, 1.11048603f, 1.13131320f, 1.15230536f,
    1.17346823f, 1.19480765f, 1.21632993f, 1.23804176f, 1.25994992f, 1.28206146f,
    1.30438399f, 1.32692528f, 1.34969366f, 1.37269759f, 1.39594638f, 1.41944933f,
    1.44321656f, 1.46725869f, 1.49158704f, 1.51621318f, 1.54114962f, 1.56640983f,
    1.59200752f, 1.61795783f, 1.64427650f, 1.67098033f, 1.69808745f, 1.72561693f,
    1.75358939f, 1.78202689f, 1.81095314f, 1.84039330f, 1.87037516f, 1.90092802f,
    1.93208420f, 1.96387839f, 1.99634850f, 2.02953577f, 2.06348515f, 2.09824657f,
    2.13387418f, 2.17042828f, 2.20797539f, 2.24658990f, 2.28635454f, 2.32736182f,
    2.36971712f, 2.41353869f, 2.45896220f, 2.50614262f, 2.55525947f, 2.60652137f,
    2.66017389f, 2.71650767f, 2.77587056f, 2.83868575f, 2.90547299f, 2.97688222f,
    3.05374193f, 3.13713264f, 3.22850013f, 3.32984853f, 3.44407177f, 3.57558799f,
    3.73166633f, 3.92563772f, 4.18659544f, 4.60353565f,
};
// END generated tables

struct TqDequantParams {
  uint head_dim;       // 256 or 512
  uint num_kv_heads;
  uint read_pos;       // slot of the first position (already wrapped)
  uint cache_capacity;
  uint norms_per_pos;  // 1 for D = 256, 2 for D = 512
  float scale_factor_d512;
};

struct TqDequantHbParams {
  uint head_dim;
  uint num_kv_heads;
  uint read_pos;
  uint cache_capacity;
  uint norms_per_pos;
  float scale_factor_d512;
  uint codebook_bits;  // 5, 6 or 8
};

// The scale of coordinate j of a cache row whose norms start at `norms`.
inline float tq_row_scale(device const float* norms, uint head_dim, uint j, float scale_factor) {
  return head_dim == 256 ? norms[0] * 0.0625f : norms[j / 256] / scale_factor;
}

[[kernel]] void tq_dequantize_kv(device const uchar* packed [[buffer(0)]],
                                 device const float* norms [[buffer(1)]],
                                 device float* dst [[buffer(2)]],
                                 constant TqDequantParams& params [[buffer(3)]],
                                 uint2 group [[threadgroup_position_in_grid]],
                                 uint j [[thread_position_in_threadgroup]]) {
  const uint d = params.head_dim;
  const uint slot = (params.read_pos + group.y) % params.cache_capacity;
  const size_t row = size_t(group.x) * params.cache_capacity + slot;
  const uint index = (packed[row * (d / 2) + j / 2] >> ((j & 1) * 4)) & 0xFu;
  const float scale =
      tq_row_scale(norms + row * params.norms_per_pos, d, j, params.scale_factor_d512);
  dst[(size_t(group.y) * params.num_kv_heads + group.x) * d + j] = TQ_CODEBOOK_4[index] * scale;
}

[[kernel]] void tq_dequantize_hb_kv(device const uchar* packed [[buffer(0)]],
                                    device const float* norms [[buffer(1)]],
                                    device float* dst [[buffer(2)]],
                                    constant TqDequantHbParams& params [[buffer(3)]],
                                    uint2 group [[threadgroup_position_in_grid]],
                                    uint j [[thread_position_in_threadgroup]]) {
  const uint d = params.head_dim;
  const uint slot = (params.read_pos + group.y) % params.cache_capacity;
  const size_t row = size_t(group.x) * params.cache_capacity + slot;
  const uint byte = packed[row * d + j];
  float centroid;
  if (params.codebook_bits == 5) {
    centroid = TQ_CODEBOOK_5[byte & 0x1Fu];
  } else if (params.codebook_bits == 6) {
    centroid = TQ_CODEBOOK_6[byte & 0x3Fu];
  } else {
    centroid = TQ_CODEBOOK_8[byte];
  }
  const float scale =
      tq_row_scale(norms + row * params.norms_per_pos, d, j, params.scale_factor_d512);
  dst[(size_t(group.y) * params.num_kv_heads + group.x) * d + j] = centroid * scale;
}
