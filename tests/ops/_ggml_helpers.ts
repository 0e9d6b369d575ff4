// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// What the GGML op tests share: the tolerance of a quantized product, and the shaders' shared
// sections.
import assert from "node:assert";
import { dequantizeGgml, type GgmlType } from "../../formats/ggml.ts";
import { shaderText } from "./_helpers.ts";

/**
 * The tolerance of every GGML product: |got − expected| ≤ 2e-6 · Σ_k |w·x| (+ 1e-30),
 * measured against Σ|w·x| rather than |result| because random weights make the result cancel.
 * The kernels use the weights the reference uses (exact in the mat-vec, rounded to half in the
 * mat-mat), so what is left is f32 accumulation in another order. Measured at k = 1024:
 * mat-vec ≤ 3e-8, mat-mat ≤ 2e-7 (its MMA accumulators run along k); a mat-mat checked
 * against exact weights, or a mat-vec against half weights, is off by 2e-5, so the tolerance
 * tells the staging apart.
 */
export const GGML_RTOL = 2e-6;

/** Σ_k |w[j][k] · x[i][k]| for every output, from the exact weights. */
export function magnitudes(
  type: GgmlType,
  weight: Uint8Array,
  x: Float64Array,
  m: number,
  n: number,
  k: number,
): Float64Array {
  const w = dequantizeGgml(weight, type, new Float64Array(n * k));
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let l = 0; l < k; l++) sum += Math.abs(w[j * k + l] * x[i * k + l]);
      out[i * n + j] = sum;
    }
  }
  return out;
}

/** Asserts `got` within the GGML tolerance of `expected`, naming the first failure. */
export function assertGgmlClose(
  got: Float32Array,
  expected: Float64Array,
  scale: Float64Array,
  label: string,
): void {
  assert.strictEqual(got.length, expected.length, `${label}: length`);
  let failures = 0;
  let first = -1;
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(got[i] - expected[i]) <= GGML_RTOL * scale[i] + 1e-30)) {
      failures++;
      if (first < 0) first = i;
    }
  }
  assert.strictEqual(
    failures,
    0,
    `${label}: ${failures} of ${expected.length} out of tolerance; first [${first}]: got ${
      got[first]
    }, expected ${expected[first]} (scale ${scale[first]})`,
  );
}

/** The text between `// ---- begin shared: NAME` and `// ---- end shared: NAME` of a file. */
export function sharedSection(file: string, name: string): string | undefined {
  const text = shaderText(file);
  const begin = text.indexOf(`// ---- begin shared: ${name} `);
  const end = text.indexOf(`// ---- end shared: ${name} `);
  return begin < 0 || end < begin ? undefined : text.slice(begin, end);
}
