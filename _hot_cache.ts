// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The registry's hit path (private): name -> (device, constants as given) -> pipeline, found
 * without normalising the constants, building a string or sorting. Filled after a pipeline
 * is found the slow way.
 *
 * @module
 */
import type { FunctionConstants } from "./constants.ts";
import type { Device } from "./device.ts";
import type { Pipeline } from "./pipeline.ts";

/**
 * One specialisation seen on the slow path with plain constants (booleans and integers):
 * its indices in ascending order and the value given for each.
 */
interface Specialisation {
  readonly deviceId: number;
  readonly indices: readonly number[];
  readonly values: readonly (boolean | number)[];
  readonly pipeline: Pipeline;
}

/** What the hit path knows about one kernel name. */
interface NameEntry {
  /** Pipelines without constants, one per device. */
  readonly plain: { deviceId: number; pipeline: Pipeline }[];
  /** Specialisations with plain constants (a name rarely has more than a few). */
  readonly specialised: Specialisation[];
  /**
   * Frozen constants objects already matched, with what they matched: a frozen object cannot
   * change, so the next call with the same object needs no look at its keys.
   */
  readonly frozen: WeakMap<object, Specialisation>;
}

/**
 * Pipelines by name: without constants by device id; with plain constants as a short list of
 * specialisations compared value by value.
 *
 * The one costly step of a hit with constants is counting the object's own keys (which is
 * what refuses an extra constant): integer keys live in V8's element store, which every key
 * enumeration (`Object.keys`, `for…in`) walks and turns into strings, about 100 ns for two
 * keys. A frozen constants object skips it after its first hit.
 */
export class HotPipelines {
  #names = new Map<string, NameEntry>();

  /**
   * The cached, open pipeline for exactly these arguments, if any.
   *
   * A hit reads each remembered index directly and compares the value with `===`, so
   * `{ 200: true, 100: 4 }` and `{ 100: 4, 200: true }` hit one entry, while `1` and `true`,
   * or `4` and `{ type: "int", value: 4 }`, do not (the latter takes the normalising path,
   * where it is validated). The count of own keys must match too, so an extra or undefined
   * constant misses and is refused on the slow path.
   *
   * @returns The pipeline, or undefined (then take the normalising path).
   */
  get(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
  ): Pipeline | undefined {
    const entry = this.#names.get(name);
    if (entry === undefined) return undefined;
    const deviceId = device.id;
    if (constants === undefined) {
      for (const plain of entry.plain) {
        if (plain.deviceId === deviceId) return open(plain.pipeline);
      }
      return undefined;
    }
    if (typeof constants !== "object" || constants === null || Array.isArray(constants)) {
      return undefined;
    }
    const frozen = entry.frozen.get(constants);
    if (frozen !== undefined && frozen.deviceId === deviceId && !frozen.pipeline.closed) {
      return frozen.pipeline;
    }
    let count = -1; // counted once, after the values of some specialisation matched
    next: for (const spec of entry.specialised) {
      if (spec.deviceId !== deviceId) continue;
      const { indices, values } = spec;
      for (let i = 0; i < indices.length; i++) {
        if (constants[indices[i]] !== values[i]) continue next;
      }
      if (count === -1) count = Object.keys(constants).length;
      if (count !== indices.length) continue;
      if (Object.isFrozen(constants)) entry.frozen.set(constants, spec);
      return open(spec.pipeline);
    }
    return undefined;
  }

  /**
   * Remembers `pipeline` for these arguments, which the slow path accepted. A no-op for
   * constants that are not all plain booleans and integers (they keep the normalising path).
   */
  set(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
    pipeline: Pipeline,
  ): void {
    let entry = this.#names.get(name);
    if (entry === undefined) {
      entry = { plain: [], specialised: [], frozen: new WeakMap() };
      this.#names.set(name, entry);
    }
    const deviceId = device.id;
    if (constants === undefined) {
      const at = entry.plain.findIndex((plain) => plain.deviceId === deviceId);
      if (at === -1) entry.plain.push({ deviceId, pipeline });
      else entry.plain[at] = { deviceId, pipeline };
      return;
    }
    const indices = Object.keys(constants).map(Number).sort((a, b) => a - b);
    const values: (boolean | number)[] = [];
    for (const index of indices) {
      const value = constants[index];
      if (typeof value !== "boolean" && typeof value !== "number") return;
      values.push(value);
    }
    const spec = { deviceId, indices, values, pipeline };
    const list = entry.specialised;
    const at = list.findIndex((seen) =>
      seen.deviceId === deviceId && sameItems(seen.indices, indices) &&
      sameItems(seen.values, values)
    );
    if (at === -1) list.push(spec);
    else list[at] = spec;
  }

  /** Forgets every pipeline of `name` (its source changed). */
  delete(name: string): void {
    this.#names.delete(name);
  }

  /** Forgets everything. */
  clear(): void {
    this.#names.clear();
  }
}

function open(pipeline: Pipeline): Pipeline | undefined {
  return pipeline.closed ? undefined : pipeline;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
