/**
 * The part-sized buffers of one store's appends, reused from one append (and one part) to the next.
 *
 * A part buffer lives for as long as its part takes to fill and upload, long enough for V8 to promote it to
 * the old generation, where a dead one is freed only by a full garbage collection. V8 starts one for external
 * memory only after about 64 MB more of it, so buffers allocated per append (two parts of 8 MiB, plus the
 * smaller ones a first part grows through) piled up to that much garbage during a 1 GiB push in 64 MiB chunks:
 * most of what kept Quayside's peak RSS above 150 MB on S3. Buffers given back here are taken by the next
 * append instead, so a steady stream of appends allocates nothing.
 */
export class PartBuffers {
  private readonly free: Buffer[] = [];
  private readonly lent = new WeakSet<Buffer>();
  private outstanding = 0;
  private mostOutstanding = 0;
  private allocations = 0;

  constructor(
    /** Size of every pooled buffer: the store's part size. */
    readonly partBytes: number,
    /** Free buffers kept for the next append; more than that go back to the garbage collector. */
    private readonly keepFree = 2,
  ) {}

  /** A free part buffer, or undefined when none is kept (the caller then grows a smaller one, or allocates). */
  takeFree(): Buffer | undefined {
    const buffer = this.free.pop();
    if (buffer !== undefined) this.lend(buffer);
    return buffer;
  }

  /** A part buffer: a free one, else a new one. */
  take(): Buffer {
    const pooled = this.takeFree();
    if (pooled !== undefined) return pooled;
    this.allocations += 1;
    const buffer = Buffer.allocUnsafe(this.partBytes);
    this.lend(buffer);
    return buffer;
  }

  /** Gives back a buffer taken from here (any other, such as a grown first buffer, is ignored). */
  give(buffer: Buffer): void {
    if (!this.lent.has(buffer)) return;
    this.lent.delete(buffer);
    this.outstanding -= 1;
    if (this.free.length < this.keepFree) this.free.push(buffer);
  }

  /** Counters for tests and diagnostics: part buffers lent right now, the most ever lent at once, and allocated. */
  stats(): { outstanding: number; mostOutstanding: number; allocations: number; free: number } {
    return { outstanding: this.outstanding, mostOutstanding: this.mostOutstanding, allocations: this.allocations, free: this.free.length };
  }

  private lend(buffer: Buffer): void {
    this.lent.add(buffer);
    this.outstanding += 1;
    this.mostOutstanding = Math.max(this.mostOutstanding, this.outstanding);
  }
}
