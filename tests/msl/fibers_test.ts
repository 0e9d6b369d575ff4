// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The conformance suite once more with every barrier kernel on fibers. The CPU backend runs the
// barrier kernels it can split as work-item loops (pipeline.execution "work-item-loops"); this
// file imports every conformance file after setting METAL_COMPUTE_CPU_EXECUTION=fibers, so
// each of their tests runs here on fibers against the same expected values: the two strategies
// agree wherever the suite looks. Compiled modules are shared with the first run through the
// persistent cache (the strategy is chosen when the pipeline is created, not compiled in).
import "./_fibers_env.ts";
import "./address_spaces_test.ts";
import "./cooperative_inputs_test.ts";
import "./exclusions_test.ts";
import "./frontend_test.ts";
import "./half_bfloat_test.ts";
import "./lambdas_test.ts";
import "./libraries_test.ts";
import "./math_test.ts";
import "./positions_test.ts";
import "./refusals_test.ts";
import "./simd_test.ts";
import "./simdgroup_matrix_test.ts";
import "./templates_constants_test.ts";
import "./tensor_api_test.ts";
import "./threadgroup_atomics_test.ts";
import "./vectors_test.ts";
import "./work_items_test.ts";
import assert from "node:assert";

Deno.test("msl fibers: every conformance file of tests/msl is imported here", () => {
  const source = Deno.readTextFileSync(new URL(import.meta.url));
  const missing = [...Deno.readDirSync(new URL(".", import.meta.url))]
    .map((entry) => entry.name)
    .filter((name) => name.endsWith("_test.ts") && name !== "fibers_test.ts")
    .filter((name) => !source.includes(`import "./${name}";`));
  assert.deepStrictEqual(missing, [], "conformance files not run on fibers");
});
