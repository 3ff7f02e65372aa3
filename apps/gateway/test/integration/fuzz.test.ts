import assert from 'node:assert/strict';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startGateway, type TestGateway } from './harness.js';
import { startUpstream, type FakeUpstream } from './upstream.js';

/** Fixed, so a failure reproduces; bounded, so the property runs in a few seconds. */
const SEED = 20_260_701;
const RUNS = 400;
/** A request that takes longer than this is a hang. */
const REQUEST_DEADLINE_MS = 5000;

/** Path pieces that reach every gateway route and its edges. */
const SEGMENTS = [
  'v1', 'V1', 'v2', 'models', 'Models', 'm', 'other', 'nope', 'infer', 'ready', 'versions', 'labels', '1', '007', 'x',
  'metadata', 'm:predict', 'm:classify', 'm:regress', 'm:explain', 'other:PREDICT', 'health', 'live', 'metrics', 'embeddings',
  'predict_topic', 'healthz', 'readyz', '%ff', '%', '%2', '%E0%A4%A', '%2F', '%2e%2e', '..', '.', '', 'm%2Dx', '%00', '~', ':',
  '%5c', '%5C', '.%2E', '\\', 'm\\..', '#', 'infer#x', '%23',
];

/**
 * Percent-encodes what an HTTP request line cannot carry, but leaves `%`, `\` and `#` raw so that
 * malformed escapes, backslashes and fragments get through.
 */
function toTarget(raw: string): string {
  return raw.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@%/?\\#]/gu, (ch) => encodeURIComponent(ch));
}

const segment = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...SEGMENTS) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });

const path = fc.oneof(
  // Known routes with fuzzed pieces.
  fc.tuple(fc.constantFrom('/v2/models/', '/v1/models/', '/models/', '/models/m/v2/models/', '/models/m/v1/models/', '/models/m/'), fc.array(segment, { maxLength: 4 })).map(
    ([prefix, rest]) => prefix + rest.join('/'),
  ),
  fc.constantFrom('/v2', '/v2/health/live', '/v2/health/ready', '/healthz', '/readyz', '/models', '/v1/models', '/v1/embeddings', '/predict_topic', '/metrics', '/'),
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
);

const query = fc.option(fc.constantFrom('?x=1', '?%ff', '?a=%', '?', '?model=m&&'), { nil: '' });

const deepJson = fc.integer({ min: 1, max: 50_000 }).map((depth) => '{"model":'.repeat(depth) + '"m"' + '}'.repeat(depth));

const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.record({ model: fc.oneof(fc.constantFrom('m', 'other', 'nope', ''), fc.string(), fc.integer()), input: fc.string() }).map((v) => JSON.stringify(v)),
  deepJson,
  fc.integer({ min: 1, max: 100_000 }).map((depth) => '['.repeat(depth)),
  fc.string({ maxLength: 200 }),
);

const headers = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', 'x/y'),
    'x-request-id': fc.constantFrom('ok-1', 'has space', 'x'.repeat(300), '../../etc'),
    'x-modeldock-deadline-ms': fc.constantFrom('-1', '0', '1e9', 'soon'),
    accept: fc.constantFrom('*/*', 'text/html'),
    'x-dup': fc.constant(null).map(() => ['1', '2']),
  },
  { requiredKeys: [] },
);

const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH');

interface Reply {
  status: number;
  text: string;
}

