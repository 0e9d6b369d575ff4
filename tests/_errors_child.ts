// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Child process of tests/errors_test.ts: opens a device under the permissions and environment
// the parent chose and prints the error it gets as one JSON line.
import { cacheInfo, Device, KernelRegistry, MetalComputeError } from "../mod.ts";

const scenario = Deno.args[0];
// How often the event loop ran while the device opened (an async open must not block it).
let ticks = 0;
const timer = setInterval(() => ticks++, 20);
try {
  if (scenario === "cache-info") cacheInfo();
  else if (scenario === "sync" || scenario === "load-then-sync") {
    using device = Device.openSync({ backend: "cpu", progress: false });
    using registry = new KernelRegistry();
    if (scenario === "load-then-sync") await registry.load(["softmax_f32"]);
    registry.getPipelineSync("softmax_f32", device);
  } else if (scenario === "open-sync") Device.openSync({ backend: "cpu", progress: false }).close();
  else if (scenario === "open-default-progress") (await Device.open({ backend: "cpu" })).close();
  else (await Device.open({ backend: "cpu", progress: false })).close();
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  const e = error as Error & { code?: string };
  console.log(JSON.stringify({
    name: e.name,
    code: e.code,
    message: e.message,
    base: error instanceof MetalComputeError,
    ticks,
  }));
} finally {
  clearInterval(timer);
}
