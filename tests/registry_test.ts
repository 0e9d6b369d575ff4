// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  FunctionConstantError,
  KernelNotFoundError,
  KernelRegistry,
  KERNELS,
  MetalComputeError,
  type Pipeline,
  ShaderCompilationError,
} from "../mod.ts";
import { testContext } from "./_helpers.ts";

// One device and one registry per file: each shader compiles once per run.
const { device, registry } = testContext();

/** Runs a one-buffer kernel `out[i] = f(i)` over `n` threads and returns `out`. */
async function runFill(pipeline: Pipeline, n: number): Promise<Float32Array> {
  using out = device.newBuffer(n * 4);
  using commands = device.newCommandBuffer();
  const encoder = commands.computeEncoder();
  encoder.setPipeline(pipeline);
  encoder.setBuffer(out, 0);
  encoder.setBytes(new Uint32Array([n]), 1);
  encoder.dispatchThreads([n], [Math.min(n, 64)]);
  encoder.end();
  commands.commit();
  await commands.completed();
  return new Float32Array(out.contents.slice(0));
}

const SCALE_SOURCE = (factor: number) => `
#include <metal_stdlib>
using namespace metal;
kernel void scale_test(device float* out [[buffer(0)]],
                       constant uint& n [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
  if (i < n) out[i] = float(i) * ${factor}.0f;
}
`;

Deno.test("KernelRegistry registers every bundled name and compiles nothing", () => {
  const fresh = new KernelRegistry();
  assert.strictEqual(fresh.sourceCount, Object.keys(KERNELS).length);
  assert.strictEqual(fresh.cachedCount, 0);
  assert.deepStrictEqual(fresh.stats, {
    libraryCompiles: 0,
    pipelineBuilds: 0,
    hits: 0,
    librariesHeld: 0,
  });
  assert.strictEqual(fresh.isCached("softmax_f32"), false);
});

