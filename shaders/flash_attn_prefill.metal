// flash_attn_prefill.metal — tiled prefill attention on SIMD-group matrices (flash attention:
// one threadgroup per BQ query rows of one head, walking the keys BK at a time with an online
// softmax, never materialising the score matrix).
//
// Kernels  steel_attention_<T>_bq<BQ>_bk<BK>_bd<BD>_wm<WM>_wn<WN>_mask<M>: each name is the
//          template below at exactly the tile shape, I/O dtype and mask type it spells
//          (T ∈ float32, float16, bfloat16; mask of the I/O dtype (additive) or bool_).
//   Computes  for batch b, query head h, kv_head = h / gqa_factor, query row i (position
//             i + qL_off; the host passes qL_off = kL − qL, queries right-aligned to the keys):
//               O[b][h][i] = Σ_j softmax_j(scale · Q[b][h][i] · K[b][kv_head][j] + mask) · V[b][kv_head][j]
//             Q is multiplied by scale · log2 e and stored as T (so the scaled query is
//             rounded to the I/O dtype; for f32 it stays in f32), the softmax runs in base 2
//             (exp2) with f32 scores, running max starting at −FLT_MAX/2, f32 accumulation,
//             and O / rowsum is stored as T (0 when the row saw no key).
//             Masking hides a key (weight exactly 0): keys ≥ kL (last key tile when
//             !align_K); do_causal: key j > i + qL_off, and key tiles past the last row's
//             position are never visited; has_mask: a boolean mask false, or an additive
//             mask value of −∞ (below −FLT_MAX/2); other additive values (any finite bias)
//             are multiplied by log2 e and added to the score.
//   Constants [[function_constant(200)]] bool align_Q   qL % BQ == 0: no row bounds checks
//             [[function_constant(201)]] bool align_K   kL % BK == 0: no key bounds checks
//             [[function_constant(300)]] bool has_mask  buffers 5 and 6 are bound
//             [[function_constant(301)]] bool do_causal
//             [[function_constant(303)]] bool has_blk   buffer 7 is bound (tile skipping)
//   Bindings  buffer(0) Q    T, element (b, h, i, d) at b·Q_strides[0] + h·Q_strides[1] + i·Q_strides[2] + d
//             buffer(1) K    T, (b, kv_head, j, d) by K_strides; buffer(2) V likewise by V_strides
//             buffer(3) O    T, by O_strides
//             buffer(4) constant AttnParams (setBytes)
//             buffer(5) constant AttnMaskParams (has_mask): element (b, h, i, j) of the mask at
//                       b·M_strides[0] + h·M_strides[1] + i·M_strides[2] + j (0 strides broadcast)
//             buffer(6) mask: MaskT (has_mask)
//             buffer(7) blk: uchar[NQ · NK] (has_blk): per (query tile, key tile) 0 = skip the
//                       tile, 1 = attend normally, 2 = attend but skip the mask (all zeros there)
//             Strides are in elements; the row strides of K and V are multiples of 4.
//   Geometry  TG-grid (NQ, H, B), threads (32, WM, WN); static threadgroup memory only.
//   Tiling    SIMD-group g owns query rows 8g … 8g + 7 of the tile (BQ = 8 · WM, WN = 1). Per
//             key tile: K tile → threadgroup memory; S = Q·Kᵀ as BK/8 8×8 matrices (f32
//             accumulation over BD/8 steps); mask; online softmax on the rows (each lane owns
//             two elements of one row per 8×8 matrix, and shares the row with the lanes
//             lane ^ 1, lane ^ 8); V tile → the same threadgroup memory; O += P·V as BD/8 8×8
//             matrices per SIMD-group, kept in registers.
//             Threadgroup memory: one BK × (BD + pad) tile that K and V take in turn, plus,
//             for 16-bit T, the scaled Q tile BQ × (BD + pad). For f32 at BD 256 the Q tile
//             alone would be 32 · 256 · 4 = 32 KiB, the whole budget: there each SIMD-group
//             keeps its own 8 scaled query rows in registers as BD/8 8×8 matrices (64 floats
//             per lane) and only the K/V tile lives in threadgroup memory: 16 · 260 · 4 =
//             16,640 bytes. 16-bit T: 25,344 bytes at bd256, 16,640 at bd512.

