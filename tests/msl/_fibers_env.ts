// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Imported first by fibers_test.ts: pipelines created from here on run every barrier kernel on
// fibers (the CPU backend reads METAL_COMPUTE_CPU_EXECUTION when it creates a pipeline). The
// previous value comes back when the file's tests are done, so later test files are unaffected.
const VARIABLE = "METAL_COMPUTE_CPU_EXECUTION";
const previous = Deno.env.get(VARIABLE);
Deno.env.set(VARIABLE, "fibers");
globalThis.addEventListener("unload", () => {
  if (previous === undefined) Deno.env.delete(VARIABLE);
  else Deno.env.set(VARIABLE, previous);
});