Deno.test("importing mod.ts needs no shader file until getPipeline", async () => {
  // Copy the package without its .metal files: import and construction must still work,
  // and the first getPipeline is what needs the source.
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const copy = await Deno.makeTempDir();
  try {
    await new Deno.Command("cp", { args: ["-r", root + "/.", copy] }).output();
    for (const entry of Deno.readDirSync(join(copy, "shaders"))) {
      if (entry.name.endsWith(".metal")) Deno.removeSync(join(copy, "shaders", entry.name));
    }
    const script = `
      import { KernelRegistry, Device } from "./mod.ts";
      const registry = new KernelRegistry();
      console.log("constructed", registry.sourceCount, registry.stats.libraryCompiles);
      const device = Device.systemDefault();
      try { await registry.getPipeline("softmax_f32", device); console.log("compiled"); }
      catch (error) { console.log("getPipeline failed:", error.message.split("\\n")[0]); }
      device.close();`;
    await Deno.writeTextFile(join(copy, "probe.ts"), script);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "probe.ts"],
      cwd: copy,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    assert.match(text, new RegExp(`constructed ${Object.keys(KERNELS).length} 0`));
    assert.match(text, /getPipeline failed:.*softmax\.metal/);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("getPipeline() compiles one library for the 20 elementwise names", async () => {
  const names = Object.entries(KERNELS)
    .filter(([, entry]) => entry.file === "elementwise.metal")
    .map(([name]) => name);
  assert.strictEqual(names.length, 20);
  const local = new KernelRegistry();
  try {
    const pipelines = await Promise.all(names.map((name) => local.getPipeline(name, device)));
    assert.strictEqual(local.stats.libraryCompiles, 1);
    assert.strictEqual(local.stats.pipelineBuilds, 20);
    assert.strictEqual(local.cachedCount, 20);
    assert.deepStrictEqual(pipelines.map((p) => p.name), names);
    for (const name of names) assert.ok(local.isCached(name));
  } finally {
    local.close();
  }
});

Deno.test("getPipeline() shares one compile among 100 concurrent calls", async () => {
  const local = new KernelRegistry();
  try {
    const pipelines = await Promise.all(
      Array.from({ length: 100 }, () => local.getPipeline("softmax_f32", device)),
    );
    assert.ok(pipelines.every((p) => p === pipelines[0]));
    assert.strictEqual(local.stats.libraryCompiles, 1);
    assert.strictEqual(local.stats.pipelineBuilds, 1);
    assert.strictEqual(local.stats.hits, 99);
  } finally {
    local.close();
  }
});

Deno.test("getPipeline() answers a repeat from the cache, sync or async", async () => {
  const first = await registry.getPipeline("softmax_f16", device);
  const hits = registry.stats.hits;
  assert.strictEqual(registry.getPipelineSync("softmax_f16", device), first);
  assert.strictEqual(await registry.getPipeline("softmax_f16", device), first);
  assert.strictEqual(registry.stats.hits, hits + 2);
  assert.ok(first.maxTotalThreadsPerThreadgroup >= 32);
  assert.strictEqual(first.threadExecutionWidth, 32);
});

Deno.test("getPipelineSync() compiles on a miss", () => {
  const local = new KernelRegistry();
  try {
    const pipeline = local.getPipelineSync("cast_f32_to_f16", device);
    assert.strictEqual(pipeline.name, "cast_f32_to_f16");
    assert.strictEqual(local.stats.libraryCompiles, 1);
    assert.ok(local.isCached("cast_f32_to_f16"));
  } finally {
    local.close();
  }
});

Deno.test("function constants in any order are one specialisation", async () => {
  const a = await registry.getPipeline("placeholder", device, { 200: true, 100: 4 });
  const b = await registry.getPipeline("placeholder", device, { 100: 4, 200: true });
  assert.strictEqual(a, b);
  assert.ok(registry.isCached("placeholder", { 100: 4, 200: true }));
  assert.strictEqual(a.label, "placeholder[100:i4,200:b1]");
});

Deno.test("a synchronous hit with the constants' keys in another order is the same pipeline", async () => {
  const built = await registry.getPipeline("placeholder", device, { 100: 6, 200: true });
  const hits = registry.stats.hits;
  assert.strictEqual(registry.getPipelineSync("placeholder", device, { 200: true, 100: 6 }), built);
  assert.strictEqual(registry.stats.hits, hits + 1);
});

Deno.test("a frozen constants object hits again, and a new value misses", async () => {
  const constants = Object.freeze({ 200: true, 100: 5 });
  const built = await registry.getPipeline("placeholder", device, constants);
  assert.strictEqual(registry.getPipelineSync("placeholder", device, constants), built);
  assert.strictEqual(registry.getPipelineSync("placeholder", device, constants), built);
  const other = registry.getPipelineSync(
    "placeholder",
    device,
    Object.freeze({ 200: true, 100: 7 }),
  );
  assert.notStrictEqual(other, built);
});

Deno.test("an undeclared constant is refused on a miss, naming the declared ones", () => {
  assert.throws(
    () => registry.getPipelineSync("placeholder", device, { 100: 9, 20: true }),
    (error: unknown) => {
      assert.ok(error instanceof FunctionConstantError);
      assert.match(error.message, /declares no function constant at index 20\b/);
      assert.match(error.message, /'placeholder_step_value' \[\[function_constant\(100\)\]\]/);
      assert.match(error.message, /'placeholder_negate_value' \[\[function_constant\(200\)\]\]/);
      return true;
    },
  );
});

Deno.test("after a hit, a key the kernel does not declare is not read: the declared values choose", async () => {
  const built = await registry.getPipeline("placeholder", device, { 100: 4, 200: true });
  assert.strictEqual(
    registry.getPipelineSync("placeholder", device, { 100: 4, 200: true, 7: 1 }),
    built,
  );
});

Deno.test("after a hit, an undefined constant value is still refused", async () => {
  await registry.getPipeline("placeholder", device, { 100: 4 });
  assert.throws(
    () => registry.getPipelineSync("placeholder", device, { 100: 4, 200: undefined! }),
    FunctionConstantError,
  );
});

Deno.test("a hit reads the constants the kernel declares, however their indices are spelled", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource(
      "macro_index",
      `#include <metal_stdlib>
using namespace metal;
#define INDEX(n) (n + 1)
constant int width [[function_constant(INDEX(2))]];
kernel void macro_index(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = float(width);
}`,
    );
    const built = await local.getPipeline("macro_index", device, { 3: 5 });
    assert.strictEqual(local.getPipelineSync("macro_index", device, { 3: 5 }), built);
    const other = local.getPipelineSync("macro_index", device, { 3: 6 });
    assert.notStrictEqual(other, built);
    assert.strictEqual(local.getPipelineSync("macro_index", device, { 3: 6 }), other);
    assert.strictEqual(local.stats.pipelineBuilds, 2);
  } finally {
    local.close();
  }
});

