// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The one C ABI, three places that must agree with it: every `MB_API` function of
 * `metal_bridge/metal_bridge.h` is defined with the same signature in `metal_bridge.m`, is
 * defined in the CPU backend (`metal_bridge/cpu/**.cpp`), and is bound in `ffi/symbols.ts`
 * with matching FFI types. And the same refusals: every bad input of
 * `tests/_bridge_refusals.ts` gets the same status and message from both implementations.
 *
 * @module
 */
import assert from "node:assert/strict";
import { openBridge } from "../ffi/library.ts";
import { SYMBOLS } from "../ffi/symbols.ts";
import { closeFixture, type Fixture, openFixture, REFUSALS } from "./_bridge_refusals.ts";
import { backendAvailable } from "./_helpers.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** A C function: normalised return and parameter types ("const char*", "uint32_t"). */
interface CFunction {
  name: string;
  result: string;
  params: string[];
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
}

/** "const  mb_device *device" -> "const mb_device*" (the parameter name dropped). */
function normaliseType(declaration: string, dropName: boolean): string {
  let type = declaration.replace(/\s+/g, " ").trim();
  if (dropName) type = type.replace(/\b[A-Za-z_]\w*$/, "");
  return type.replace(/\s*\*\s*/g, "*").trim();
}

function parseParams(list: string): string[] {
  const trimmed = list.trim();
  if (trimmed === "" || trimmed === "void") return [];
  return trimmed.split(",").map((param) => normaliseType(param, true));
}

/** `MB_API <type> <name>(<params>)` followed by `;` (declarations) or `{` (definitions). */
function parseFunctions(source: string, terminator: ";" | "{"): Map<string, CFunction> {
  const pattern = new RegExp(
    String.raw`MB_API\s+([^;{}()]*?)\b(mb_\w+)\s*\(([^)]*)\)\s*` +
      (terminator === ";" ? ";" : "\\{"),
    "g",
  );
  const functions = new Map<string, CFunction>();
  for (const match of stripComments(source).matchAll(pattern)) {
    functions.set(match[2], {
      name: match[2],
      result: normaliseType(match[1], false),
      params: parseParams(match[3]),
    });
  }
  return functions;
}

function signature(fn: CFunction): string {
  return `${fn.result} ${fn.name}(${fn.params.join(", ")})`;
}

const HEADER = parseFunctions(
  await Deno.readTextFile(`${ROOT}metal_bridge/metal_bridge.h`),
  ";",
);

Deno.test("metal_bridge.h declares the ABI's functions", () => {
  // A parser that found nothing would make every other test here pass vacuously.
  assert.ok(HEADER.size >= 30, `only ${HEADER.size} MB_API functions parsed from the header`);
  assert.deepEqual(HEADER.get("mb_encoder_set_buffer")?.params, [
    "mb_encoder*",
    "mb_buffer*",
    "uint64_t",
    "uint32_t",
  ]);
  assert.equal(HEADER.get("mb_backend_name")?.result, "const char*");
});

Deno.test("metal_bridge.m defines every header function with the header's signature", async () => {
  const defined = parseFunctions(
    await Deno.readTextFile(`${ROOT}metal_bridge/metal_bridge.m`),
    "{",
  );
  const problems: string[] = [];
  for (const fn of HEADER.values()) {
    const own = defined.get(fn.name);
    if (!own) problems.push(`missing: ${signature(fn)}`);
    else if (signature(own) !== signature(fn)) {
      problems.push(`differs: ${signature(own)}\n  header: ${signature(fn)}`);
    }
  }
  for (const name of defined.keys()) {
    if (!HEADER.has(name)) problems.push(`not in the header: ${name}`);
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});

async function cppSources(dir: string): Promise<string[]> {
  const texts: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) texts.push(...await cppSources(path));
      else if (entry.name.endsWith(".cpp")) texts.push(await Deno.readTextFile(path));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return texts;
}

Deno.test("the CPU backend defines every header function", async () => {
  const sources = (await cppSources(`${ROOT}metal_bridge/cpu`)).map(stripComments);
  const problems: string[] = [];
  for (const fn of HEADER.values()) {
    // A definition starts a line with its return type (not `if (` or `x = `) and has a body.
    const definition = new RegExp(
      String
        .raw`^[ \t]*(?:MB_API\s+)?[A-Za-z_][\w\s*]*?\b${fn.name}\s*\(([^;{}()]*)\)\s*(?:noexcept\s*)?\{`,
      "m",
    );
    const match = sources.map((source) => source.match(definition)).find((m) => m !== null);
    if (!match) problems.push(`missing: ${signature(fn)}`);
    else if (parseParams(match[1]).length !== fn.params.length) {
      problems.push(
        `${fn.name}: ${parseParams(match[1]).length} parameters, header has ${fn.params.length}`,
      );
    }
  }
  assert.deepEqual(problems, [], `metal_bridge/cpu/*.cpp:\n${problems.join("\n")}`);
});

/** The Deno FFI types a C type may be bound as. */
function ffiTypes(cType: string): string[] {
  if (cType.endsWith("*")) return ["pointer", "buffer"];
  switch (cType) {
    case "void":
      return ["void"];
    case "uint32_t":
      return ["u32"];
    case "int32_t":
    case "mb_status":
      return ["i32"];
    case "uint64_t":
    case "size_t":
      return ["u64", "usize"];
    default:
      return [`(no rule for C type ${cType})`];
  }
}

