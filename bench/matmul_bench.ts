// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Dense projections at model sizes, too big for the test suite on the CPU backend: decode
// mat-vecs (4096 → 4096, 2048 → 32000 vocab head, 11008 → 4096 down projection), the bf16
// gemv as GQA attention scores, and f16 prefill GEMMs. Each bench encodes one dispatch,
// commits and waits; Deno.bench reports that host time, and the device time of the same runs
// (gpuEndTime − gpuStartTime) is printed after. Run: deno bench --allow-all bench/matmul_bench.ts
//
// Figures to derive: a mat-vec moves n·k weight elements once, so GB/s = n·k·bytes / time;
// a GEMM does 2·m·n·k flops, so GFLOP/s = 2·m·n·k / time.
import { Device, KernelRegistry } from "../mod.ts";
import { deviceTimedRuns } from "./_device_time.ts";
import { denseGemm, denseGemvBf16, denseMatvec, type DenseMatvecDTypes } from "../ops/matmul.ts";

const device = Device.systemDefault();
const registry = new KernelRegistry();
// A GPU runs these in microseconds to milliseconds; the CPU backend in up to seconds.
const options = { n: 3, warmup: 1 };

const once = deviceTimedRuns(device);

const bytes = { f32: 4, f16: 2, bf16: 2 } as const;

function matvecBench(pair: DenseMatvecDTypes, n: number, k: number): void {
  const input = device.newBuffer(k * bytes[pair.dtype]);
  const weight = device.newBuffer(n * k * bytes[pair.weightDType]);
  const output = device.newBuffer(n * bytes[pair.dtype]);
  const name = `denseMatvec ${pair.weightDType}w/${pair.dtype} n ${n} k ${k}`;
  Deno.bench(name, {
    group: `matvec ${n}×${k}`,
    ...options,
  }, async () => {
    await once(
      name,
      (encoder) => denseMatvec(encoder, { registry, input, weight, output, n, k, ...pair }),
    );
  });
}

for (const [n, k] of [[4096, 4096], [32000, 2048], [4096, 11008]]) {
  matvecBench({ weightDType: "f16", dtype: "f16" }, n, k);
  matvecBench({ weightDType: "bf16", dtype: "f32" }, n, k);
}
matvecBench({ weightDType: "f32", dtype: "f32" }, 4096, 4096);
matvecBench({ weightDType: "f16", dtype: "f32" }, 4096, 4096);

{
  const n = 4096;
  const k = 4096;
  const weight = device.newBuffer(n * k * 2);
  const input = device.newBuffer(k * 4);
  const output = device.newBuffer(n * 4);
  const name = `denseGemvBf16 n ${n} k ${k}`;
  Deno.bench(name, { group: `matvec ${n}×${k}`, ...options }, async () => {
    await once(
      name,
      (encoder) => denseGemvBf16(encoder, { registry, weight, input, output, n, k }),
    );
  });
}

{
  // Attention scores: 32 query heads, 8 KV heads, 2000 cached keys of dim 128 (capacity 4096).
  const capacity = 4096;
  const keys = 2000;
  const dim = 128;
  const weight = device.newBuffer(8 * capacity * dim * 2);
  const input = device.newBuffer(32 * dim * 4);
  const output = device.newBuffer(32 * keys * 4);
  const name = "denseGemvBf16 GQA scores 32/8 heads × 2000 keys × 128";
  Deno.bench(name, options, async () => {
    await once(name, (encoder) =>
      denseGemvBf16(encoder, {
        registry,
        weight,
        input,
        output,
        n: keys,
        k: dim,
        batches: 32,
        weightBatches: 8,
        weightBatchStride: capacity * dim,
      }));
  });
}

for (const [m, n, k] of [[128, 2048, 2048], [512, 2048, 2048]]) {
  const input = device.newBuffer(m * k * 2);
  const weight = device.newBuffer(n * k * 2);
  const output = device.newBuffer(m * n * 2);
  const name = `denseGemm f16 m ${m} n ${n} k ${k}`;
  Deno.bench(name, { group: "gemm", ...options }, async () => {
    await once(
      name,
      (encoder) => denseGemm(encoder, { registry, input, weight, output, dtype: "f16", m, n, k }),
    );
  });
}
