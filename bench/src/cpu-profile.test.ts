import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { originOf, summariseProfile } from './cpu-profile.js';

describe('originOf', () => {
  it('names the package, the Node module, the app, or the pseudo-frame a function comes from', () => {
    assert.equal(originOf('handle', 'file:///r/node_modules/.pnpm/express@5.3.0/node_modules/express/lib/router.js'), 'express');
    assert.equal(originOf('x', 'file:///r/node_modules/.pnpm/@types+x/node_modules/@scope/pkg/index.js'), '@scope/pkg');
    assert.equal(originOf('onData', 'node:_http_server'), 'node:_http_server');
    assert.equal(originOf('forward', 'file:///r/apps/gateway/dist/stages/forward/index.js'), 'apps/gateway');
    assert.equal(originOf('(garbage collector)', ''), '(garbage collector)');
    assert.equal(originOf('writev', ''), '(native)');
  });
});

describe('summariseProfile', () => {
  it('adds up self time per function and per origin from the samples and their deltas, leaving idle time out', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });
    const summary = summariseProfile({
      nodes: [
        { id: 1, callFrame: frame('(root)', '') },
        { id: 2, callFrame: frame('parse', 'node:_http_common') },
        { id: 3, callFrame: frame('route', 'file:///r/apps/gateway/dist/app.js') },
        { id: 4, callFrame: frame('(idle)', '') },
      ],
      samples: [2, 3, 3, 4, 2],
      timeDeltas: [0, 1000, 3000, 2000, 9000],
      startTime: 0,
      endTime: 6000,
    });
    assert.equal(summary.totalMs, 6);
    assert.deepEqual(summary.functions[0], { name: 'route (apps/gateway/dist/app.js:10)', selfMs: 5, percent: 83.3 });
    assert.deepEqual(
      summary.origins.map((o) => [o.name, o.selfMs]),
      [
        ['apps/gateway', 5],
        ['node:_http_common', 1],
      ],
    );
  });
});