#include <metal_stdlib>
using namespace metal;

struct AttnParams {
  int B;           // batch
  int H;           // query heads
  int D;           // head dimension (= BD)
  int qL;          // query rows
  int kL;          // keys
  int gqa_factor;  // H / KV heads
  float scale;     // multiplies q · k
  int NQ;          // ceil(qL / BQ)
  int NK;          // ceil(kL / BK)
  int NQ_aligned;  // qL / BQ
  int NK_aligned;  // kL / BK
  int qL_rem;      // qL % BQ
  int kL_rem;      // kL % BK
  int qL_off;      // position of query row 0 (kL − qL for right-aligned queries)
  long Q_strides[3];  // batch, head, row
  long K_strides[3];
  long V_strides[3];
  long O_strides[3];
};

struct AttnMaskParams {
  long M_strides[3];  // batch, head, query row (the key stride is 1)
};

// The score of a hidden key: finite, below every real score. Running maxima start at
// −FLT_MAX / 2, above it, so a row that has seen only hidden keys keeps weights of 0.
constant constexpr float MASKED = -FLT_MAX;

constant bool align_Q [[function_constant(200)]];
constant bool align_K [[function_constant(201)]];
constant bool has_mask [[function_constant(300)]];
constant bool do_causal [[function_constant(301)]];
constant bool has_blk [[function_constant(303)]];

