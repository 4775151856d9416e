import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * First come, first served, one at a time: for work that is heavy on the event loop (parsing a large
 * manifest), so that several such requests at once delay everyone else by one of them, not by all.
 */
export class Turns {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `work` once every earlier call's work has finished. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      await previous;
      // Whatever I/O queued up meanwhile (other clients' requests) runs before this turn's synchronous part.
      await yieldToEventLoop();
      return await work();
    } finally {
      done();
    }
  }
}
