// The API people see, against a real `pnpm start` stack of the test's own on free ports (every model of models/
// and the gateway):
// - the gateway's GET /openapi.json is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator);
// - every route the gateway answers is in it: the routes come from the gateway's router and configuration
//   (the admin listener's GET /routes: the gateway's own answers, the router's shapes of model routes, the configured
//   aliases), with each configured model's name, versions and labels,
//   every one the gateway answers with anything but 404/405 must be described, and every described one answers;
// - every example request of the document, sent, gets the answer its response schema describes (the answers are
//   recorded in test-results/openapi-answers.json);
// - the playground (/) and the API reference (/docs) in headless Chromium: no console error, no request outside
//   the gateway, a typed question gets its topic from every version, the embeddings' similarity renders, the
//   controls are reached with the keyboard; screenshots in test-results/ (MODELDOCK_UPDATE_SCREENSHOT=1 also writes
//   docs/playground.png, the README's).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkDocument, launchChromium, matchPath, responseChecker } from '@modeldock/api-testing';
import { startStack } from '@modeldock/scripts/stack';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = path.join(ROOT, 'test-results');
const REQUEST_TIMEOUT_MS = 60_000;
const PAGE_TIMEOUT_MS = 60_000;

async function call(url, init = {}) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: kept as text.
  }
  return { status: res.status, body, text, headers: res.headers };
}

const post = (url, body) => call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Every value of `{name}` placeholders: the first of `values[name]` stands for all (each is asked on its own). */
function expand(template, values) {
  let paths = [template];
  for (const [name, options] of Object.entries(values)) {
    if (!template.includes(`{${name}}`)) continue;
    paths = paths.flatMap((p) => options.map((value) => p.replaceAll(`{${name}}`, encodeURIComponent(value))));
  }
  return paths.filter((p) => !/\{[^}]+\}/.test(p));
}

/** The concrete paths of the document's operations: each path parameter takes every value of its enum. */
function documentedOperations(document) {
  const found = [];
  for (const template of Object.keys(document.paths)) {
    const { item } = matchPath(document, template) ?? { item: document.paths[template] };
    let paths = [template];
    for (const parameter of item.parameters ?? []) {
      paths = paths.flatMap((p) => (parameter.schema.enum ?? []).map((value) => p.replace(`{${parameter.name}}`, value)));
    }
    for (const method of ['get', 'post']) {
      if (item[method] !== undefined) for (const p of paths) found.push({ method: method.toUpperCase(), path: p, operation: item[method] });
    }
  }
  return found;
}

