/**
 * A circuit breaker for one storage location: after `failureThreshold` consecutive failures the location is
 * avoided ("open") for `openMs`; then one trial request is let through ("half-open"): its success closes the
 * breaker, its failure opens it again for another `openMs`. A location that is down therefore costs a failed
 * attempt (or a timeout) every `openMs`, not one per request. The clock is injected so tests need no sleeps.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker avoids the location before it lets one trial through. */
  openMs: number;
  now: () => number;
}

/** The defaults of STORAGE_BREAKER_FAILURES and STORAGE_BREAKER_OPEN_S (src/config/schema.ts). */
export const DEFAULT_BREAKER_OPTIONS: Omit<CircuitBreakerOptions, 'now'> = { failureThreshold: 2, openMs: 30_000 };

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  /** A half-open trial is in flight: other requests keep avoiding the location until it answers. */
  private trialInFlight = false;

  constructor(private readonly options: CircuitBreakerOptions) {}

  /** closed: used; open: avoided; half-open: the next request is the trial. */
  state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.options.now() - this.openedAt >= this.options.openMs ? 'half-open' : 'open';
  }

  /**
   * Whether a request may use the location now. In half-open it says yes once (the trial), until that trial
   * reports success or failure.
   */
  tryAcquire(): boolean {
    const state = this.state();
    if (state === 'closed') return true;
    if (state === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
  }

  recordFailure(): void {
    this.failures += 1;
    if (this.trialInFlight || this.failures >= this.options.failureThreshold) this.openedAt = this.options.now();
    this.trialInFlight = false;
  }
}
