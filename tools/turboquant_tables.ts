// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno run --allow-read --allow-write tools/turboquant_tables.ts [--write]`: the data tables
 * of the TurboQuant shaders (the sign bytes, the Lloyd–Max codebooks and their decision
 * boundaries), generated from `ops/turboquant_ref.ts`. Metal has no shared include between
 * bundled shader files, so each of the four TurboQuant `.metal` files carries the tables it
 * needs between a `// BEGIN generated tables: …` line naming them and `// END generated tables`;
 * this script prints or rewrites those blocks, and `tests/ops/turboquant_test.ts` fails when a
 * block differs from what this script would write.
 *
 * @module
 */
import {
  TURBOQUANT_SIGN_BYTES,
  type TurboquantBits,
  turboquantCodebook,
} from "../ops/turboquant_ref.ts";

/** One generated table: `signs`, `codebook<bits>` or `boundaries<bits>`. */
export type TurboquantTable = "signs" | `${"codebook" | "boundaries"}${TurboquantBits}`;

/** The shader files that carry generated tables. */
export const TURBOQUANT_TABLE_FILES = [
  "fwht_standalone.metal",
  "hadamard_quantize_kv_fast.metal",
  "tq_dequantize_kv.metal",
  "flash_attn_vec_tq_hb.metal",
] as const;

const BLOCK = /\/\/ BEGIN generated tables: ([^\n]*)\n[\s\S]*?\/\/ END generated tables\n/g;

function floats(values: Float32Array): string {
  // 9 significant digits round-trip every f32.
  return [...values].map((v) => `${v.toPrecision(9)}f`).join(",");
}

function lines(items: string, perLine: number): string {
  const parts = items.split(",");
  const out: string[] = [];
  for (let i = 0; i < parts.length; i += perLine) {
    out.push("    " + parts.slice(i, i + perLine).map((part) => part.trim()).join(", ") + ",");
  }
  return out.join("\n");
}

/**
 * The MSL text of one table.
 *
 * @param table Which table.
 * @returns Its declaration, e.g. `constant float TQ_CODEBOOK_4[16] = { … };`.
 *
 * @example Usage
 * ```ts
 * import { turboquantMslTable } from "./turboquant_tables.ts";
 * import assert from "node:assert";
 *
 * assert.match(turboquantMslTable("codebook4"), /^constant float TQ_CODEBOOK_4\[16\] = \{/);
 * ```
 */
export function turboquantMslTable(table: TurboquantTable): string {
  if (table === "signs") {
    const bytes = [...TURBOQUANT_SIGN_BYTES].map((b) => `0x${b.toString(16).padStart(2, "0")}`);
    return `constant uchar TQ_SIGN_BYTES[64] = {\n${lines(bytes.join(","), 16)}\n};`;
  }
  const bits = Number(table.replace(/\D+/, "")) as TurboquantBits;
  const { centroids, boundaries } = turboquantCodebook(bits);
  const values = table.startsWith("codebook") ? centroids : boundaries;
  const name = table.startsWith("codebook") ? `TQ_CODEBOOK_${bits}` : `TQ_BOUNDARIES_${bits}`;
  return `constant float ${name}[${values.length}] = {\n${lines(floats(values), 6)}\n};`;
}

/**
 * Rewrites every generated block of a shader text from the tables its BEGIN line names.
 *
 * @param text A `.metal` file's text.
 * @returns The text with fresh blocks (equal to `text` when it is up to date).
 *
 * @example Usage
 * ```ts
 * import { regenerateTurboquantTables } from "./turboquant_tables.ts";
 * import assert from "node:assert";
 *
 * const text = "// BEGIN generated tables: codebook4\n// END generated tables\n";
 * assert.match(regenerateTurboquantTables(text), /TQ_CODEBOOK_4\[16\]/);
 * ```
 */
export function regenerateTurboquantTables(text: string): string {
  return text.replace(BLOCK, (_, names: string) => {
    const tables = names.trim().split(/\s+/) as TurboquantTable[];
    const body = tables.map(turboquantMslTable).join("\n\n");
    return `// BEGIN generated tables: ${tables.join(" ")}\n${body}\n// END generated tables\n`;
  });
}

if (import.meta.main) {
  const { parseCli } = await import("./_cli.ts");
  const { values } = parseCli({
    usage: "deno run --allow-read --allow-write tools/turboquant_tables.ts [--write]",
    summary:
      "Prints which TurboQuant shader tables are out of date; --write regenerates them in place.",
    options: { write: { type: "boolean", description: "rewrite the blocks in shaders/" } },
  });
  for (const file of TURBOQUANT_TABLE_FILES) {
    const url = new URL(`../shaders/${file}`, import.meta.url);
    const text = Deno.readTextFileSync(url);
    const fresh = regenerateTurboquantTables(text);
    if (fresh === text) {
      console.log(`${file}: up to date`);
    } else if (values.write) {
      Deno.writeTextFileSync(url, fresh);
      console.log(`${file}: rewritten`);
    } else {
      console.log(`${file}: out of date (run with --write)`);
    }
  }
}
