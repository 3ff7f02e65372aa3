import { randomBytes } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { Agent } from 'node:http';
import type { Logger } from '@modeldock/service-kit';
import type { GatewayConfig } from './config.js';
import type { ModelConfig } from './models-file.js';
import { buildRouting, poolKey, type Routing } from './routing.js';
import { UpstreamPool, httpProbe, type LookupFn, type PoolConfig, type ProbeFn } from './upstream-pool.js';

/** Every backend's pool, the routing over them, the shared upstream agent and the background resolve/probe timers. */
export interface Upstreams {
  /** The models configuration in force; {@link apply} replaces it. */
  readonly routing: Routing;
  /** Keep-alive agent for all upstream traffic: a new TCP connection per request would cost more than the gateway's whole latency budget. */
  readonly agent: Agent;
  /**
   * Puts `models` in force for new requests. A pool whose model, ready path and upstreams are
   * unchanged is kept with its state (replicas, readiness, outstanding requests, ejections); a new
   * one is resolved and probed at once, and until a replica passes, its backend's share goes to the
   * model's other backends. Requests in flight keep the pools they started on.
   */
  apply(models: readonly ModelConfig[]): Routing;
  /** One resolve + probe round over every pool (main calls it at start; tests call it to be deterministic). */
  refresh(): Promise<void>;
  /** Starts the periodic resolve and readiness timers (unref'd: they never keep the process alive). */
  start(): void;
  /** Stops the timers and closes upstream connections. */
  close(): void;
}

/** Options for {@link createUpstreams}; `lookup` and `probe` default to DNS and HTTP. */
export interface UpstreamsOptions {
  logger: Logger;
  lookup?: LookupFn;
  probe?: ProbeFn;
  /** Key for the replicas' public ids; random per process by default. */
  idKey?: Buffer;
}

/** Builds the routing of `config.models`, one {@link UpstreamPool} per backend. Does no I/O until `refresh` or `start`. */
export function createUpstreams(
  config: Pick<GatewayConfig, 'models' | 'resolveIntervalMs' | 'healthIntervalMs' | 'healthTimeoutMs' | 'ejectionBaseMs'>,
  options: UpstreamsOptions,
): Upstreams {
  const agent = new Agent({ keepAlive: true });
  const lookup: LookupFn = options.lookup ?? ((hostname) => dnsLookup(hostname, { all: true }));
  const probe = options.probe ?? httpProbe(agent);
  const idKey = options.idKey ?? randomBytes(32);
  const loggers = new Map<string, Logger>();
  let pools = new Map<string, UpstreamPool>();

  const build = (models: readonly ModelConfig[], version: number): { routing: Routing; created: UpstreamPool[] } => {
    const next = new Map<string, UpstreamPool>();
    const created: UpstreamPool[] = [];
    const poolFor = (poolConfig: PoolConfig): UpstreamPool => {
      const key = poolKey(poolConfig);
      let pool = next.get(key) ?? pools.get(key);
      if (pool === undefined) {
        let logger = loggers.get(poolConfig.model);
        if (logger === undefined) {
          logger = options.logger.child({ model: poolConfig.model });
          loggers.set(poolConfig.model, logger);
        }
        pool = new UpstreamPool(poolConfig, { logger, lookup, probe, healthTimeoutMs: config.healthTimeoutMs, ejectionBaseMs: config.ejectionBaseMs, idKey });
        created.push(pool);
      }
      next.set(key, pool);
      return pool;
    };
    const routing = buildRouting(models, poolFor, version);
    pools = next;
    return { routing, created };
  };
  let routing = build(config.models, 0).routing;

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, task: (pool: UpstreamPool) => Promise<void>) => {
    const timer = setInterval(() => {
      for (const pool of pools.values()) {
        task(pool).catch((err: unknown) => options.logger.error({ err, model: pool.name }, 'upstream refresh failed'));
      }
    }, ms);
    timer.unref();
    timers.push(timer);
  };

  return {
    get routing() {
      return routing;
    },
    agent,
    apply: (models) => {
      const built = build(models, routing.version + 1);
      routing = built.routing;
      for (const pool of built.created) {
        pool.refresh().catch((err: unknown) => options.logger.error({ err, model: pool.name }, 'upstream refresh failed'));
      }
      return routing;
    },
    refresh: async () => {
      await Promise.all([...pools.values()].map((pool) => pool.refresh()));
    },
    start: () => {
      if (timers.length > 0) return;
      every(config.resolveIntervalMs, (pool) => pool.resolve());
      every(config.healthIntervalMs, (pool) => pool.checkHealth());
    },
    close: () => {
      for (const timer of timers.splice(0)) clearInterval(timer);
      agent.destroy();
    },
  };
}
