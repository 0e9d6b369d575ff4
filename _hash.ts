// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Content hashing for cache keys (private). Synchronous, so `getPipelineSync` and the bridge
 * build can key by source identity without WebCrypto's async digest.
 *
 * @module
 */

/**
 * A 64-bit hash of `text` (two 32-bit FNV-1a-style lanes over its UTF-16 units), as 16 hex
 * digits. Not cryptographic: it tells sources apart, it does not defend against attackers.
 */
export function hashText(text: string): string {
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x050c5d1f | 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h1 >>> 15);
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}
