import { statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

/** A file kept under watch; see {@link watchFile}. */
export interface FileWatch {
  /** Looks at the file now: `onChange` runs if it changed since the last look, or always with `force` (SIGHUP). */
  check(force?: boolean): void;
  close(): void;
}

/** How often a watched file is looked at when `fs.watch` says nothing (network filesystems, some container mounts). */
export const WATCH_POLL_MS = 2000;

/** What tells a new version of the file from the last one seen: inode, size and modification time. */
function stamp(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * Calls `onChange` whenever `file` changes, within a few seconds and without a restart: `fs.watch`
 * on its folder (editors and Kubernetes ConfigMap/Secret updates replace the file by a rename, which
 * a watch on the file itself misses; Kubernetes renames its `..data` link) and a look every
 * `pollMs` as the fallback. A change is what {@link stamp} tells apart; `onChange` reads the file
 * itself and decides what to do with a version it cannot use.
 */
export function watchFile(file: string, onChange: () => void, pollMs = WATCH_POLL_MS): FileWatch {
  let seen = stamp(file);
  const check = (force = false) => {
    const now = stamp(file);
    if (now === seen && !force) return;
    seen = now;
    onChange();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name === null || name === path.basename(file) || name.startsWith('..')) check();
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(check, pollMs);
  timer.unref();
  return {
    check,
    close: () => {
      clearInterval(timer);
      watcher?.close();
    },
  };
}