Deno.test("after a hit, 1 for a bool constant is not taken for true", async () => {
  await registry.getPipeline("placeholder", device, { 100: 4, 200: true });
  assert.throws(
    () => registry.getPipelineSync("placeholder", device, { 100: 4, 200: 1 }),
    (error: unknown) => error instanceof FunctionConstantError && /200/.test(error.message),
  );
});

Deno.test("after a hit, spelled-out constants are validated and share the pipeline", async () => {
  const plain = await registry.getPipeline("placeholder", device, { 100: 4, 200: true });
  const typed = registry.getPipelineSync("placeholder", device, {
    200: { type: "bool", value: true },
    100: { type: "int", value: 4 },
  });
  assert.strictEqual(typed, plain);
  assert.throws(
    () =>
      registry.getPipelineSync("placeholder", device, {
        100: { type: "int", value: 4.5 },
        200: true,
      }),
    FunctionConstantError,
  );
});

Deno.test("distinct function constants give distinct pipelines and results", async () => {
  const plain = await registry.getPipeline("placeholder", device);
  const step3 = await registry.getPipeline("placeholder", device, { 100: 3 });
  const negated = await registry.getPipeline("placeholder", device, { 100: 3, 200: true });
  assert.notStrictEqual(plain, step3);
  assert.notStrictEqual(step3, negated);
  const n = 37;
  const [x, y, z] = [await runFill(plain, n), await runFill(step3, n), await runFill(negated, n)];
  for (let i = 0; i < n; i++) {
    assert.strictEqual(y[i], 3 * x[i]);
    assert.strictEqual(z[i], -y[i]);
  }
  assert.strictEqual(x[n - 1], n - 1);
});

Deno.test("a constant of the wrong type is a FunctionConstantError", async () => {
  await assert.rejects(
    registry.getPipeline("placeholder", device, { 100: true }),
    (error: unknown) => {
      assert.ok(error instanceof FunctionConstantError);
      assert.match(error.message, /placeholder/);
      assert.match(error.message, /100/);
      return true;
    },
  );
});

Deno.test("a constant the kernel does not declare is a FunctionConstantError", async () => {
  await assert.rejects(
    registry.getPipeline("placeholder", device, { 7: 1 }),
    (error: unknown) => error instanceof FunctionConstantError && /\b7\b/.test(error.message),
  );
});

Deno.test("a missing required constant is a FunctionConstantError", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource(
      "needs_width",
      `#include <metal_stdlib>
using namespace metal;
constant int width [[function_constant(3)]];
kernel void needs_width(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = float(width);
}`,
    );
    await assert.rejects(
      local.getPipeline("needs_width", device),
      (error: unknown) => error instanceof FunctionConstantError && /width|3/.test(error.message),
    );
    await assert.rejects(
      local.getPipeline("needs_width", device, { 4: 5 }),
      (error: unknown) =>
        error instanceof FunctionConstantError && /\b4\b/.test(error.message) &&
        /'width' \[\[function_constant\(3\)\]\] \(int, required\)/.test(error.message),
    );
    const ok = await local.getPipeline("needs_width", device, { 3: 5 });
    assert.strictEqual(ok.name, "needs_width");
  } finally {
    local.close();
  }
});

Deno.test("Pipeline.functionConstants lists the kernel's constants by index", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource(
      "reflect_constants",
      `#include <metal_stdlib>
using namespace metal;
constant bool use_bias [[function_constant(7)]];
constant int width [[function_constant(3)]];
constant bool has_bias = is_function_constant_defined(use_bias);
kernel void reflect_constants(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = float(width) + (has_bias && use_bias ? 1.0f : 0.0f);
}`,
    );
    const pipeline = await local.getPipeline("reflect_constants", device, { 3: 2 });
    assert.deepStrictEqual(pipeline.functionConstants, [
      { index: 3, name: "width", type: "int", required: true },
      { index: 7, name: "use_bias", type: "bool", required: false },
    ]);
    assert.ok(Object.isFrozen(pipeline.functionConstants));
    const plain = await registry.getPipeline("softmax_f32", device);
    assert.deepStrictEqual(plain.functionConstants, []);
  } finally {
    local.close();
  }
});