function send(base: string, req: { method: string; target: string; headers: OutgoingHttpHeaders; body: string | undefined }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const outgoing = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.target,
        // Framed explicitly: Node's client sends a GET or HEAD body unframed, which is a malformed request.
        headers: req.body === undefined ? req.headers : { ...req.headers, 'content-length': Buffer.byteLength(req.body) },
        agent: false,
        signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

function isOpenAiRoute(target: string): boolean {
  const pathname = (target.split('?')[0] ?? '').toLowerCase().replace(/\/$/, '');
  return pathname === '/v1/embeddings' || pathname === '/v1/models';
}

describe('every gateway route under fuzzed input (fast-check)', () => {
  let upstreams: FakeUpstream[] = [];
  let gateway: TestGateway;

  before(async () => {
    upstreams = await Promise.all([startUpstream('m'), startUpstream('other')]);
    gateway = await startGateway(
      {
        m: { upstream: upstreams[0]?.url ?? '', aliases: [{ method: 'POST', path: '/predict_topic' }] },
        other: { upstream: upstreams[1]?.url ?? '' },
      },
      { GATEWAY_MAX_BODY_BYTES: String(256 * 1024), GATEWAY_CLIENT_MAX_CONCURRENCY: '0' },
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  it('never answers 5xx, never hangs, and every 4xx body is exactly {"error": string} (OpenAI routes: OpenAI errors)', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, body, async (verb, rawPath, rawQuery, extra, payload) => {
        const target = toTarget(rawPath + rawQuery);
        const reply = await send(gateway.url, { method: verb, target, headers: extra, body: payload });
        assert.ok(reply.status < 500, `${verb} ${target} answered ${reply.status}: ${reply.text.slice(0, 200)}`);
        if (reply.status >= 400 && verb !== 'HEAD') {
          const parsed = JSON.parse(reply.text) as Record<string, unknown>;
          const error = parsed.error as Record<string, unknown> | string;
          if (isOpenAiRoute(target) && typeof error === 'object') {
            assert.deepEqual(Object.keys(parsed), ['error']);
            assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type']);
            assert.equal(typeof error.message, 'string');
          } else {
            assert.deepEqual(Object.keys(parsed), ['error'], `${verb} ${target}: ${reply.text}`);
            assert.equal(typeof error, 'string', `${verb} ${target}: ${reply.text}`);
          }
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });

  it('answers deep and wide JSON at the body-routed endpoints with a 4xx or the replica, never a 5xx or a hang', async () => {
    const depth = fc.integer({ min: 1, max: 120_000 });
    const width = fc.integer({ min: 1, max: 60_000 });
    const model = fc.constantFrom('"m"', '"other"', '"nope"', '3', '{}', '[]');
    /** A body, and whether it nests deeper than 32 levels before its top-level model (the scan's limit). */
    type Case = [body: string, deepBeforeModel: boolean];
    const deepBody: fc.Arbitrary<Case> = fc.oneof(
      // Deep before the model: refused at depth 33 by the scan, or forwarded when shallow enough.
      fc.tuple(depth, model).map(([d, m]): Case => [`{"input":${'['.repeat(d)}${']'.repeat(d)},"model":${m}}`, d + 1 > 32]),
      fc.tuple(depth, model).map(([d, m]): Case => [`{"input":${'{"a":'.repeat(d)}1${'}'.repeat(d)},"model":${m}}`, d + 1 > 32]),
      // Deep after the model: the scan stops at the model, the replica judges the rest.
      fc.tuple(depth, model).map(([d, m]): Case => [`{"model":${m},"input":${'['.repeat(d)}${']'.repeat(d)}}`, false]),
      // Never closed, or closed wrongly.
      depth.map((d): Case => [`{"input":${'[{"x":'.repeat(d)}`, 2 * d + 1 > 32]),
      depth.map((d): Case => [`{"input":${'['.repeat(d)}${'}'.repeat(d)}`, d + 1 > 32]),
      // Wide: long arrays, many keys, long strings, the model last.
      fc.tuple(width, model).map(([w, m]): Case => [`{"input":[${'0,'.repeat(w)}0],"model":${m}}`, false]),
      fc.tuple(width, model).map(([w, m]): Case => [`{${Array.from({ length: w }, (_, i) => `"k${i}":${i}`).join(',')},"model":${m}}`, false]),
      fc.tuple(width, model).map(([w, m]): Case => [`{"input":"${'\\"'.repeat(w)}","model":${m}}`, false]),
      width.map((w): Case => [`[${'{"model":"m"},'.repeat(w)}{}]`, false]),
    );
    const endpoint = fc.constantFrom('/v1/embeddings', '/models/m/v1/embeddings', '/predict_topic', '/v2/models/m/infer', '/v1/models/m:predict');
    await fc.assert(
      fc.asyncProperty(endpoint, deepBody, async (target, [payload, deepBeforeModel]) => {
        const reply = await send(gateway.url, { method: 'POST', target, headers: { 'content-type': 'application/json' }, body: payload });
        assert.ok(reply.status < 500, `POST ${target} (${payload.length} bytes) answered ${reply.status}: ${reply.text.slice(0, 200)}`);
        if (reply.status >= 400) {
          const parsed = JSON.parse(reply.text) as { error: unknown };
          assert.deepEqual(Object.keys(parsed), ['error']);
        }
        if (target === '/v1/embeddings' && deepBeforeModel && reply.status !== 413) {
          assert.equal(reply.status, 400, `nested past 32 levels before the model: ${payload.slice(0, 60)}`);
        }
        if (target === '/v1/embeddings' && reply.status === 200) {
          // Forwarded only when the scan found a configured model before nesting past 32 levels.
          const served = (JSON.parse(reply.text) as { served: string }).served;
          assert.ok(payload.startsWith(`{"model":"${served}"`) || payload.endsWith(`"model":"${served}"}`), payload.slice(0, 80));
        }
      }),
      { seed: SEED, numRuns: 150, endOnFailure: true },
    );
  });
});
