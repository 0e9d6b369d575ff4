// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// The catalogue against the shader files on disk: every bundled `.metal` file defines exactly
// the kernel names its table declares, and every table and file is listed once.
import assert from "node:assert";
import { KERNELS, namesOf, SHADER_NAMES, type ShaderFile } from "../shaders/catalog.ts";
import * as TABLES from "../shaders/_tables.ts";

const SHADERS = new URL("../shaders/", import.meta.url);

function filesEndingWith(suffix: string): string[] {
  return [...Deno.readDirSync(SHADERS)]
    .filter((entry) => entry.isFile && entry.name.endsWith(suffix))
    .map((entry) => entry.name)
    .sort();
}

/** The text without comments, so a commented-out kernel does not count. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, "");
}

/**
 * Kernel names a shader defines: every `[[host_name("...")]]`, and every kernel function that
 * is not a template (a template's kernels exist only through its host_name instantiations).
 */
function definedKernels(text: string): string[] {
  const source = withoutComments(text);
  const hostNames = [...source.matchAll(/\[\[\s*host_name\(\s*"([^"]+)"\s*\)\s*\]\]/g)]
    .map((m) => m[1]);
  const plain: string[] = [];
  for (const m of source.matchAll(/(?:\[\[\s*kernel\s*\]\]|\bkernel)\s+void\s+(\w+)\s*\(/g)) {
    const before = source.slice(0, m.index).trimEnd();
    if (!before.endsWith(">")) plain.push(m[1]); // `template <...>` right before: a template
  }
  return [...hostNames, ...plain].sort();
}

Deno.test("every bundled .metal file is in the catalogue, and every catalogue file exists", () => {
  assert.deepStrictEqual(filesEndingWith(".metal"), Object.keys(SHADER_NAMES).sort());
});

for (const file of filesEndingWith(".metal")) {
  Deno.test(`${file} defines exactly the kernel names of its table`, () => {
    const text = Deno.readTextFileSync(new URL(file, SHADERS));
    const expected = [...(SHADER_NAMES[file as ShaderFile] ?? [])].sort();
    assert.ok(expected.length > 0, `${file} has no table in shaders/_tables.ts`);
    assert.deepStrictEqual(definedKernels(text), expected);
    for (const name of expected) assert.strictEqual(KERNELS[name].file, file);
  });
}

Deno.test("every kernel name belongs to exactly one shader file", () => {
  const all = Object.values(TABLES).flatMap((table) => namesOf(table.kernels));
  assert.strictEqual(new Set(all).size, all.length, "a name appears in two tables");
  assert.strictEqual(Object.keys(KERNELS).length, all.length);
});

Deno.test("each table sits beside its .metal file and shaders/_tables.ts lists every table", () => {
  for (const table of Object.values(TABLES)) {
    const stem = table.file.replace(/\.metal$/, "");
    const [exported] = Object.entries(TABLES).find(([, t]) => t === table)!;
    assert.strictEqual(exported, `${stem.toUpperCase()}_SHADER`);
  }
  const tableFiles = filesEndingWith(".ts").filter((name) =>
    !["catalog.ts", "_tables.ts"].includes(name)
  );
  assert.deepStrictEqual(
    tableFiles,
    Object.values(TABLES).map((table) => table.file.replace(/\.metal$/, ".ts")).sort(),
  );
});

Deno.test("the definedKernels() parser skips templates and comments", () => {
  const text = `
// [[kernel]] void commented_out(device float* x) {}
/* kernel void also_commented(device float* x) {} */
template <typename T>
[[kernel]] void generic(device T* x [[buffer(0)]]) {}
template [[host_name("generic_f32")]] [[kernel]] decltype(generic<float>) generic<float>;
[[kernel]] void plain_f32(device float* x [[buffer(0)]]) {}
kernel void spelled_f16(device half* x [[buffer(0)]]) {}
`;
  assert.deepStrictEqual(definedKernels(text), ["generic_f32", "plain_f32", "spelled_f16"]);
});
