// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Qwen3-Next-sized steps of the linear-attention and MoE-routing kernels: the causal conv over
// 8192 channels, the delta rule over 32 value heads of 128 × 128 (a decode token and a
// 64-token prefill), the fused router over 128 experts (hidden 2048, top 8), softmax-top-k
// routing and the weighted reduction. Each bench encodes one dispatch (or one layer step),
// commits and waits; Deno.bench reports that host time, and the device time of the same runs
// (gpuEndTime − gpuStartTime) is printed after. Run:
//   deno bench --allow-all bench/linear_attention_moe_bench.ts
//
// Figures to derive: the delta rule touches its D_v × D_k state once per token per head, so
// state updates/s = heads · D_v · D_k · tokens / time.
import { Device, KernelRegistry } from "../mod.ts";
import { deviceTimedRuns } from "./_device_time.ts";
import { ssmConv } from "../ops/ssm_conv.ts";
import { gatedDeltaNet } from "../ops/gated_delta_net.ts";
import { moeGate } from "../ops/moe_gate.ts";
import { moeSoftmaxTopk } from "../ops/moe_softmax_topk.ts";
import { moeWeightedReduce } from "../ops/moe_weighted_reduce.ts";

const device = Device.systemDefault();
const registry = new KernelRegistry();
// A GPU runs these in microseconds; the CPU backend in up to a second.
const options = { n: 3, warmup: 1 };

const once = deviceTimedRuns(device);

/** A buffer of `count` f32 values in [lo, hi) (the content only matters for NaN-free runs). */
function filled(count: number, lo = -1, hi = 1): ReturnType<typeof device.newBuffer> {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = lo + ((i * 2654435761) % 1000) / 1000 * (hi - lo);
  return device.newBuffer(values);
}

const DK = 128;
const DV = 128;
const HK = 16;
const HV = 32;
const CHANNELS = 2 * HK * DK + HV * DV;

for (const tokens of [1, 64]) {
  const x = filled(tokens * CHANNELS);
  const w = filled(CHANNELS * 4, -0.5, 0.5);
  const state = filled(CHANNELS * 3);
  const y = device.newBuffer(tokens * CHANNELS * 4);
  const newState = device.newBuffer(CHANNELS * 3 * 4);
  const name = `ssmConv f32 channels ${CHANNELS} width 4 tokens ${tokens}`;
  Deno.bench(name, { group: `tokens ${tokens}`, ...options }, async () => {
    await once(name, (encoder) =>
      ssmConv(encoder, {
        registry,
        x,
        w,
        state,
        y,
        newState,
        dtype: "f32",
        channels: CHANNELS,
        tokens,
        width: 4,
      }));
  });

  const q = filled(tokens * HK * DK, -0.1, 0.1);
  const k = filled(tokens * HK * DK, -0.1, 0.1);
  const v = filled(tokens * HV * DV);
  const g = filled(tokens * HV, 0, 0.5);
  const beta = filled(tokens * HV, 0, 1);
  const memory = filled(HV * DV * DK, -0.1, 0.1);
  const out = device.newBuffer(tokens * HV * DV * 4);
  const deltaName = `gatedDeltaNet dk ${DK} dv ${DV} heads ${HK}/${HV} tokens ${tokens}`;
  Deno.bench(deltaName, { group: `tokens ${tokens}`, ...options }, async () => {
    await once(deltaName, (encoder) =>
      gatedDeltaNet(encoder, {
        registry,
        q,
        k,
        v,
        g,
        beta,
        state: memory,
        out,
        newState: memory,
        dk: DK,
        dv: DV,
        nKHeads: HK,
        nVHeads: HV,
        tokens,
      }));
  });
}

{
  const tokens = 1;
  const hiddenDim = 2048;
  const nExperts = 128;
  const topK = 8;
  const hidden = device.newBuffer(new Uint16Array(tokens * hiddenDim).fill(0x3f80)); // bf16 1.0
  const router = filled(nExperts * hiddenDim, -0.05, 0.05);
  const normWeight = filled(hiddenDim, 0.9, 1.1);
  const expertScale = filled(nExperts, 0.5, 2);
  const ids = device.newBuffer(tokens * topK * 4);
  const weights = device.newBuffer(tokens * topK * 4);
  const name = `moeGate hidden ${hiddenDim} experts ${nExperts} top ${topK} tokens ${tokens}`;
  Deno.bench(name, { group: "routing", ...options }, async () => {
    await once(name, (encoder) =>
      moeGate(encoder, {
        registry,
        hidden,
        router,
        normWeight,
        expertScale,
        ids,
        weights,
        tokens,
        hiddenDim,
        nExperts,
        topK,
        eps: 1e-6,
      }));
  });

  const many = 32;
  const logits = filled(many * nExperts, -4, 4);
  const manyIds = device.newBuffer(many * topK * 4);
  const manyWeights = device.newBuffer(many * topK * 4);
  const topkName = `moeSoftmaxTopk experts ${nExperts} top ${topK} tokens ${many}`;
  Deno.bench(topkName, { group: "routing", ...options }, async () => {
    await once(topkName, (encoder) =>
      moeSoftmaxTopk(encoder, {
        registry,
        logits,
        ids: manyIds,
        weights: manyWeights,
        tokens: many,
        nExperts,
        topK,
      }));
  });

  const y = filled(tokens * topK * hiddenDim);
  const sharedY = filled(tokens * hiddenDim);
  const gate = filled(tokens);
  const residual = filled(tokens * hiddenDim);
  const reduced = device.newBuffer(tokens * hiddenDim * 4);
  const reduceName = `moeWeightedReduce hidden ${hiddenDim} top ${topK} shared + residual`;
  Deno.bench(reduceName, { group: "routing", ...options }, async () => {
    await once(reduceName, (encoder) =>
      moeWeightedReduce(encoder, {
        registry,
        weights,
        y,
        out: reduced,
        tokens,
        topK,
        hidden: hiddenDim,
        shared: { y: sharedY, gate },
        residual,
      }));
  });
}