describe('the gateway’s API, as people see it', () => {
  let stack;
  let document;
  let text;
  /** Model name → its configuration (aliases) and metadata (versions, labels). */
  const models = new Map();

  before(async () => {
    stack = await startStack();
    const listing = await call(`${stack.admin}/models`);
    for (const model of listing.body.models) {
      const metadata = (await call(`${stack.gateway}/v2/models/${model.name}`)).body;
      models.set(model.name, { versions: metadata.versions, labels: Object.keys(metadata.parameters?.version_labels ?? {}) });
    }
    const answer = await call(`${stack.gateway}/openapi.json`);
    assert.equal(answer.status, 200, answer.text.slice(0, 500));
    document = answer.body;
    text = answer.text;
    mkdirSync(RESULTS, { recursive: true });
  });
  after(async () => {
    await stack?.stop();
  });

  it('serves a valid OpenAPI 3.1 document describing every configured model', async () => {
    await checkDocument(document);
    assert.equal(document.openapi, '3.1.0');
    for (const name of models.keys()) assert.ok(document.paths[`/v2/models/${name}/infer`] !== undefined, `${name} is described`);
    assert.doesNotMatch(document.info.description, /Not described yet/);
    const modelDocuments = await Promise.all([...models.keys()].map(async (name) => [name, (await call(`${stack.gateway}/models/${name}/openapi.json`)).text.length]));
    console.log(`# the gateway's document: ${text.length} bytes, ${Object.keys(document.paths).length} paths; models' own: ${modelDocuments.map(([n, size]) => `${n} ${size} bytes`).join(', ')}`);
  });

  it('describes every route the gateway answers, and every route it describes answers', async () => {
    const names = [...models.keys()];
    const values = {
      model: names,
      version: [...new Set([...models.values()].flatMap((model) => model.versions))],
      label: [...new Set([...models.values()].flatMap((model) => model.labels))],
    };
    const candidates = [];
    const { routes } = (await call(`${stack.admin}/routes`)).body;
    for (const route of routes) {
      // A model's routes are asked with that model's own versions and labels.
      const perModel = route.path.includes('{model}') ? names.map((name) => [route.path.replaceAll('{model}', name), { version: models.get(name).versions, label: models.get(name).labels }]) : [[route.path, values]];
      for (const [template, modelValues] of perModel) {
        for (const concrete of expand(template, modelValues)) for (const method of route.methods) candidates.push({ method, path: concrete });
      }
    }
    assert.ok(candidates.length > 50, `${candidates.length} candidate routes`);
    const answered = [];
    const missing = [];
    for (const { method, path: target } of candidates) {
      const res = method === 'POST' ? await post(`${stack.gateway}${target}`, {}) : await call(`${stack.gateway}${target}`);
      if (res.status === 404 || res.status === 405) continue;
      answered.push(`${method} ${target}`);
      const match = matchPath(document, target);
      if (match?.item[method.toLowerCase()] === undefined) missing.push(`${method} ${target} (${res.status})`);
    }
    assert.deepEqual(missing, [], 'answered by the gateway but not in its document');
    const described = documentedOperations(document);
    const silent = [];
    for (const { method, path: target } of described) {
      const res = method === 'POST' ? await post(`${stack.gateway}${target}`, {}) : await call(`${stack.gateway}${target}`);
      if (res.status === 404 || res.status === 405) silent.push(`${method} ${target} (${res.status})`);
    }
    assert.deepEqual(silent, [], 'described but not answered');
    console.log(`# route coverage: ${answered.length} routes the gateway answers (of ${candidates.length} asked), all in the document; ${described.length} described operations, all answered`);
  });

  it('answers every example request of the document as its response schemas say (answers recorded)', async () => {
    const checker = responseChecker(document);
    const recorded = [];
    const problems = [];
    for (const { method, path: target, operation } of documentedOperations(document)) {
      if (target === '/metrics') continue;
      const example = operation.requestBody?.content?.['application/json']?.example;
      const res = method === 'POST' ? await post(`${stack.gateway}${target}`, example ?? {}) : await call(`${stack.gateway}${target}`);
      const documented = Object.keys(operation.responses);
      const success = documented.find((status) => status.startsWith('2'));
      if (success !== undefined && res.status !== Number(success)) problems.push(`${method} ${target}: ${res.status} ${res.text.slice(0, 200)}`);
      if (!res.headers.get('content-type')?.includes('application/json')) continue;
      problems.push(...checker.check(method, target, res.status, res.body));
      recorded.push({ method, path: target, request: example, status: res.status, body: res.body });
    }
    writeFileSync(path.join(RESULTS, 'openapi-answers.json'), JSON.stringify(recorded, null, 1));
    assert.deepEqual(problems, []);
    assert.ok(recorded.length > 40, `${recorded.length} answers recorded`);
  });

  describe('in headless Chromium', () => {
    let browser;
    before(async () => {
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
    });

    /** A page that records console errors, failed requests and every URL it asks for. */
    async function open(url) {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      page.setDefaultTimeout(PAGE_TIMEOUT_MS);
      const seen = { errors: [], requests: [] };
      page.on('console', (message) => {
        if (message.type() === 'error') seen.errors.push(message.text());
      });
      page.on('pageerror', (error) => seen.errors.push(String(error)));
      page.on('request', (request) => seen.requests.push(request.url()));
      page.on('requestfailed', (request) => seen.errors.push(`failed: ${request.url()}`));
      await page.goto(url, { waitUntil: 'load' });
      return { page, seen };
    }

    function checkOrigin(seen) {
      const origin = new URL(stack.gateway).origin;
      const elsewhere = seen.requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
      assert.deepEqual(elsewhere, [], 'requests outside the gateway');
      assert.deepEqual(seen.errors, [], 'console errors');
    }

    it('the playground: a typed question gets its topic from every version, embeddings their similarity, by keyboard, offline', async () => {
      const { page, seen } = await open(`${stack.gateway}/`);
      // Keyboard: the controls come in reading order, each with its label.
      await page.keyboard.press('Tab');
      const order = [];
      for (let i = 0; i < 12; i += 1) {
        order.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent?.trim() || ''));
        await page.keyboard.press('Tab');
      }
      const [model, inputs, run] = ['model', 'inputs', 'run'].map((id) => order.indexOf(id));
      assert.ok(model >= 0 && model < inputs && inputs < run, `focus order: ${order.join(' → ')}`);
      for (const id of ['model', 'inputs']) assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `#${id} has a label`);

      const question = 'Who wrote Hamlet?';
      await page.getByLabel('Model').selectOption('question-topic');
      await page.waitForFunction(() => !document.getElementById('run').disabled);
      await page.getByLabel('Inputs, one per line').fill(question);
      await page.getByLabel('Inputs, one per line').press('Tab');
      await page.keyboard.press('Enter');
      await page.locator('.text-result').first().waitFor();
      const shown = await page.locator('.text-result .topic').allTextContents();
      const versions = models.get('question-topic').versions;
      assert.equal(shown.length, versions.length, 'one column per served version');
      for (const [i, version] of versions.entries()) {
        const answer = await post(`${stack.gateway}/v2/models/question-topic/versions/${version}/infer`, {
          inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: [question] }],
          outputs: [{ name: 'label' }],
        });
        assert.equal(shown[i], answer.body.outputs[0].data[0], `version ${version}'s topic`);
      }
      assert.match(await page.locator('.meta').textContent(), /backend \S+ · \d+ ms/);
      assert.match(await page.locator('#curl').textContent(), /curl -s http:\/\/127\.0\.0\.1:\d+\/v2\/models\/question-topic\/infer/);
      // Where v1 and v2 disagree (v2 reads "diameter" as a number), as a reviewer of a rollout wants to see it.
      await page.getByLabel('Inputs, one per line').fill('What is the diameter of a golf ball?\nWho wrote Hamlet?\nHow many people live in Tokyo?');
      await page.getByRole('button', { name: 'Run' }).click();
      await page.locator('.text-result').nth(2).waitFor();
      await page.screenshot({ path: path.join(RESULTS, 'playground.png') });
      if (process.env.MODELDOCK_UPDATE_SCREENSHOT === '1') copyFileSync(path.join(RESULTS, 'playground.png'), path.join(ROOT, 'docs/playground.png'));

      await page.getByLabel('Model').selectOption('sentence-embedding');
      await page.waitForFunction(() => document.getElementById('inputs-label').textContent === 'Inputs, one per line' && !document.getElementById('run').disabled);
      await page.getByLabel('Inputs, one per line').fill('How old are you?\nWhat is your age?\nWhere is Rome?');
      await page.getByRole('button', { name: 'Run' }).click();
      await page.locator('table.similarity').waitFor();
      const cells = await page.locator('table.similarity tbody td').allTextContents();
      assert.equal(cells.length, 9);
      assert.deepEqual([cells[0], cells[4], cells[8]], ['1.00', '1.00', '1.00']);
      assert.ok(Number(cells[1]) > Number(cells[2]), `"How old are you?" is nearer "What is your age?" than "Where is Rome?": ${cells.join(' ')}`);
      assert.match(await page.locator('#openai').textContent(), /client\.embeddings\.create\(\{ model: 'sentence-embedding'/);
      await page.screenshot({ path: path.join(RESULTS, 'playground-embeddings.png') });

      // A model that does not take text: its OIP request as JSON, one row of zeros to start from.
      const tensorModel = [...models.keys()].find((name) => name !== 'question-topic' && name !== 'sentence-embedding');
      if (tensorModel !== undefined) {
        await page.getByLabel('Model').selectOption(tensorModel);
        await page.waitForFunction(() => document.getElementById('inputs-label').textContent.startsWith('Request body'));
        await page.getByRole('button', { name: 'Run' }).click();
        await page.locator('#results pre.json').waitFor();
        assert.match(await page.locator('#results pre.json').textContent(), /"model_name": "[^"]+"/);
      }
      checkOrigin(seen);
      await page.close();
    });

    it('the API reference renders every operation of the document, offline', async () => {
      const { page, seen } = await open(`${stack.gateway}/docs`);
      await page.locator('.operation').first().waitFor();
      const described = Object.keys(document.paths).reduce((sum, p) => sum + ['get', 'post'].filter((m) => matchPath(document, p).item[m] !== undefined).length, 0);
      assert.equal(await page.locator('.operation').count(), described);
      await page.getByLabel('Filter routes').fill('post predict_topic');
      // The alias and the same route under /models/question-topic.
      assert.equal(await page.locator('.operation:not([hidden])').count(), 2);
      await page.locator('.operation:not([hidden]) > summary').first().focus();
      await page.keyboard.press('Enter');
      assert.equal(await page.locator('.operation:not([hidden])').first().getAttribute('open'), '');
      await page.screenshot({ path: path.join(RESULTS, 'docs.png') });
      checkOrigin(seen);
      await page.close();
    });
  });
});
