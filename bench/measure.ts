// Measuring helpers shared by the benchmarks: wall time of one piece of work, and a process's memory over it.
import { readdirSync, readFileSync } from 'node:fs';

const MB = 1e6;

/** Seconds that `work` took. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** The pid and its descendants (a quayside with worker processes is a primary and its children). */
function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may hold spaces, so cut after ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const siblings = parents.get(ppid) ?? [];
      siblings.push(Number(entry));
      parents.set(ppid, siblings);
    } catch {
      // The process ended while being listed.
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []));
  return tree;
}

/**
 * CPU seconds (user + system, every thread) the process and its descendants have used so far: fields 14 and 15
 * of /proc/<pid>/stat, in clock ticks (100 per second on Linux). Processes that exited meanwhile are not counted.
 */
export function cpuSecondsOfTree(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command name, field 3 (state) is index 0, so utime (14) and stime (15) are indexes 11 and 12.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Ended while being read.
    }
  }
  return ticks / 100;
}

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? (Number(match[1]) * 1024) / MB : 0;
  } catch {
    return 0;
  }
}

export interface MemoryPeaks {
  /** The largest VmRSS any one process of the tree had at a sample. */
  peakRssMb: number;
  /** The largest VmHWM (the kernel's lifetime peak) of any one process of the tree at the end. */
  hwmMb: number;
  /** The largest sum of VmRSS over the whole tree at a sample (equal to peakRssMb for one process). */
  peakTotalRssMb: number;
  /** Processes in the tree at the end. */
  processes: number;
}

/**
 * Samples the VmRSS of a process and of its descendants every `everyMs` (the tree is listed again every
 * second, so a replaced worker is seen); stop() returns the peaks in MB.
 */
export function sampleMemory(pid: number, everyMs = 50): { stop(): MemoryPeaks } {
  let tree = processTree(pid);
  let listedAt = Date.now();
  let peak = 0;
  let peakTotal = 0;
  const sample = () => {
    if (Date.now() - listedAt >= 1000) {
      tree = processTree(pid);
      listedAt = Date.now();
    }
    let total = 0;
    for (const member of tree) {
      const rss = statusField(member, 'VmRSS');
      total += rss;
      peak = Math.max(peak, rss);
    }
    peakTotal = Math.max(peakTotal, total);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      tree = processTree(pid);
      sample();
      return { peakRssMb: peak, hwmMb: Math.max(...tree.map((member) => statusField(member, 'VmHWM'))), peakTotalRssMb: peakTotal, processes: tree.length };
    },
  };
}