template <typename T, int BQ, int BK, int BD, int WM, int WN, typename MaskT>
[[kernel]] void steel_attention(
    device const T* Q [[buffer(0)]],
    device const T* K [[buffer(1)]],
    device const T* V [[buffer(2)]],
    device T* O [[buffer(3)]],
    constant AttnParams& p [[buffer(4)]],
    constant AttnMaskParams& mp [[buffer(5), function_constant(has_mask)]],
    device const MaskT* mask [[buffer(6), function_constant(has_mask)]],
    device const uchar* blk [[buffer(7), function_constant(has_blk)]],
    uint3 group [[threadgroup_position_in_grid]],
    ushort lane [[thread_index_in_simdgroup]],
    ushort sg [[simdgroup_index_in_threadgroup]],
    ushort tid [[thread_index_in_threadgroup]]) {
  static_assert(WN == 1 && BQ == 8 * WM, "each SIMD-group owns 8 query rows");
  static_assert(BK % 8 == 0 && BD % 8 == 0, "tiles are made of 8x8 matrices");
  constexpr int THREADS = 32 * WM * WN;
  constexpr bool Q_IN_REGISTERS = sizeof(T) == 4;  // see "Tiling"
  constexpr int PAD = 16 / int(sizeof(T));          // 16 bytes: rows start on new banks
  constexpr int LD = BD + PAD;
  constexpr int TD = BD / 8;
  constexpr int TK = BK / 8;
  typedef simdgroup_matrix<float, 8, 8> frag;

  threadgroup T kv_tile[BK * LD];
  threadgroup T q_tile[Q_IN_REGISTERS ? 1 : BQ * LD];

  const int q_tile_index = int(group.x);
  const int h = int(group.y);
  const int b = int(group.z);
  const int kv_head = h / p.gqa_factor;
  device const T* q_base = Q + b * p.Q_strides[0] + h * p.Q_strides[1];
  device const T* k_base = K + b * p.K_strides[0] + kv_head * p.K_strides[1];
  device const T* v_base = V + b * p.V_strides[0] + kv_head * p.V_strides[1];
  device T* o_base = O + b * p.O_strides[0] + h * p.O_strides[1];
  const int q0 = q_tile_index * BQ;
  const int rows_here = (align_Q || q_tile_index < p.NQ_aligned) ? BQ : p.qL_rem;

  // This lane's element pair of every 8x8 matrix: row fr, columns fc and fc + 1.
  const int fr = ((lane >> 2) & 4) + ((lane >> 1) & 3);
  const int fc = ((lane >> 3) & 1) * 4 + (lane & 1) * 2;
  const int my_row = sg * 8 + fr;  // row within the query tile
  const int my_q = q0 + my_row;    // query row
  const float q_scale = p.scale * M_LOG2E_F;

  // The scaled query rows, staged as T (see "Tiling" for where they live).
  frag q_regs[Q_IN_REGISTERS ? TD : 1];
  if (Q_IN_REGISTERS) {
    for (int dd = 0; dd < TD; ++dd) {
      for (int e = 0; e < 2; ++e) {
        const bool in = my_row < rows_here;
        const float x = in ? float(q_base[my_q * p.Q_strides[2] + dd * 8 + fc + e]) : 0.0f;
        q_regs[Q_IN_REGISTERS ? dd : 0].thread_elements()[e] = float(T(x * q_scale));
      }
    }
  } else {
    for (int i = tid; i < BQ * BD; i += THREADS) {
      const int r = i / BD;
      const int d = i % BD;
      const float x = r < rows_here ? float(q_base[(q0 + r) * p.Q_strides[2] + d]) : 0.0f;
      q_tile[Q_IN_REGISTERS ? 0 : r * LD + d] = T(x * q_scale);
    }
  }

  frag o_acc[TD];
  for (int dd = 0; dd < TD; ++dd) {
    o_acc[dd].thread_elements()[0] = 0.0f;
    o_acc[dd].thread_elements()[1] = 0.0f;
  }
  float row_max = -FLT_MAX / 2;
  float row_sum = 0.0f;

  // Key tiles to visit: all, or (causal) up to the one holding the tile's last position.
  int k_tiles = p.NK;
  if (do_causal) {
    const int last_position = q0 + BQ - 1 + p.qL_off;
    k_tiles = clamp(last_position < 0 ? 0 : last_position / BK + 1, 0, p.NK);
  }

  for (int kt = 0; kt < k_tiles; ++kt) {
    uchar tile_code = 1;
    if (has_blk) {
      tile_code = blk[q_tile_index * p.NK + kt];
      if (tile_code == 0) {
        continue;  // uniform over the threadgroup: every thread skips the same tile
      }
    }
    const int k0 = kt * BK;
    const int keys_here = (align_K || kt < p.NK_aligned) ? BK : p.kL_rem;

    threadgroup_barrier(mem_flags::mem_threadgroup);  // the previous V tile is consumed
    for (int i = tid * 4; i < BK * BD; i += THREADS * 4) {
      const int r = i / BD;
      const int d = i % BD;
      const vec<T, 4> x = r < keys_here
          ? *(device const vec<T, 4>*)(k_base + (k0 + r) * p.K_strides[2] + d)
          : vec<T, 4>(0);
      *(threadgroup vec<T, 4>*)(kv_tile + r * LD + d) = x;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);

    frag s[TK];
    for (int j = 0; j < TK; ++j) {
      s[j].thread_elements()[0] = 0.0f;
      s[j].thread_elements()[1] = 0.0f;
    }
    for (int dd = 0; dd < TD; ++dd) {
      frag qf;
      if (Q_IN_REGISTERS) {
        qf = q_regs[Q_IN_REGISTERS ? dd : 0];
      } else {
        const int at = Q_IN_REGISTERS ? 0 : my_row * LD + dd * 8 + fc;
        qf.thread_elements()[0] = float(q_tile[at]);
        qf.thread_elements()[1] = float(q_tile[at + (Q_IN_REGISTERS ? 0 : 1)]);
      }
      for (int j = 0; j < TK; ++j) {
        // Kᵀ: element (r, c) of this 8x8 block is K[key j·8 + c][dim dd·8 + r].
        frag kf;
        kf.thread_elements()[0] = float(kv_tile[(j * 8 + fc) * LD + dd * 8 + fr]);
        kf.thread_elements()[1] = float(kv_tile[(j * 8 + fc + 1) * LD + dd * 8 + fr]);
        simdgroup_multiply_accumulate(s[j], qf, kf, s[j]);
      }
    }

    // Mask this lane's scores, then the row's running max over the tile. A hidden score is
    // the finite MASKED and its weight is selected to 0: no infinity is ever computed, so fast
    // math (which may assume finite values) cannot change the result.
    const bool use_mask = has_mask && tile_code != 2;
    float tile_max = MASKED;
    for (int j = 0; j < TK; ++j) {
      for (int e = 0; e < 2; ++e) {
        const int key_col = j * 8 + fc + e;
        const int key = k0 + key_col;
        float x = s[j].thread_elements()[e];
        bool hidden = (!align_K && key_col >= keys_here) || (do_causal && key > my_q + p.qL_off);
        if (use_mask && !hidden && my_row < rows_here) {
          const long at = b * mp.M_strides[0] + h * mp.M_strides[1] + my_q * mp.M_strides[2] + key;
          if (is_same<MaskT, bool>::value) {
            hidden = !bool(mask[at]);
          } else {
            const float bias = float(mask[at]);
            hidden = bias < -FLT_MAX / 2;  // −∞ (or the most negative finite values) hides
            x = fma(bias, M_LOG2E_F, x);
          }
        }
        x = hidden ? MASKED : x;
        s[j].thread_elements()[e] = x;
        tile_max = max(tile_max, x);
      }
    }
    tile_max = max(tile_max, simd_shuffle_xor(tile_max, ushort(1)));
    tile_max = max(tile_max, simd_shuffle_xor(tile_max, ushort(8)));
    const float new_max = max(row_max, tile_max);
    const float rescale = exp2(row_max - new_max);
    float tile_sum = 0.0f;
    for (int j = 0; j < TK; ++j) {
      for (int e = 0; e < 2; ++e) {
        const float x = s[j].thread_elements()[e];
        const float w = x > MASKED ? exp2(x - new_max) : 0.0f;
        s[j].thread_elements()[e] = w;
        tile_sum += w;
      }
    }
    tile_sum += simd_shuffle_xor(tile_sum, ushort(1));
    tile_sum += simd_shuffle_xor(tile_sum, ushort(8));
    row_sum = row_sum * rescale + tile_sum;
    row_max = new_max;
    for (int dd = 0; dd < TD; ++dd) {
      o_acc[dd].thread_elements()[0] *= rescale;
      o_acc[dd].thread_elements()[1] *= rescale;
    }

    threadgroup_barrier(mem_flags::mem_threadgroup);  // the K tile is consumed
    for (int i = tid * 4; i < BK * BD; i += THREADS * 4) {
      const int r = i / BD;
      const int d = i % BD;
      const vec<T, 4> x = r < keys_here
          ? *(device const vec<T, 4>*)(v_base + (k0 + r) * p.V_strides[2] + d)
          : vec<T, 4>(0);  // zeros, not stale values: 0 · NaN would poison the row
      *(threadgroup vec<T, 4>*)(kv_tile + r * LD + d) = x;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);

    for (int dd = 0; dd < TD; ++dd) {
      for (int j = 0; j < TK; ++j) {
        // V: element (r, c) of this block is V[key j·8 + r][dim dd·8 + c].
        frag vf;
        vf.thread_elements()[0] = float(kv_tile[(j * 8 + fr) * LD + dd * 8 + fc]);
        vf.thread_elements()[1] = float(kv_tile[(j * 8 + fr) * LD + dd * 8 + fc + 1]);
        simdgroup_multiply_accumulate(o_acc[dd], s[j], vf, o_acc[dd]);
      }
    }
  }

  if (my_row < rows_here) {
    const float inv = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;  // no key seen: zeros
    device T* out = o_base + my_q * p.O_strides[2];
    for (int dd = 0; dd < TD; ++dd) {
      out[dd * 8 + fc] = T(o_acc[dd].thread_elements()[0] * inv);
      out[dd * 8 + fc + 1] = T(o_acc[dd].thread_elements()[1] * inv);
    }
  }
}

