// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The function constants an MSL source declares, read from its text (private), so that the
 * registry's hit path can read exactly the declared indices of a constants object instead of
 * enumerating its keys, and the slow path can name the declared constants when refusing one.
 *
 * Only plain declarations are trusted: `constant <type> <name> [[function_constant(<integer>)]]`.
 * A text that declares constants any other way (an index spelled by a macro or an expression,
 * a declaration made by a macro, a header included from elsewhere) yields `undefined`: the
 * caller must not rely on the list then. Declarations under `#if` count whether or not they
 * are compiled, so the list may hold more than the compiler sees, never less.
 *
 * @module
 */
import type { FunctionConstantType } from "./constants.ts";

/** One declared function constant. */
export interface DeclaredConstant {
  /** Its `[[function_constant(index)]]`. */
  readonly index: number;
  /** Its MSL name. */
  readonly name: string;
  /** Its MSL type as written (`bool`, `int`, `float`, ...). */
  readonly type: string;
}

const COMMENTS = /\/\/[^\n]*|\/\*[\s\S]*?\*\//g;
const ANY_ATTRIBUTE = /\bfunction_constant\b/g;
const USE = /\bfunction_constant\s*\(\s*([A-Za-z_][A-Za-z_0-9]*)\s*\)/g;
const DECLARATION =
  /\bconstant\s+([A-Za-z_][A-Za-z_0-9]*)\s+([A-Za-z_][A-Za-z_0-9]*)\s*\[\[\s*function_constant\s*\(\s*(0[xX][0-9a-fA-F]+|[0-9]+)[uU]?\s*\)\s*\]\]/g;
const INCLUDE = /^\s*#\s*(?:include|import)\s*[<"]([^>"]*)[>"]/gm;
/** Headers of Metal's SDK, which declare no function constants. */
const APPLE_HEADER = /^(?:metal_[a-z_]+|simd\/.*|MetalPerformancePrimitives\/.*)$/;
const TYPES: ReadonlySet<string> = new Set<FunctionConstantType>([
  "bool",
  "int",
  "uint",
  "float",
  "half",
  "short",
  "ushort",
]);

/**
 * The function constants `text` declares, ascending by index, or `undefined` when its
 * declarations are not all plain (see the module doc).
 *
 * @param text MSL source text.
 * @returns The declared constants, or undefined.
 */
export function declaredConstants(text: string): readonly DeclaredConstant[] | undefined {
  const code = text.replace(COMMENTS, " ");
  for (const [, header] of code.matchAll(INCLUDE)) {
    if (!APPLE_HEADER.test(header)) return undefined;
  }
  const byIndex = new Map<number, DeclaredConstant>();
  const names = new Set<string>();
  let declarations = 0;
  for (const [, type, name, index] of code.matchAll(DECLARATION)) {
    if (!TYPES.has(type)) return undefined; // a typedef or a macro in the type's place
    const value = Number(index);
    if (byIndex.has(value) && byIndex.get(value)!.name !== name) return undefined;
    byIndex.set(value, { index: value, name, type });
    names.add(name);
    declarations++;
  }
  // Every other mention of `function_constant` must be a use of a declared constant by name
  // (`[[buffer(5), function_constant(has_mask)]]`).
  let uses = 0;
  for (const [, word] of code.matchAll(USE)) if (names.has(word)) uses++;
  const mentions = code.match(ANY_ATTRIBUTE)?.length ?? 0;
  if (mentions !== declarations + uses) return undefined;
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
