// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Shared by the registry benchmarks (private): a kernel whose constant declarations the
// registry cannot read from its text, so that its cache hits take the key-counting path.
import { fileURLToPath } from "node:url";

/**
 * `shaders/placeholder.metal` with each `[[function_constant(N)]]` index spelled by a macro
 * and the kernel renamed `placeholder_counted`: the same pipeline work, but its hits count
 * the constants' keys (the registry's hit path before it read declared indices).
 *
 * @returns The MSL text.
 */
export function countedPlaceholderSource(): string {
  const text = Deno.readTextFileSync(
    fileURLToPath(new URL("../shaders/placeholder.metal", import.meta.url)),
  );
  return "#define COUNTED_INDEX(n) n\n" +
    text.replaceAll(
      /\[\[function_constant\((\d+)\)\]\]/g,
      "[[function_constant(COUNTED_INDEX($1))]]",
    )
      .replace("[[kernel]] void placeholder(", "[[kernel]] void placeholder_counted(");
}
