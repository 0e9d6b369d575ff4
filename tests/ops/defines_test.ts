// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Shader text vs. host constants: tuning numbers mirrored in ops/_defines.ts, and the
// kernel-name tables of the op modules vs. the catalogue and the shaders' host names.
import assert from "node:assert";
import {
  CUMSUM_MAX_SIMDGROUPS,
  CUMSUM_N_READS,
  ELEMENTWISE_N_READS,
  L2_NORM_MAX_SIMDGROUPS,
  SOFTMAX_MAX_SIMDGROUPS,
  SSM_NORM_GATE_MAX_SIMDGROUPS,
} from "../../ops/_defines.ts";
import { ELEMENTWISE_KERNELS } from "../../ops/elementwise.ts";
import { PLACEHOLDER_KERNEL } from "../../ops/placeholder.ts";
import { SOFTMAX_KERNELS } from "../../ops/softmax.ts";
import { KERNELS, type ShaderFile } from "../../shaders/catalog.ts";
import { shaderConstant, shaderText } from "./_helpers.ts";

/**
 * Kernel names a shader defines: host_name instantiations and plain (non-template)
 * [[kernel]] functions.
 */
function kernelNames(text: string): string[] {
  const hostNames = [...text.matchAll(/\[\[host_name\("([A-Za-z0-9_]+)"\)\]\]/g)].map((m) => m[1]);
  const plain = [...text.matchAll(/(?<!>\n)^\[\[kernel\]\] void ([A-Za-z0-9_]+)\(/gm)].map((m) =>
    m[1]
  );
  return [...hostNames, ...plain].sort();
}

function leaves(table: object): string[] {
  return Object.values(table).flatMap((v) => typeof v === "string" ? [v] : leaves(v));
}

function catalogueNames(file: ShaderFile): string[] {
  return Object.entries(KERNELS).filter(([, e]) => e.file === file).map(([n]) => n).sort();
}

Deno.test("ELEMENTWISE_N_READS matches elementwise.metal", () => {
  assert.strictEqual(
    shaderConstant(shaderText("elementwise.metal"), "ELEMENTWISE_N_READS"),
    ELEMENTWISE_N_READS,
  );
});

Deno.test("SOFTMAX_MAX_SIMDGROUPS matches softmax.metal", () => {
  assert.strictEqual(
    shaderConstant(shaderText("softmax.metal"), "SOFTMAX_MAX_SIMDGROUPS"),
    SOFTMAX_MAX_SIMDGROUPS,
  );
});

Deno.test("CUMSUM_MAX_SIMDGROUPS and CUMSUM_N_READS match cumsum.metal", () => {
  const text = shaderText("cumsum.metal");
  assert.strictEqual(shaderConstant(text, "CUMSUM_MAX_SIMDGROUPS"), CUMSUM_MAX_SIMDGROUPS);
  assert.strictEqual(shaderConstant(text, "CUMSUM_N_READS"), CUMSUM_N_READS);
});

Deno.test("L2_NORM_MAX_SIMDGROUPS matches l2_norm.metal", () => {
  assert.strictEqual(
    shaderConstant(shaderText("l2_norm.metal"), "L2_NORM_MAX_SIMDGROUPS"),
    L2_NORM_MAX_SIMDGROUPS,
  );
});

Deno.test("SSM_NORM_GATE_MAX_SIMDGROUPS matches ssm_norm_gate.metal", () => {
  assert.strictEqual(
    shaderConstant(shaderText("ssm_norm_gate.metal"), "SSM_NORM_GATE_MAX_SIMDGROUPS"),
    SSM_NORM_GATE_MAX_SIMDGROUPS,
  );
});

Deno.test("elementwise.metal defines exactly its 20 catalogue names, all in ELEMENTWISE_KERNELS", () => {
  const expected = catalogueNames("elementwise.metal");
  assert.strictEqual(expected.length, 20);
  assert.deepStrictEqual(kernelNames(shaderText("elementwise.metal")), expected);
  assert.deepStrictEqual(leaves(ELEMENTWISE_KERNELS).sort(), expected);
});

Deno.test("softmax.metal defines exactly its 3 catalogue names, all in SOFTMAX_KERNELS", () => {
  const expected = catalogueNames("softmax.metal");
  assert.deepStrictEqual(expected, ["softmax_bf16", "softmax_f16", "softmax_f32"]);
  assert.deepStrictEqual(kernelNames(shaderText("softmax.metal")), expected);
  assert.deepStrictEqual(leaves(SOFTMAX_KERNELS).sort(), expected);
});

Deno.test("placeholder.metal defines the placeholder kernel", () => {
  assert.deepStrictEqual(catalogueNames("placeholder.metal"), [PLACEHOLDER_KERNEL]);
  assert.deepStrictEqual(kernelNames(shaderText("placeholder.metal")), [PLACEHOLDER_KERNEL]);
});
