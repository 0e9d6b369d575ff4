// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The registry's hit path (private): name -> (device, constants as given) -> pipeline, found
 * without normalising the constants, building a string, sorting or enumerating keys. Filled
 * after a pipeline is found the slow way.
 *
 * @module
 */
import type { FunctionConstants } from "./constants.ts";
import type { Device } from "./device.ts";
import type { Pipeline } from "./pipeline.ts";

/**
 * One specialisation seen on the slow path with plain constants (booleans and integers):
 * the indices it read in ascending order and the value given for each (`undefined`: not
 * given). With a known declaration list the indices are the declared ones, all of them.
 */
interface Specialisation {
  readonly deviceId: number;
  readonly indices: readonly number[];
  readonly values: readonly (boolean | number | undefined)[];
  readonly pipeline: Pipeline;
}

/** What the hit path knows about one kernel name. */
interface NameEntry {
  /**
   * The function-constant indices the name's source declares, ascending, when its text shows
   * them plainly (`_declared_constants.ts`); undefined otherwise.
   */
  readonly declared: readonly number[] | undefined;
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
 * When the source's declarations are known, a hit reads exactly the declared indices of the
 * constants object, in order, and compares each with the specialisation's value (`undefined`
 * where it was not given): no key is enumerated. Enumerating is what a hit cannot afford:
 * integer keys live in V8's element store, which every key enumeration (`Object.keys`,
 * `for…in`) walks and turns into strings, about 100 ns for two keys, more than the rest of
 * the hit. The price: a key the kernel does not declare, or a declared key whose value is
 * `undefined`, is not seen on a hit; the call returns the pipeline its declared values
 * select. Such constants are refused on the slow path, where every call without a cached
 * specialisation goes (the first use of one included).
 *
 * Without known declarations (an index spelled by a macro, a declaration in a header), a hit
 * also counts the object's own keys, so an extra constant misses and is refused; a frozen
 * constants object skips the count after its first hit.
 */
export class HotPipelines {
  #names = new Map<string, NameEntry>();

  /**
   * The cached, open pipeline for these arguments, if any.
   *
   * A hit reads each declared (else remembered) index directly and compares the value with
   * `===`, so `{ 200: true, 100: 4 }` and `{ 100: 4, 200: true }` hit one entry, while `1`
   * and `true`, or `4` and `{ type: "int", value: 4 }`, do not (the latter takes the
   * normalising path, where it is validated). Keys outside the declared indices are not read
   * (see the class doc); without known declarations the count of own keys must match too.
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
    const declared = entry.declared;
    if (declared !== undefined) {
      next: for (const spec of entry.specialised) {
        if (spec.deviceId !== deviceId) continue;
        const values = spec.values;
        for (let i = 0; i < declared.length; i++) {
          if (constants[declared[i]] !== values[i]) continue next;
        }
        return open(spec.pipeline);
      }
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
    declared: readonly number[] | undefined,
  ): void {
    let entry = this.#names.get(name);
    if (entry === undefined) {
      entry = { declared, plain: [], specialised: [], frozen: new WeakMap() };
      this.#names.set(name, entry);
    }
    const deviceId = device.id;
    if (constants === undefined) {
      const at = entry.plain.findIndex((plain) => plain.deviceId === deviceId);
      if (at === -1) entry.plain.push({ deviceId, pipeline });
      else entry.plain[at] = { deviceId, pipeline };
      return;
    }
    const given = Object.keys(constants).map(Number).sort((a, b) => a - b);
    for (const index of given) {
      const value = constants[index];
      if (typeof value !== "boolean" && typeof value !== "number") return;
      if (entry.declared !== undefined && !entry.declared.includes(index)) return;
    }
    const indices = entry.declared ?? given;
    const values = indices.map((index) => constants[index] as boolean | number | undefined);
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
