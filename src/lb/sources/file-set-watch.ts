/**
 * Watches a changing set of files (the certificate files the sources read) and reports when the content of
 * any of them changes. Each file is watched through its directory, because renewal tools (certbot, cert-manager
 * sidecars, config management) replace a file by renaming a new one over it, which a watch on the file itself
 * would miss after the first time.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface FileSetWatch {
  /** Watch exactly `paths` from now on (absolute paths); their current contents are the baseline. */
  set(paths: readonly string[]): Promise<void>;
  close(): void;
}

async function contentsOf(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * `onChange(path)` is called once per settled change (after `debounceMs` of quiet) of a watched file whose
 * content differs from what was last seen; a touch or a rename of identical bytes reports nothing.
 */
export function watchFileSet(onChange: (path: string) => void, debounceMs = 100): FileSetWatch {
  const seen = new Map<string, string | null>();
  const watchers = new Map<string, FSWatcher>();
  const timers = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const check = async (path: string) => {
    const text = await contentsOf(path);
    if (closed || !seen.has(path) || seen.get(path) === text) return;
    seen.set(path, text);
    onChange(path);
  };
  const schedule = (path: string) => {
    const previous = timers.get(path);
    if (previous !== undefined) clearTimeout(previous);
    timers.set(
      path,
      setTimeout(() => {
        timers.delete(path);
        void check(path);
      }, debounceMs),
    );
  };
  const watchDirectory = (dir: string) => {
    if (watchers.has(dir)) return;
    const watcher = watch(dir, (_event, file) => {
      for (const path of seen.keys()) {
        if (dirname(path) === dir && (file === null || file === basename(path))) schedule(path);
      }
    });
    // A directory that disappears ends its watch; the file's next read then reports it as changed or gone.
    watcher.on('error', () => {
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
  };

  return {
    async set(paths) {
      if (closed) return;
      const wanted = new Set(paths);
      for (const path of [...seen.keys()]) if (!wanted.has(path)) seen.delete(path);
      for (const path of wanted) {
        if (!seen.has(path)) seen.set(path, await contentsOf(path));
        try {
          watchDirectory(dirname(path));
        } catch {
          // The directory is gone: the sources report the unreadable file when they next read it.
        }
      }
      const dirs = new Set([...seen.keys()].map((path) => dirname(path)));
      for (const [dir, watcher] of watchers) {
        if (!dirs.has(dir)) {
          watcher.close();
          watchers.delete(dir);
        }
      }
    },
    close() {
      closed = true;
      for (const timer of timers.values()) clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
