// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// One start-up measured in a fresh process (bench/startup.ts runs it): opens the CPU device and
// builds the named pipelines, with the cache directory from METAL_COMPUTE_CACHE_DIR.
// Strategy "ours": one library per shader file (the registry's keys). Strategy "per-name": one
// library per kernel name (mlx-native's registry), forced by giving each name its own copy of its
// file's text (plus one unused function, so no two copies share a compile). Both build through registry.precompile (parallel, bounded by the core count).
// Prints {"importMs", "openMs", "firstMs", "allMs", "libraryCompiles", "compiled", "fromCache",
// "failed"} as JSON: importMs is importing mod.ts (the same with any cache); the other times
// count from its end: opening the device, the first pipeline, all of them.
const beforeImport = performance.now();
const { Device, KernelRegistry, KERNELS } = await import("../mod.ts");
const { loadShader } = await import("../shaders/catalog.ts");
type Name = keyof typeof KERNELS;

const start = performance.now();
const [strategy, ...names] = Deno.args;
using device = Device.openSync({ backend: "cpu" });
const openMs = performance.now() - start;
using registry = new KernelRegistry();
if (strategy === "per-name") {
  // A distinct declaration (not a comment: the preprocessor would drop it, and the CPU
  // backend keys modules by the preprocessed text) so no two names share a compile.
  for (const [i, name] of names.entries()) {
    const { file } = KERNELS[name as Name];
    registry.registerSource(
      name,
      `${await loadShader(file)}\ninline void mb_per_name_${i}() {}\n`,
      file,
    );
  }
}
let firstMs = NaN;
const constants = Object.fromEntries(
  names.flatMap((name) => {
    const given = KERNELS[name as Name].constants;
    return given ? [[name, given]] : [];
  }),
);
const summary = await registry.precompile(names, {
  device,
  constants,
  onProgress: ({ status }) => {
    if (status !== "failed" && Number.isNaN(firstMs)) firstMs = performance.now() - start;
  },
});
console.log(JSON.stringify({
  importMs: start - beforeImport,
  openMs,
  firstMs,
  allMs: performance.now() - start,
  libraryCompiles: summary.libraryCompiles,
  compiled: summary.compiled,
  fromCache: summary.fromCache,
  failed: summary.failed.map((f) => f.name),
}));
