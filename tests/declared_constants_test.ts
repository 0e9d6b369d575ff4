// Copyright 2026 the @metal-compute/kernels authors. MIT license.
import assert from "node:assert";
import { declaredConstants } from "../_declared_constants.ts";

Deno.test("declaredConstants() lists plain declarations by index, ignoring comments", () => {
  const text = `
// [[function_constant(7)]] in a comment is not a declaration
/* nor constant int x [[function_constant(8)]]; */
constant bool has_mask [[function_constant(300)]];
constant int  step [[ function_constant( 0x10 ) ]];
#include <metal_stdlib>
kernel void k(device float* m [[buffer(1), function_constant(has_mask)]]) {}`;
  assert.deepStrictEqual(declaredConstants(text), [
    { index: 16, name: "step", type: "int" },
    { index: 300, name: "has_mask", type: "bool" },
  ]);
  assert.deepStrictEqual(declaredConstants("kernel void k() {}"), []);
});

Deno.test("declaredConstants() gives up on declarations it cannot read plainly", () => {
  const undeclarable = [
    "#define I 3\nconstant int w [[function_constant(I)]];",
    "constant int w [[function_constant(1 + 2)]];",
    "#define AT(n) n\nconstant int w [[function_constant(AT(3))]];",
    "#define FC(n) constant int c##n [[function_constant(n)]];\nFC(4)",
    "typedef int myint;\nconstant myint w [[function_constant(2)]];",
    '#include "local_constants.h"\nconstant int w [[function_constant(2)]];',
    "constant int a [[function_constant(1)]];\nconstant float a2 [[function_constant(1)]];",
  ];
  for (const text of undeclarable) assert.strictEqual(declaredConstants(text), undefined, text);
});
