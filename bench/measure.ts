// Measuring helpers shared by the benchmarks: wall time of one piece of work, and a process's memory over it.
import { readFileSync } from 'node:fs';

const MB = 1e6;

/** Seconds that `work` took. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Samples a process's VmRSS every `everyMs`; stop() returns the largest sample and the kernel's VmHWM, in MB. */
export function sampleMemory(pid: number, everyMs = 50): { stop(): { peakRssMb: number; hwmMb: number } } {
  const read = (field: 'VmRSS' | 'VmHWM'): number => {
    try {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match ? (Number(match[1]) * 1024) / MB : 0;
    } catch {
      return 0;
    }
  };
  let peak = read('VmRSS');
  const timer = setInterval(() => {
    peak = Math.max(peak, read('VmRSS'));
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, read('VmRSS'));
      return { peakRssMb: peak, hwmMb: read('VmHWM') };
    },
  };
}

