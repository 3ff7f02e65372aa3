import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseModels } from './models-file.js';
import { buildRouting, modelReady, pickBackend, poolKey, type BackendRoute } from './routing.js';
import type { PoolConfig, UpstreamPool } from './upstream-pool.js';

/** A stand-in pool: only what routing reads (its model name, and whether it has a ready replica). */
function fakePool(config: PoolConfig): UpstreamPool {
  return { name: config.model, config, ready: true, endpoints: [] } as unknown as UpstreamPool;
}

function routingOf(models: unknown) {
  const configs = parseModels(JSON.stringify(models), 'test', { timeoutMs: 1000, attemptTimeoutMs: 1000, maxTimeoutMs: 1000 });
  return buildRouting(configs, fakePool, 0);
}

/** A deterministic stream of uniform numbers in [0, 1) (a linear congruential generator). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const setReady = (backend: BackendRoute | undefined, ready: boolean) => Object.assign(backend?.pool as object, { ready });

const SPLIT = {
  m: {
    backends: [
      { name: 'v1', upstream: 'http://a:1', weight: 90 },
      { name: 'v2', upstream: 'http://b:1', weight: 10 },
      { name: 'v3', upstream: 'http://c:1', weight: 0 },
    ],
  },
};

function counts(pick: () => BackendRoute, n: number): Map<string, number> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = pick().name;
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return seen;
}

describe('pickBackend', () => {
  it('splits by weight and never picks a backend at weight 0', () => {
    const model = routingOf(SPLIT).models.get('m');
    assert.ok(model !== undefined);
    const random = seeded(1);
    const seen = counts(() => pickBackend(model, undefined, random), 10_000);
    assert.equal(seen.get('v3'), undefined);
    const share = (seen.get('v2') ?? 0) / 10_000;
    assert.ok(Math.abs(share - 0.1) < 0.02, `v2 got ${share}`);
  });

  it("gives an unready backend's share to the ready ones, and says which backend it skipped", () => {
    const model = routingOf(SPLIT).models.get('m');
    assert.ok(model !== undefined);
    setReady(model.byName.get('v1'), false);
    const skipped: string[] = [];
    const seen = counts(() => pickBackend(model, (backend) => skipped.push(backend.name), seeded(2)), 1000);
    assert.deepEqual([...seen], [['v2', 1000]], 'v3 stays at weight 0: it takes no share');
    assert.ok(skipped.length > 800 && skipped.every((name) => name === 'v1'), `skipped ${skipped.length}`);
    assert.equal(modelReady(model), true);
    setReady(model.byName.get('v2'), false);
    assert.equal(modelReady(model), false, 'a ready backend at weight 0 does not make the model ready');
    assert.ok(['v1', 'v2'].includes(pickBackend(model, () => assert.fail('nothing to fall back to'), seeded(3)).name));
  });

  it('picks the only weighted backend without drawing a number', () => {
    const model = routingOf({ m: { upstream: 'http://a:1' } }).models.get('m');
    assert.ok(model !== undefined);
    assert.equal(pickBackend(model, undefined, () => assert.fail('no draw')).name, 'default');
  });
});

describe('buildRouting', () => {
  it("keeps a backend's pool when only its name or weight changes, and makes a new one for new upstreams", () => {
    const first = parseModels(JSON.stringify(SPLIT), 'test', { timeoutMs: 1000, attemptTimeoutMs: 1000, maxTimeoutMs: 1000 });
    const renamed = parseModels(
      JSON.stringify({ m: { backends: [{ name: 'stable', upstream: 'http://a:1', weight: 0 }, { name: 'v2', upstream: 'http://b:1,http://d:1', weight: 1 }] } }),
      'test',
      { timeoutMs: 1000, attemptTimeoutMs: 1000, maxTimeoutMs: 1000 },
    );
    const key = (model: typeof first, i: number) => {
      const config = model[0];
      const backend = config?.backends[i];
      assert.ok(config !== undefined && backend !== undefined);
      return poolKey({ model: config.name, upstreams: backend.upstreams, readyPath: config.readyPath });
    };
    assert.equal(key(first, 0), key(renamed, 0));
    assert.notEqual(key(first, 1), key(renamed, 1));
  });

  it('links the shadow to its backend and counts only positive weights', () => {
    const routing = routingOf({ m: { ...SPLIT.m, shadow: { backend: 'v3', percent: 50 } } });
    const model = routing.models.get('m');
    assert.equal(model?.shadow?.backend, model?.byName.get('v3'));
    assert.equal(model?.byName.get('v1')?.shadow, model?.shadow, 'the requests v1 serves are copied');
    assert.equal(model?.byName.get('v3')?.shadow, undefined, 'the shadow never copies to itself');
    assert.equal(model?.totalWeight, 100);
    assert.deepEqual(model?.weighted.map((b) => b.name), ['v1', 'v2']);
    assert.equal(routing.router.models.has('m'), true);
  });
});
