// CPU time instead of wall-clock time for tests that must show that work was (or was not) done: a loaded
// machine stretches wall-clock time without bound, but cannot make a bcrypt check cost less CPU.

/** The CPU time (user + system, every thread of this process) spent while `work` ran, in microseconds. */
export async function cpuMicros(work: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const spent = process.cpuUsage(before);
  return spent.user + spent.system;
}
