// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task catalog`: how much of the 185-name target catalogue (`tools/_target_catalog.ts`) this package serves, per
 * family: names registered, names whose pipeline builds on this machine's backend, and names
 * verified by a passing numeric test. A test verifies the kernels its name starts with
 * (`"softmax_f32: softmax() matches the f64 reference"`, or several: `"a_f32, b_f32: ..."`);
 * this script runs `tests/ops/` to find out which passed.
 *
 * @module
 */
import { Device, KernelRegistry } from "../mod.ts";
import { KERNELS } from "../shaders/catalog.ts";
import { TARGET_KERNELS } from "./_target_catalog.ts";
import { parseCli } from "./_cli.ts";
import { runOpsTests } from "./_ops_tests.ts";

interface Row {
  name: string;
  family: string;
  registered: boolean;
  compiles: boolean;
  verified: boolean;
  problem?: string;
}

/** Kernel names a passing test in `tests/ops/` verifies. */
async function verifiedKernels(): Promise<Set<string>> {
  const { cases } = await runOpsTests();
  return new Set(cases.filter((c) => c.passed).flatMap((c) => c.kernels));
}

async function main(): Promise<number> {
  parseCli({
    usage: "deno task catalog",
    summary: "Catalogue coverage per family: registered, compiling on this machine's backend,\n" +
      "and verified by a passing numeric test in tests/ops/.",
    options: {},
  });
  using device = await Device.open();
  using registry = new KernelRegistry();
  console.log(`catalogue coverage on ${device.name} (backend "${device.backend}")\n`);
  const verified = await verifiedKernels();
  const registered = new Map(Object.entries(KERNELS));
  const rows: Row[] = await Promise.all(TARGET_KERNELS.map(async ([name, , family]) => {
    const row: Row = {
      name,
      family,
      registered: registered.has(name),
      compiles: false,
      verified: false,
    };
    if (!row.registered) return row;
    try {
      await registry.getPipeline(name, device, registered.get(name)!.constants);
      row.compiles = true;
    } catch (error) {
      row.problem = (error as Error).message.split("\n")[0];
    }
    row.verified = row.compiles && verified.has(name);
    return row;
  }));

  const families = [...new Set(rows.map((r) => r.family))];
  const count = (list: Row[], key: "registered" | "compiles" | "verified") =>
    list.filter((r) => r[key]).length;
  console.log("family                 names  registered  compile  verified");
  for (const family of [...families, "all"]) {
    const list = family === "all" ? rows : rows.filter((r) => r.family === family);
    console.log(
      `${family.padEnd(22)} ${String(list.length).padStart(5)}  ${
        String(count(list, "registered")).padStart(10)
      }  ${String(count(list, "compiles")).padStart(7)}  ${
        String(count(list, "verified")).padStart(8)
      }`,
    );
  }

  let broken = 0;
  for (const family of families) {
    const missing = rows.filter((r) => r.family === family && !r.verified);
    if (missing.length === 0) continue;
    console.log(`\n${family}: ${missing.length} not verified`);
    for (const row of missing) {
      const why = !row.registered
        ? "not registered"
        : !row.compiles
        ? `does not compile: ${row.problem}`
        : "no passing numeric test";
      if (row.registered) broken++;
      console.log(`  ${row.name.padEnd(44)} ${why}`);
    }
  }
  return broken > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
