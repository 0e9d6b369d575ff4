// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Shared by the `Deno.bench` files that time one command buffer per iteration (private):
// Deno.bench reports the host time (encode + commit + wait); the device's own time of the same
// runs (gpuEndTime − gpuStartTime) is kept per bench and printed, median per bench, at exit.
import type { ComputeEncoder, Device } from "../device.ts";

/** Encodes, commits and waits for one command buffer, recording its device time under `name`. */
export type TimedRun = (
  name: string,
  encode: (encoder: ComputeEncoder) => Promise<void>,
) => Promise<void>;

/**
 * A {@linkcode TimedRun} on `device`, whose device times are printed when the process ends.
 *
 * @param device The device every run uses.
 * @returns The run function.
 */
export function deviceTimedRuns(device: Device): TimedRun {
  const deviceMs = new Map<string, number[]>();
  globalThis.addEventListener("unload", () => {
    if (deviceMs.size === 0) return;
    console.log("\ndevice time per run (gpuEndTime − gpuStartTime), median:");
    for (const [name, runs] of deviceMs) {
      const sorted = [...runs].sort((a, b) => a - b);
      console.log(`  ${name}: ${sorted[Math.floor(sorted.length / 2)].toFixed(3)} ms`);
    }
  });
  return async (name, encode) => {
    using commands = device.newCommandBuffer();
    const encoder = commands.computeEncoder();
    await encode(encoder);
    encoder.end();
    commands.commit();
    await commands.completed();
    const ms = (commands.gpuEndTime - commands.gpuStartTime) * 1000;
    deviceMs.set(name, [...(deviceMs.get(name) ?? []), ms]);
  };
}
