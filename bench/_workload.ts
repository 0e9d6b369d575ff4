// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Shared by the benchmark scripts (private): reproducible inputs and one timed command buffer.
import type { ComputeEncoder, Device } from "../device.ts";

/**
 * `n` pseudo-random values, uniform in [-scale, scale), the same for the same seed (a 32-bit
 * linear congruential generator: cheap for the millions of values a benchmark fills).
 *
 * @param n How many values.
 * @param seed The seed.
 * @param scale Half the width of the range.
 * @returns The values.
 */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 * 2 - 1) * scale;
  }
  return out;
}

/**
 * Encodes one command buffer on `device`, commits it and waits for it on this thread.
 *
 * @param device The device.
 * @param encode Encodes the work.
 * @returns The wall time, in milliseconds.
 */
export function runOnce(device: Device, encode: (encoder: ComputeEncoder) => void): number {
  const start = performance.now();
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encode(encoder);
  encoder.end();
  commands.commit();
  commands.waitUntilCompleted();
  return performance.now() - start;
}