interface SymbolEntry {
  parameters: readonly string[];
  result: string;
  name?: string;
}

Deno.test("ffi/symbols.ts binds every header function with matching FFI types", () => {
  const symbols = SYMBOLS as unknown as Record<string, SymbolEntry>;
  const problems: string[] = [];
  const check = (key: string, entry: SymbolEntry, fn: CFunction) => {
    if (entry.parameters.length !== fn.params.length) {
      problems.push(`${key}: ${entry.parameters.length} parameters, ${signature(fn)}`);
      return;
    }
    fn.params.forEach((cType, i) => {
      const allowed = ffiTypes(cType);
      if (!allowed.includes(entry.parameters[i])) {
        problems.push(`${key} parameter ${i}: "${entry.parameters[i]}" for ${cType} (${allowed})`);
      }
    });
    const allowed = ffiTypes(fn.result);
    if (!allowed.includes(entry.result)) {
      problems.push(`${key} result: "${entry.result}" for ${fn.result} (${allowed})`);
    }
  };
  for (const fn of HEADER.values()) {
    const entry = symbols[fn.name];
    if (!entry) problems.push(`missing: ${fn.name}`);
    else check(fn.name, entry, fn);
  }
  // Aliases (nonblocking twins) name a header function through `name`.
  for (const [key, entry] of Object.entries(symbols)) {
    const target = HEADER.get(entry.name ?? key);
    if (!target) problems.push(`${key}: no function "${entry.name ?? key}" in the header`);
    else if (entry.name !== undefined) check(key, entry, target);
  }
  assert.deepEqual(problems, [], `ffi/symbols.ts:\n${problems.join("\n")}`);
});

// ---- Same refusals ---------------------------------------------------------------------------
// Every row of tests/_bridge_refusals.ts: run on the CPU backend here (and on Metal on macOS)
// through the raw C ABI, and checked in the sources: both implementations reach it through the
// same shared check of metal_bridge/common/contract.h, or contain the same literal text.

const CONTRACT = stripComments(await Deno.readTextFile(`${ROOT}metal_bridge/common/contract.h`));
const OBJC = stripComments(await Deno.readTextFile(`${ROOT}metal_bridge/metal_bridge.m`));
const CPU = (await cppSources(`${ROOT}metal_bridge/cpu`)).map(stripComments).join("\n");

for (const refusal of REFUSALS) {
  Deno.test(`both bridges reach the refusal of ${refusal.name} the same way`, () => {
    if ("check" in refusal.via) {
      const { check } = refusal.via;
      const defined = new RegExp(String.raw`static inline \w+ \*?${check}\(`);
      assert.match(CONTRACT, defined, `common/contract.h does not define ${check}`);
      const called = new RegExp(String.raw`\b${check}\(`);
      assert.match(OBJC, called, `metal_bridge.m does not call ${check}`);
      assert.match(CPU, called, `metal_bridge/cpu does not call ${check}`);
      // The status the shared check returns for this refusal is written in it.
      const body = CONTRACT.slice(CONTRACT.search(defined));
      const end = body.indexOf("\n}\n");
      assert.ok(
        body.slice(0, end).includes(refusal.status),
        `${check} never returns ${refusal.status}`,
      );
    } else {
      const quoted = JSON.stringify(refusal.via.literal);
      assert.ok(OBJC.includes(quoted.slice(1, -1)), `metal_bridge.m lacks ${quoted}`);
      assert.ok(CPU.includes(quoted), `metal_bridge/cpu lacks ${quoted}`);
    }
  });
}

// A backend that cannot open a device here (no clang; not macOS, or a CI virtual machine with
// no usable GPU) skips its rows and says why.
const BACKENDS = (["cpu", "metal"] as const).map((backend) => {
  const probe = backendAvailable(backend);
  return { backend, ignore: !probe.available, reason: probe.available ? "" : ` (${probe.reason})` };
});

for (const { backend, ignore, reason } of BACKENDS) {
  let fixture: Fixture | undefined;
  let cacheDir = "";
  const open = (): Fixture => {
    if (!fixture) {
      cacheDir = Deno.makeTempDirSync({ prefix: `refusals_${backend}_` });
      fixture = openFixture(openBridge(backend).symbols, backend, cacheDir);
    }
    return fixture;
  };
  for (const refusal of REFUSALS) {
    Deno.test({
      name: `${backend} bridge refuses ${refusal.name} with ${refusal.status}${reason}`,
      ignore,
      fn() {
        const result = refusal.run(open());
        assert.equal(result.status, refusal.status, result.message);
        if (typeof refusal.message === "string") assert.equal(result.message, refusal.message);
        else assert.match(result.message, refusal.message);
      },
    });
  }
  Deno.test({
    name: `${backend} refusal tests: release the fixture${reason}`,
    ignore,
    fn() {
      if (fixture) closeFixture(fixture);
      fixture = undefined;
      if (cacheDir) Deno.removeSync(cacheDir, { recursive: true });
    },
  });
}
