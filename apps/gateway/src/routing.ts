import type { ModelConfig } from './models-file.js';
import { createRouter, type Router } from './stages/route/paths.js';
import type { PoolConfig, UpstreamPool } from './upstream-pool.js';

/** One backend of one model as requests reach it: its pool of replicas and its weight. */
export interface BackendRoute {
  readonly name: string;
  readonly weight: number;
  readonly pool: UpstreamPool;
  /** The model's configuration (deadlines), as in force when this request's routing was loaded. */
  readonly config: ModelConfig;
  /** Where copies of the requests it serves go: the model's shadow, unless this is the shadow backend itself. */
  readonly shadow: ShadowRoute | undefined;
}

/** Where a share of a model's requests is copied after their answer. */
export interface ShadowRoute {
  readonly backend: BackendRoute;
  /** 0 to 100. */
  readonly percent: number;
}

/** One model's backends, as the select-backend stage picks among them. */
export interface ModelBackends {
  readonly name: string;
  readonly config: ModelConfig;
  /** In configuration order. */
  readonly backends: readonly BackendRoute[];
  readonly byName: ReadonlyMap<string, BackendRoute>;
  /** The backends with a weight above 0: the weighted pick's candidates. */
  readonly weighted: readonly BackendRoute[];
  readonly totalWeight: number;
  readonly shadow: ShadowRoute | undefined;
}

/**
 * One version of the models configuration, in force from its load until the next: a request reads
 * it once (the route stage) and keeps it, so a reload changes where new requests go and never where
 * a request in flight is going.
 */
export interface Routing {
  readonly models: ReadonlyMap<string, ModelBackends>;
  readonly router: Router;
  /** 0 for the configuration read at start, one more per reload applied. */
  readonly version: number;
  /** Unix seconds when it was loaded (OpenAI's `created` in `/v1/models`). */
  readonly loadedAt: number;
}

/**
 * What identifies a pool across reloads: the model, its ready path and its replicas' addresses. A
 * backend renamed or reweighted keeps its pool (readiness, outstanding counts, ejections); one whose
 * upstreams change gets a new pool.
 */
export function poolKey(config: PoolConfig): string {
  return [config.model, config.readyPath, ...config.upstreams.map((u) => u.url).sort()].join('\n');
}

/** Builds the routing of `models`, asking `poolFor` for each backend's pool (a kept one or a new one). */
export function buildRouting(models: readonly ModelConfig[], poolFor: (config: PoolConfig) => UpstreamPool, version: number): Routing {
  const routes = new Map<string, ModelBackends>();
  for (const config of models) {
    const backends: { -readonly [K in keyof BackendRoute]: BackendRoute[K] }[] = config.backends.map((backend) => ({
      name: backend.name,
      weight: backend.weight,
      pool: poolFor({ model: config.name, upstreams: backend.upstreams, readyPath: config.readyPath }),
      config,
      shadow: undefined,
    }));
    const byName = new Map<string, BackendRoute>(backends.map((backend) => [backend.name, backend]));
    const weighted = backends.filter((backend) => backend.weight > 0);
    const shadowTarget = config.shadow === undefined ? undefined : byName.get(config.shadow.backend);
    const shadow = config.shadow === undefined || shadowTarget === undefined ? undefined : { backend: shadowTarget, percent: config.shadow.percent };
    for (const backend of backends) if (backend !== shadowTarget) backend.shadow = shadow;
    routes.set(config.name, {
      name: config.name,
      config,
      backends,
      byName,
      weighted,
      totalWeight: weighted.reduce((sum, backend) => sum + backend.weight, 0),
      shadow,
    });
  }
  return { models: routes, router: createRouter(models), version, loadedAt: Math.floor(Date.now() / 1000) };
}

/** Whether the model can serve a request that pins no backend: one of its weighted backends has a ready replica. */
export function modelReady(model: ModelBackends): boolean {
  return model.weighted.some((backend) => backend.pool.ready);
}

function byWeight(candidates: readonly BackendRoute[], total: number, random: number): BackendRoute {
  let left = random * total;
  for (const backend of candidates) {
    if (backend.weight <= 0) continue;
    left -= backend.weight;
    if (left < 0) return backend;
  }
  // Rounding can leave a sliver past the last one.
  return candidates[candidates.length - 1] as BackendRoute;
}

/**
 * The backend for a request that pins none: one of the weighted backends, each with the chance its
 * weight gives it (weighted random, as Envoy's weighted clusters). A backend without a ready replica
 * gives its share to the others in proportion to their weights: the pick is made again among the
 * ready ones, and `onUnready` hears of the backend skipped. When no weighted backend is ready the
 * first pick stands, and the forward stage answers that no replica is ready.
 */
export function pickBackend(model: ModelBackends, onUnready?: (skipped: BackendRoute) => void, random: () => number = Math.random): BackendRoute {
  const weighted = model.weighted;
  if (weighted.length === 1) return weighted[0] as BackendRoute;
  const chosen = byWeight(weighted, model.totalWeight, random());
  if (chosen.pool.ready) return chosen;
  let readyWeight = 0;
  for (const backend of weighted) if (backend.pool.ready) readyWeight += backend.weight;
  if (readyWeight === 0) return chosen;
  onUnready?.(chosen);
  let left = random() * readyWeight;
  let last = chosen;
  for (const backend of weighted) {
    if (!backend.pool.ready) continue;
    last = backend;
    left -= backend.weight;
    if (left < 0) return backend;
  }
  return last;
}