Deno.test("a bad constant value is refused before any compile", async () => {
  const compiles = registry.stats.libraryCompiles;
  await assert.rejects(
    registry.getPipeline("placeholder", device, { 100: 1.5 }),
    (error: unknown) => error instanceof FunctionConstantError && /int32/.test(error.message),
  );
  assert.throws(
    () => registry.getPipelineSync("placeholder", device, { 100: { type: "uint", value: -1 } }),
    FunctionConstantError,
  );
  assert.strictEqual(registry.stats.libraryCompiles, compiles);
});

Deno.test("KernelNotFoundError names the kernel and suggests near names", async () => {
  await assert.rejects(registry.getPipeline("sofmax_f32", device), (error: unknown) => {
    assert.ok(error instanceof KernelNotFoundError);
    assert.strictEqual(error.kernel, "sofmax_f32");
    assert.strictEqual(error.suggestions[0], "softmax_f32");
    assert.match(error.message, /Cannot find kernel "sofmax_f32": did you mean "softmax_f32"/);
    return true;
  });
  assert.throws(() => registry.getPipelineSync("elementwise_add", device), (error: unknown) => {
    assert.ok(error instanceof KernelNotFoundError);
    assert.ok(error.suggestions.includes("elementwise_add_f32"));
    return true;
  });
});

Deno.test("a registered name whose source lacks the function is KernelNotFoundError", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource("missing_fn", SCALE_SOURCE(2));
    await assert.rejects(
      local.getPipeline("missing_fn", device),
      (error: unknown) => error instanceof KernelNotFoundError && /scale_test/.test(error.message),
    );
  } finally {
    local.close();
  }
});

Deno.test("ShaderCompilationError carries the kernel, file and line:column, and quotes the line once", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource(
      "broken",
      `#include <metal_stdlib>
using namespace metal;
kernel void broken(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = undefined_name * 2.0f;
}`,
    );
    let caught: unknown;
    try {
      await local.getPipeline("broken", device);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ShaderCompilationError, String(caught));
    assert.strictEqual(caught.kernel, "broken");
    assert.strictEqual(caught.file, "broken.metal");
    const first = caught.diagnostics.find((d) => d.severity === "error");
    assert.ok(first, caught.log);
    assert.strictEqual(first.file, "broken.metal");
    assert.strictEqual(first.line, 4);
    assert.strictEqual(first.column, 12);
    assert.match(first.message, /undefined_name/);
    assert.strictEqual(
      caught.message,
      `Cannot compile "broken.metal" for kernel "broken": 1 error
broken.metal:4:12: error: ${first.message}
 4 |   out[i] = undefined_name * 2.0f;
   |            ^`,
    );
  } finally {
    local.close();
  }
});

Deno.test("a failed compile is not cached and can be retried", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource("scale_test", "kernel void scale_test( { syntax error");
    await assert.rejects(local.getPipeline("scale_test", device), ShaderCompilationError);
    await assert.rejects(local.getPipeline("scale_test", device), ShaderCompilationError);
    assert.strictEqual(local.stats.libraryCompiles, 2);
    assert.strictEqual(local.cachedCount, 0);
    local.registerSource("scale_test", SCALE_SOURCE(2));
    const pipeline = await local.getPipeline("scale_test", device);
    assert.strictEqual((await runFill(pipeline, 5))[4], 8);
  } finally {
    local.close();
  }
});

Deno.test("registerSource() invalidates the cached pipelines of that name", async () => {
  const local = new KernelRegistry();
  try {
    local.registerSource("scale_test", SCALE_SOURCE(2));
    const v1 = await local.getPipeline("scale_test", device);
    assert.deepStrictEqual([...await runFill(v1, 4)], [0, 2, 4, 6]);
    assert.ok(local.isCached("scale_test"));
    local.registerSource("scale_test", SCALE_SOURCE(3));
    assert.strictEqual(local.isCached("scale_test"), false);
    const v2 = await local.getPipeline("scale_test", device);
    assert.notStrictEqual(v1, v2);
    assert.deepStrictEqual([...await runFill(v2, 4)], [0, 3, 6, 9]);
    assert.strictEqual(local.stats.libraryCompiles, 2);
  } finally {
    local.close();
  }
});

