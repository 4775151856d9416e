import type { ThrottleState, ThrottleStore } from '../../src/db/account-metadata.js';

/** A ThrottleStore in a Map, for the pure throttle tests. */
export class MemoryThrottleStore implements ThrottleStore {
  readonly states = new Map<string, ThrottleState>();

  async get(key: string): Promise<ThrottleState | undefined> {
    const state = this.states.get(key);
    return state && { ...state };
  }

  async put(key: string, state: ThrottleState): Promise<void> {
    this.states.set(key, { ...state });
  }

  async reset(key: string): Promise<void> {
    this.states.delete(key);
  }
}
