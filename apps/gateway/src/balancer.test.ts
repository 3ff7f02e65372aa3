import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeastOutstandingBalancer, type Candidate } from './balancer.js';

interface Replica extends Candidate {
  name: string;
  healthy: boolean;
  outstanding: number;
}

const replicas = (...names: string[]): Replica[] => names.map((name) => ({ name, healthy: true, outstanding: 0 }));

describe('LeastOutstandingBalancer', () => {
  it('goes round robin when every replica is idle', () => {
    const balancer = new LeastOutstandingBalancer<Replica>();
    const all = replicas('a', 'b', 'c');
    const picked = Array.from({ length: 6 }, () => balancer.pick(all)?.name);
    assert.deepEqual(picked, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('prefers the replica with the fewest outstanding requests', () => {
    const balancer = new LeastOutstandingBalancer<Replica>();
    const [a, b, c] = replicas('a', 'b', 'c') as [Replica, Replica, Replica];
    a.outstanding = 3;
    b.outstanding = 1;
    c.outstanding = 2;
    assert.equal(balancer.pick([a, b, c]), b);
    b.outstanding = 5;
    assert.equal(balancer.pick([a, b, c]), c);
  });

  it('spreads concurrent requests when callers count them as outstanding', () => {
    const balancer = new LeastOutstandingBalancer<Replica>();
    const all = replicas('a', 'b', 'c');
    for (let i = 0; i < 9; i++) {
      const replica = balancer.pick(all);
      assert.ok(replica);
      replica.outstanding++;
    }
    assert.deepEqual(
      all.map((r) => r.outstanding),
      [3, 3, 3],
    );
  });

  it('skips unhealthy and excluded replicas', () => {
    const balancer = new LeastOutstandingBalancer<Replica>();
    const [a, b, c] = replicas('a', 'b', 'c') as [Replica, Replica, Replica];
    a.healthy = false;
    for (let i = 0; i < 4; i++) assert.equal(balancer.pick([a, b, c], new Set([b])), c);
  });

  it('returns undefined when no replica qualifies', () => {
    const balancer = new LeastOutstandingBalancer<Replica>();
    const [a, b] = replicas('a', 'b') as [Replica, Replica];
    b.healthy = false;
    assert.equal(balancer.pick([a, b], new Set([a])), undefined);
    assert.equal(balancer.pick([]), undefined);
  });

  it('counts a suspect replica as busier until its suspicion lapses', () => {
    const balancer = new LeastOutstandingBalancer<Replica & { suspectUntil: number }>();
    const [a, b] = replicas('a', 'b').map((r) => ({ ...r, suspectUntil: 0 })) as [Replica & { suspectUntil: number }, Replica & { suspectUntil: number }];
    a.suspectUntil = 1000;
    assert.deepEqual(
      [balancer.pick([a, b], undefined, 500), balancer.pick([a, b], undefined, 500)].map((r) => r?.name),
      ['b', 'b'],
      'an idle replica is preferred to a suspect one',
    );
    b.outstanding = 4;
    assert.equal(balancer.pick([a, b], undefined, 500)?.name, 'a', 'the suspect one still takes its share when the other is busy');
    b.outstanding = 1;
    assert.equal(balancer.pick([a, b], undefined, 1500)?.name, 'a', 'no longer suspect');
  });
});

