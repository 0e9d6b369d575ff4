// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Checks and sizes shared by the MoE routing helpers (`ops/moe_gate.ts`,
 * `ops/moe_softmax_topk.ts`) (private).
 *
 * @module
 */
import { MOE_MAX_EXPERTS } from "./_defines.ts";
import { checkCount } from "./_validate.ts";

const F32 = 4;

/** `[[threadgroup(0)]]` bytes for `n` floats (Metal wants a multiple of 16). */
export function logitScratchBytes(n: number): number {
  return Math.ceil((n * F32) / 16) * 16;
}

/**
 * Checks `nExperts` and `topK` of a top-k routing kernel.
 *
 * @param kernel The kernel, for messages.
 * @param nExperts The value given.
 * @param topK The value given.
 * @returns Both, checked.
 */
export function checkRouting(
  kernel: string,
  nExperts: unknown,
  topK: unknown,
): [number, number] {
  const experts = checkCount(kernel, "nExperts", nExperts);
  const k = checkCount(kernel, "topK", topK);
  if (experts > MOE_MAX_EXPERTS) {
    throw new RangeError(
      `Cannot encode ${kernel}: "nExperts" is ${experts}, expected at most ${MOE_MAX_EXPERTS} (the logits live in threadgroup memory)`,
    );
  }
  if (k > experts) {
    throw new RangeError(
      `Cannot encode ${kernel}: "topK" is ${k}, expected at most nExperts ${experts}`,
    );
  }
  return [experts, k];
}