// One instantiation per catalogue name: the template at the shape, dtype and mask type the
// name spells (the typedef names the specialisation once).

typedef decltype(steel_attention<float, 32, 16, 256, 4, 1, float>) sa_float32_bq32_bk16_bd256_wm4_wn1_maskfloat32_t;
template [[host_name("steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskfloat32")]] [[kernel]] sa_float32_bq32_bk16_bd256_wm4_wn1_maskfloat32_t steel_attention<float, 32, 16, 256, 4, 1, float>;
typedef decltype(steel_attention<float, 32, 16, 256, 4, 1, bool>) sa_float32_bq32_bk16_bd256_wm4_wn1_maskbool__t;
template [[host_name("steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskbool_")]] [[kernel]] sa_float32_bq32_bk16_bd256_wm4_wn1_maskbool__t steel_attention<float, 32, 16, 256, 4, 1, bool>;
typedef decltype(steel_attention<half, 32, 16, 256, 4, 1, half>) sa_float16_bq32_bk16_bd256_wm4_wn1_maskfloat16_t;
template [[host_name("steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskfloat16")]] [[kernel]] sa_float16_bq32_bk16_bd256_wm4_wn1_maskfloat16_t steel_attention<half, 32, 16, 256, 4, 1, half>;
typedef decltype(steel_attention<half, 32, 16, 256, 4, 1, bool>) sa_float16_bq32_bk16_bd256_wm4_wn1_maskbool__t;
template [[host_name("steel_attention_float16_bq32_bk16_bd256_wm4_wn1_maskbool_")]] [[kernel]] sa_float16_bq32_bk16_bd256_wm4_wn1_maskbool__t steel_attention<half, 32, 16, 256, 4, 1, bool>;
typedef decltype(steel_attention<half, 8, 8, 512, 1, 1, half>) sa_float16_bq8_bk8_bd512_wm1_wn1_maskfloat16_t;
template [[host_name("steel_attention_float16_bq8_bk8_bd512_wm1_wn1_maskfloat16")]] [[kernel]] sa_float16_bq8_bk8_bd512_wm1_wn1_maskfloat16_t steel_attention<half, 8, 8, 512, 1, 1, half>;
typedef decltype(steel_attention<half, 8, 8, 512, 1, 1, bool>) sa_float16_bq8_bk8_bd512_wm1_wn1_maskbool__t;
template [[host_name("steel_attention_float16_bq8_bk8_bd512_wm1_wn1_maskbool_")]] [[kernel]] sa_float16_bq8_bk8_bd512_wm1_wn1_maskbool__t steel_attention<half, 8, 8, 512, 1, 1, bool>;
#if defined(__HAVE_BFLOAT__)
typedef decltype(steel_attention<bfloat, 32, 16, 256, 4, 1, bfloat>) sa_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbfloat16_t;
template [[host_name("steel_attention_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbfloat16")]] [[kernel]] sa_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbfloat16_t steel_attention<bfloat, 32, 16, 256, 4, 1, bfloat>;
typedef decltype(steel_attention<bfloat, 32, 16, 256, 4, 1, bool>) sa_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbool__t;
template [[host_name("steel_attention_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbool_")]] [[kernel]] sa_bfloat16_bq32_bk16_bd256_wm4_wn1_maskbool__t steel_attention<bfloat, 32, 16, 256, 4, 1, bool>;
typedef decltype(steel_attention<bfloat, 8, 8, 512, 1, 1, bfloat>) sa_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbfloat16_t;
template [[host_name("steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbfloat16")]] [[kernel]] sa_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbfloat16_t steel_attention<bfloat, 8, 8, 512, 1, 1, bfloat>;
typedef decltype(steel_attention<bfloat, 8, 8, 512, 1, 1, bool>) sa_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbool__t;
template [[host_name("steel_attention_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbool_")]] [[kernel]] sa_bfloat16_bq8_bk8_bd512_wm1_wn1_maskbool__t steel_attention<bfloat, 8, 8, 512, 1, 1, bool>;
#endif
