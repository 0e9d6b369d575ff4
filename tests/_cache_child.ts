// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// A separate process for tests/cache_test.ts: registers small kernels named by the tags in
// Deno.args, precompiles them, runs each once, and prints {"origins": {tag: origin}, "ok": bool}.
// The cache directory comes from METAL_COMPUTE_CACHE_DIR (set by the test).
import { Device, KernelRegistry } from "../mod.ts";

function source(tag: string, salt: number): string {
  return `#include <metal_stdlib>
using namespace metal;
constant int offset [[function_constant(0)]];
constant bool has_offset = is_function_constant_defined(offset);
kernel void k_${tag}(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  x[i] = x[i] * 2.0f + ${salt}.0f + (has_offset ? float(offset) : 0.0f);
}
`;
}

using device = Device.openSync({ backend: "cpu" });
using registry = new KernelRegistry();
const tags = Deno.args;
tags.forEach((tag, i) => registry.registerSource(`k_${tag}`, source(tag, i), `${tag}.metal`));
const origins: Record<string, string> = {};
const summary = await registry.precompile(tags.map((tag) => `k_${tag}`), {
  device,
  onProgress: ({ name, status, error }) => {
    origins[name.slice(2)] = status;
    if (error) console.error(error);
  },
});
// One specialisation too: constants take their own module.
const special = await registry.getPipeline(`k_${tags[0]}`, device, { 0: 100 });
origins[`${tags[0]}+constants`] = special.origin;

let ok = summary.failed.length === 0;
for (const [i, tag] of tags.entries()) {
  for (
    const [pipeline, extra] of [[registry.getPipelineSync(`k_${tag}`, device), 0], [
      i === 0 ? special : undefined,
      100,
    ]] as const
  ) {
    if (!pipeline) continue;
    using buffer = device.newBuffer(new Float32Array([1, 2, 3, 4]));
    using commands = device.newCommandBuffer();
    const encoder = commands.computeEncoder();
    encoder.setPipeline(pipeline);
    encoder.setBuffer(buffer, 0);
    encoder.dispatchThreads([4], [4]);
    encoder.end();
    commands.commit();
    await commands.completed();
    const out = new Float32Array(buffer.contents);
    ok &&= out.every((v, j) => v === (j + 1) * 2 + i + extra);
  }
}
console.log(JSON.stringify({ origins, ok }));
