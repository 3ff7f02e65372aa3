import { readFileSync } from 'node:fs';
import type { Logger } from '@modeldock/service-kit';
import type { ModelsFile } from './config.js';
import { parseModels } from './models-file.js';
import type { Upstreams } from './upstreams.js';
import { WATCH_POLL_MS, watchFile } from './watch-file.js';

/** The models file under watch; see {@link watchModelsFile}. */
export interface ModelsWatch {
  /** Reads the file again now (SIGHUP). */
  reload(): void;
  close(): void;
}

/** What a reload did: `applied` (in force for new requests), `refused` (the running configuration kept), `unchanged`. */
export type ReloadResult = 'applied' | 'refused' | 'unchanged';

/**
 * Keeps the gateway's models file in force without a restart: when it changes (see `watchFile`,
 * within a few seconds) or on {@link ModelsWatch.reload}, it is read and checked as at start; a
 * file that passes is applied with `Upstreams.apply` (new requests follow the new weights at once,
 * requests in flight finish on the backends they started on, unchanged pools keep their state),
 * one that does not is refused with every problem logged, and the running configuration stays.
 * `text` is what was read at start, so that an unchanged file changes nothing.
 */
export function watchModelsFile(
  file: ModelsFile,
  upstreams: Upstreams,
  { logger, onReload, pollMs = WATCH_POLL_MS }: { logger: Logger; onReload?: (result: ReloadResult) => void; pollMs?: number },
): ModelsWatch {
  let applied = readText(file.path);
  const reload = () => {
    let result: ReloadResult;
    const text = readText(file.path);
    if (text !== undefined && text === applied) {
      result = 'unchanged';
    } else {
      try {
        if (text === undefined) throw new Error(`invalid configuration: ${file.source}: cannot read ${file.path}`);
        const models = parseModels(text, file.source, file.defaults);
        const routing = upstreams.apply(models);
        applied = text;
        result = 'applied';
        logger.info(
          {
            file: file.path,
            version: routing.version,
            models: models.map((m) => ({ name: m.name, backends: m.backends.map((b) => `${b.name}=${b.weight}`), shadow: m.shadow })),
          },
          'models file reloaded',
        );
      } catch (err) {
        result = 'refused';
        logger.error({ file: file.path, reason: err instanceof Error ? err.message : String(err) }, 'models file not usable; keeping the running configuration');
      }
    }
    onReload?.(result);
  };
  const watch = watchFile(file.path, reload, pollMs);
  return { reload: () => watch.check(true), close: () => watch.close() };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