Deno.test("a replaced text's library stays while another name still serves it", async () => {
  const local = new KernelRegistry();
  const both = `#include <metal_stdlib>
using namespace metal;
kernel void scale_a(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) { out[i] = i; }
kernel void scale_b(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) { out[i] = 2 * i; }
`;
  try {
    local.registerSource("scale_a", both);
    local.registerSource("scale_b", both);
    await local.getPipeline("scale_a", device);
    local.registerSource("scale_a", SCALE_SOURCE(2).replace("scale_test", "scale_a"));
    assert.strictEqual(local.stats.librariesHeld, 1, "scale_b still serves the shared text");
    await local.getPipeline("scale_b", device);
    assert.strictEqual(local.stats.libraryCompiles, 1, "scale_b reused the shared library");
    local.registerSource("scale_b", SCALE_SOURCE(2).replace("scale_test", "scale_b"));
    assert.strictEqual(local.stats.librariesHeld, 0, "no name serves the shared text any more");
  } finally {
    local.close();
  }
});

Deno.test("two sources defining one kernel name never share a cache entry", async () => {
  const a = new KernelRegistry();
  try {
    a.registerSource("scale_test", SCALE_SOURCE(5));
    const five = await a.getPipeline("scale_test", device);
    assert.strictEqual((await runFill(five, 2))[1], 5);
    a.registerSource("scale_test", SCALE_SOURCE(7));
    const seven = await a.getPipeline("scale_test", device);
    assert.strictEqual((await runFill(seven, 2))[1], 7);
    assert.ok(five.closed, "registerSource released the pipeline it replaced");
  } finally {
    a.close();
  }
});

Deno.test("precompile() builds the named pipelines on a device and reports each", async () => {
  const local = new KernelRegistry();
  try {
    const names = ["softmax_f32", "softmax_f16", "softmax_bf16"];
    const seen: number[] = [];
    const summary = await local.precompile(names, {
      device,
      concurrency: 2,
      onProgress: ({ name, status, done, total }) => {
        assert.ok(names.includes(name));
        assert.notStrictEqual(status, "failed");
        assert.strictEqual(total, 3);
        seen.push(done);
      },
    });
    assert.deepStrictEqual(seen, [1, 2, 3]);
    assert.strictEqual(summary.total, 3);
    assert.strictEqual(summary.failed.length, 0);
    assert.strictEqual(summary.compiled + summary.fromCache, 3);
    assert.strictEqual(summary.libraryCompiles, 1);
    for (const name of names) assert.ok(local.isCached(name));
  } finally {
    local.close();
  }
});

Deno.test("precompile() without a device fills the persistent cache", async () => {
  const local = new KernelRegistry();
  try {
    const summary = await local.precompile(["transpose_2d_f16"]);
    assert.strictEqual(summary.failed.length, 0);
    assert.strictEqual(local.isCached("transpose_2d_f16"), false); // its device is closed
    const pipeline = await local.getPipeline("transpose_2d_f16", device);
    assert.strictEqual(pipeline.origin, "cache");
  } finally {
    local.close();
  }
});

Deno.test("precompile() refuses an unknown name before building anything", async () => {
  const local = new KernelRegistry();
  try {
    await assert.rejects(local.precompile(["softmax_f33"], { device }), KernelNotFoundError);
    assert.strictEqual(local.stats.libraryCompiles, 0);
  } finally {
    local.close();
  }
});

Deno.test("a closed registry refuses work with a named error", async () => {
  const local = new KernelRegistry();
  local.close();
  local.close(); // idempotent
  await assert.rejects(
    local.getPipeline("softmax_f32", device),
    (error: unknown) => error instanceof MetalComputeError && error.code === "MB_ERR_CLOSED",
  );
});

Deno.test("KernelRegistry.close() closes the pipelines it built and empties the cache", async () => {
  const local = new KernelRegistry();
  const pipeline = await local.getPipeline("softmax_f32", device);
  assert.strictEqual(local.cachedCount, 1);
  local.close();
  assert.ok(pipeline.closed);
  assert.strictEqual(local.cachedCount, 0);
});
