// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno bench -A bench/work_items_bench.ts`: barrier kernels whose barriers and collectives sit
 * in called functions (group functions, msl_work_items.h) or that multiply SIMD-group matrices,
 * as work-item loops and on fibers, side by side in one run (each group's baseline is fibers;
 * `deno bench` prints the ratio).
 *
 * Two registries compile the same kernels; the fibers one creates its pipelines while
 * `METAL_COMPUTE_CPU_EXECUTION=fibers` is set (the CPU backend reads it when it creates a
 * pipeline), so each pipeline keeps its strategy for the whole run. CPU backend only.
 *
 * @module
 */
import {
  cumsumSync,
  Device,
  flashAttnPrefillSync,
  fusedNormAddSync,
  ggmlMatmulSync,
  ggmlMatvecSync,
  KernelRegistry,
  quantizeGgml,
} from "../mod.ts";
import type { ComputeEncoder } from "../device.ts";
import { randomValues, runOnce } from "./_workload.ts";

const device = Device.openSync({ backend: "cpu" });
const loops = new KernelRegistry();
const fibers = new KernelRegistry();

// Row kernels at a GPU-like width (the CPU backend's default is one thread per row, where
// fibers need no switch): 256 threads, 8 SIMD-groups, per row.
const ROWS = 256, DIM = 4096, WIDTH = 256;
const rowsIn = device.newBuffer(randomValues(ROWS * DIM, 1));
const rowsIn2 = device.newBuffer(randomValues(ROWS * DIM, 2));
const weight = device.newBuffer(randomValues(DIM, 3));
const rowsOut = device.newBuffer(ROWS * DIM * 4);
const MV = { m: 1, n: 4096, k: 4096 };
const q4 = device.newBuffer(quantizeGgml(randomValues(MV.n * MV.k, 4), "q4_0")); // row-major [n, k]
const mvIn = device.newBuffer(randomValues(MV.k, 5));
const mvOut = device.newBuffer(MV.n * 4);
// SIMD-group matrices: a mat-mat past the mat-vec's 8 rows, and causal prefill attention.
const MM = { m: 64, n: 1024, k: 1024 };
const q4mm = device.newBuffer(quantizeGgml(randomValues(MM.n * MM.k, 6), "q4_0"));
const mmIn = device.newBuffer(randomValues(MM.m * MM.k, 7));
const mmOut = device.newBuffer(MM.m * MM.n * 4);
const ATTN = { nHeads: 2, nKvHeads: 2, headDim: 256, qLen: 128, kvLen: 128, scale: 1 / 16 };
const attnElements = ATTN.nHeads * ATTN.qLen * ATTN.headDim;
const attnQ = device.newBuffer(randomValues(attnElements, 8));
const attnK = device.newBuffer(randomValues(attnElements, 9));
const attnV = device.newBuffer(randomValues(attnElements, 10));
const attnOut = device.newBuffer(attnElements * 4);

const CASES: {
  name: string;
  kernel: string;
  /** The function constants the op specialises the kernel with (to read its strategy). */
  constants?: Record<number, boolean>;
  encode: (e: ComputeEncoder, registry: KernelRegistry) => void;
}[] = [
  {
    name: `cumsum_f32 ${ROWS} x ${DIM}, ${WIDTH} threads a row`,
    kernel: "cumsum_f32",
    encode: (e, registry) =>
      cumsumSync(e, {
        registry,
        input: rowsIn,
        output: rowsOut,
        dtype: "f32",
        rows: ROWS,
        dim: DIM,
        threadsPerRow: WIDTH,
      }),
  },
  {
    name: `fused_norm_add_f32 ${ROWS} x ${DIM}, ${WIDTH} threads a row`,
    kernel: "fused_norm_add_f32",
    encode: (e, registry) =>
      fusedNormAddSync(e, {
        registry,
        residual: rowsIn,
        input: rowsIn2,
        weight,
        output: rowsOut,
        dtype: "f32",
        rows: ROWS,
        dim: DIM,
        eps: 1e-6,
        threadsPerRow: WIDTH,
      }),
  },
  {
    name: `kernel_mul_mv_q4_0_f32 ${MV.n} x ${MV.k}`,
    kernel: "kernel_mul_mv_q4_0_f32",
    encode: (e, registry) =>
      ggmlMatvecSync(e, { registry, type: "q4_0", weight: q4, input: mvIn, output: mvOut, ...MV }),
  },
  {
    name: `kernel_mul_mm_q4_0_f32 ${MM.m} x ${MM.n} x ${MM.k}`,
    kernel: "kernel_mul_mm_q4_0_f32",
    encode: (e, registry) =>
      ggmlMatmulSync(e, {
        registry,
        type: "q4_0",
        weight: q4mm,
        input: mmIn,
        output: mmOut,
        ...MM,
      }),
  },
  {
    name: `steel_attention f32 causal, ${ATTN.nHeads} heads x ${ATTN.qLen} x ${ATTN.headDim}`,
    kernel: "steel_attention_float32_bq32_bk16_bd256_wm4_wn1_maskfloat32",
    // Aligned query and key tiles, no mask, causal, no tile skipping (ops/flash_attn_prefill.ts).
    constants: { 200: true, 201: true, 300: false, 301: true, 303: false },
    encode: (e, registry) =>
      flashAttnPrefillSync(e, {
        registry,
        q: attnQ,
        k: attnK,
        v: attnV,
        output: attnOut,
        dtype: "f32",
        causal: true,
        ...ATTN,
      }),
  },
];

// Create every pipeline once per registry, the fibers ones under the variable.
const VARIABLE = "METAL_COMPUTE_CPU_EXECUTION";
for (const c of CASES) runOnce(device, (e) => c.encode(e, loops));
Deno.env.set(VARIABLE, "fibers");
try {
  for (const c of CASES) runOnce(device, (e) => c.encode(e, fibers));
} finally {
  Deno.env.delete(VARIABLE);
}
for (const c of CASES) {
  const how = [loops, fibers].map((r) =>
    r.getPipelineSync(c.kernel, device, c.constants).execution
  );
  if (how[0] !== "work-item-loops" || how[1] !== "fibers") {
    throw new Error(
      `${c.kernel} runs as ${how.join(" and ")}: expected work-item loops and fibers`,
    );
  }
}

for (const c of CASES) {
  Deno.bench({
    name: `${c.name}: fibers`,
    group: c.name,
    baseline: true,
    fn: () => {
      runOnce(device, (e) => c.encode(e, fibers));
    },
  });
  Deno.bench({
    name: `${c.name}: work-item loops`,
    group: c.name,
    fn: () => {
      runOnce(device, (e) => c.encode(e, loops));
    },
  });
}
