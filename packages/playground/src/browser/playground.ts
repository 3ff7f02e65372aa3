// The playground at the gateway's `/`: choose a model, type inputs, see what every served version
// answers. Everything it knows comes from the gateway: the models a key may use (GET /v1/models), each
// model's signature, versions and labels (GET /v2/models/<m>), and the answers.
import { apiKey, byId, call, el, errorMessage, keyForm, type Answer } from './api.js';

interface TensorMeta {
  name: string;
  datatype: string;
  shape: number[];
}

interface ModelMetadata {
  name: string;
  versions?: string[];
  inputs: TensorMeta[];
  outputs: TensorMeta[];
  parameters?: { labels?: string[]; version?: string; version_labels?: Record<string, string> };
}

/** What the page does with a model, read from its signature. */
type Mode =
  | { kind: 'classifier'; name: string; input: string; scores: string; labels: string[]; versions: string[] }
  | { kind: 'embeddings'; name: string; dimension: number }
  | { kind: 'tensor'; name: string; metadata: ModelMetadata };

const SAMPLE_QUESTIONS = 'What is your salary?\nWho wrote Hamlet?\nWhat is the capital of Australia?';
const SAMPLE_SENTENCES = 'How old are you?\nWhat is your age?\nWhere is Rome?';
/** Most inputs one run sends (the gateway and the model have their own limits; this keeps the page readable). */
const MAX_INPUTS = 16;

const modelSelect = byId<HTMLSelectElement>('model');
const modelInfo = byId<HTMLElement>('model-info');
const inputs = byId<HTMLTextAreaElement>('inputs');
const inputsLabel = byId<HTMLLabelElement>('inputs-label');
const runButton = byId<HTMLButtonElement>('run');
const results = byId<HTMLElement>('results');
const curlSnippet = byId<HTMLElement>('curl');
const clientSnippet = byId<HTMLElement>('openai');
const clientNote = byId<HTMLElement>('openai-note');
const keys = keyForm(() => void loadModels());

let mode: Mode | undefined;
let sample = '';

const modelPath = (name: string) => encodeURIComponent(name);

/** The kind of model, from its signature: a text classifier, a text embedder, or anything else (tensors as JSON). */
function modeOf(metadata: ModelMetadata): Mode {
  const [input] = metadata.inputs;
  const text = metadata.inputs.length === 1 && input?.datatype === 'BYTES' ? input : undefined;
  const labels = metadata.parameters?.labels;
  const scores = metadata.outputs.find((output) => output.datatype === 'FP32' && output.shape.length === 2 && output.shape[1] === labels?.length);
  if (text !== undefined && labels !== undefined && scores !== undefined) {
    return { kind: 'classifier', name: metadata.name, input: text.name, scores: scores.name, labels, versions: metadata.versions ?? [] };
  }
  const [output] = metadata.outputs;
  if (text !== undefined && labels === undefined && metadata.outputs.length === 1 && output?.datatype === 'FP32' && output.shape.length === 2) {
    return { kind: 'embeddings', name: metadata.name, dimension: output.shape[1] ?? 0 };
  }
  return { kind: 'tensor', name: metadata.name, metadata };
}

/** An OIP request of one row of zeros (false, '') for every input: a start for models that do not take text. */
function zeroRequest(metadata: ModelMetadata): unknown {
  return {
    inputs: metadata.inputs.map(({ name, datatype, shape }) => {
      const row = shape.slice(1).map((size) => (size === -1 ? 1 : size));
      const size = row.reduce((a, b) => a * b, 1);
      const zero = datatype === 'BYTES' ? '' : datatype === 'BOOL' ? false : 0;
      return { name, datatype, shape: [1, ...row], data: Array.from({ length: size }, () => zero) };
    }),
  };
}

function texts(): string[] {
  return inputs.value
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(0, MAX_INPUTS);
}

function show(...children: (Node | string)[]): void {
  results.replaceChildren(...children);
}

function failure(message: string): HTMLElement {
  return el('p', { class: 'error', role: 'alert' }, message);
}

async function loadModels(): Promise<void> {
  const answer = await call('GET', '/v1/models');
  if (answer.status === 401 || answer.status === 403) {
    keys.ask(`This gateway needs an API key (${errorMessage(answer)}).`);
    modelSelect.replaceChildren();
    return;
  }
  if (!answer.ok) {
    show(failure(`Could not list the models: ${errorMessage(answer)}`));
    return;
  }
  const ids = (answer.body as { data: { id: string }[] }).data.map((model) => model.id);
  modelSelect.replaceChildren(...ids.map((id) => el('option', { value: id }, id)));
  if (ids.length === 0) {
    modelInfo.textContent = 'No model to try: none is configured, or the key may use none.';
    return;
  }
  await selectModel();
}

async function selectModel(): Promise<void> {
  const name = modelSelect.value;
  mode = undefined;
  runButton.disabled = true;
  const answer = await call('GET', `/v2/models/${modelPath(name)}`);
  if (!answer.ok) {
    modelInfo.textContent = `Model ${name}: ${errorMessage(answer)}`;
    return;
  }
  const given = answer.body as Partial<ModelMetadata>;
  const metadata: ModelMetadata = { ...given, name, inputs: given.inputs ?? [], outputs: given.outputs ?? [] };
  mode = modeOf(metadata);
  const versions = metadata.versions ?? [];
  const labels = Object.entries(metadata.parameters?.version_labels ?? {}).map(([label, version]) => `${label} → ${version}`);
  const facts = [
    mode.kind === 'classifier' ? `classifier over ${mode.labels.join(', ')}` : mode.kind === 'embeddings' ? `text embeddings, ${mode.dimension} dimensions` : 'tensors in, tensors out',
    `version${versions.length === 1 ? '' : 's'} ${versions.join(', ')}${metadata.parameters?.version === undefined ? '' : ` (default ${metadata.parameters.version})`}`,
    labels.length === 0 ? undefined : `labels ${labels.join(', ')}`,
  ];
  modelInfo.textContent = facts.filter((fact) => fact !== undefined).join('; ');
  const next = mode.kind === 'classifier' ? SAMPLE_QUESTIONS : mode.kind === 'embeddings' ? SAMPLE_SENTENCES : JSON.stringify(zeroRequest(metadata), null, 1);
  if (inputs.value.trim() === '' || inputs.value === sample) inputs.value = next;
  sample = next;
  inputsLabel.textContent = mode.kind === 'tensor' ? 'Request body (OIP v2 JSON)' : 'Inputs, one per line';
  runButton.disabled = false;
  snippets();
}

/** Who answered: the version, and the backend (the rollout's `x-modeldock-backend`, else the replica's opaque `x-served-by`). */
function servedBy(answer: Answer, version: string | undefined): HTMLElement {
  const backend = answer.headers.get('x-modeldock-backend') ?? answer.headers.get('x-served-by') ?? 'unknown';
  return el(
    'p',
    { class: 'served' },
    version === undefined ? '' : `version ${version} · `,
    `backend ${backend} · `,
    el('span', { class: 'latency' }, `${answer.ms.toFixed(0)} ms`),
  );
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)} %`;
}

async function classify(model: Extract<Mode, { kind: 'classifier' }>, questions: string[]): Promise<void> {
  const request = { inputs: [{ name: model.input, datatype: 'BYTES', shape: [questions.length], data: questions }], outputs: [{ name: model.scores }] };
  const answers = await Promise.all(
    model.versions.map((version) => call('POST', `/v2/models/${modelPath(model.name)}/versions/${encodeURIComponent(version)}/infer`, request)),
  );
  const failed = answers.find((answer) => !answer.ok);
  if (failed !== undefined) {
    show(failure(errorMessage(failed)));
    return;
  }
  const scores = answers.map((answer) => (answer.body as { outputs: { data: number[] }[] }).outputs[0]?.data ?? []);
  const width = model.labels.length;
  const cards = questions.map((question, row) => {
    const tops: string[] = [];
    const columns = model.versions.map((version, v) => {
      const values = (scores[v] ?? []).slice(row * width, (row + 1) * width);
      const best = values.indexOf(Math.max(...values));
      tops.push(model.labels[best] ?? '');
      const bars = model.labels.map((label, i) => {
        const fill = el('span', { class: 'fill' });
        fill.style.width = percent(values[i] ?? 0).replace(' ', '');
        return el('li', { class: i === best ? 'top' : '' }, el('span', { class: 'label' }, label), el('span', { class: 'bar', 'aria-hidden': 'true' }, fill), el('span', { class: 'value' }, percent(values[i] ?? 0)));
      });
      return el('div', { class: 'version' }, el('h4', {}, `v${version}: `, el('strong', { class: 'topic' }, model.labels[best] ?? '')), el('ol', { class: 'bars' }, ...bars));
    });
    const disagree = new Set(tops).size > 1;
    return el(
      'article',
      { class: 'text-result' },
      el('h3', {}, question),
      el('div', { class: 'versions' }, ...columns),
      disagree && el('p', { class: 'disagree' }, `The versions disagree: ${model.versions.map((version, v) => `v${version} ${tops[v] ?? ''}`).join(', ')}.`),
    );
  });
  const served = answers.map((answer) => servedBy(answer, (answer.body as { model_version?: string }).model_version));
  show(el('h2', {}, 'Topics'), ...cards, el('div', { class: 'meta' }, ...served));
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((value, i) => {
    const other = b[i] ?? 0;
    dot += value * other;
    na += value * value;
    nb += other * other;
  });
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

async function embed(model: Extract<Mode, { kind: 'embeddings' }>, sentences: string[]): Promise<void> {
  const answer = await call('POST', '/v1/embeddings', { model: model.name, input: sentences });
  if (!answer.ok) {
    show(failure(errorMessage(answer)));
    return;
  }
  const vectors = (answer.body as { data: { embedding: number[] }[] }).data.map((item) => item.embedding);
  const header = el('tr', {}, el('td', {}), ...sentences.map((_, i) => el('th', { scope: 'col', title: sentences[i] ?? '' }, String(i + 1))));
  const rows = sentences.map((sentence, i) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, `${i + 1}. ${sentence}`),
      ...sentences.map((_, j) => {
        const similarity = cosine(vectors[i] ?? [], vectors[j] ?? []);
        const cell = el('td', {}, similarity.toFixed(2));
        cell.style.setProperty('--similarity', String(Math.max(0, similarity)));
        return cell;
      }),
    ),
  );
  show(
    el('h2', {}, 'Similarity'),
    el('table', { class: 'similarity' }, el('caption', {}, `Cosine similarity of the inputs' ${model.dimension}-d embeddings`), el('thead', {}, header), el('tbody', {}, ...rows)),
    el('div', { class: 'meta' }, servedBy(answer, undefined)),
  );
}

async function infer(model: Extract<Mode, { kind: 'tensor' }>): Promise<void> {
  let request: unknown;
  try {
    request = JSON.parse(inputs.value);
  } catch {
    show(failure('The request body is not JSON.'));
    return;
  }
  const answer = await call('POST', `/v2/models/${modelPath(model.name)}/infer`, request);
  if (!answer.ok) {
    show(failure(errorMessage(answer)));
    return;
  }
  show(el('h2', {}, 'Answer'), el('pre', { class: 'json' }, JSON.stringify(answer.body, null, 1)), el('div', { class: 'meta' }, servedBy(answer, (answer.body as { model_version?: string }).model_version)));
}

async function run(): Promise<void> {
  if (mode === undefined) return;
  runButton.disabled = true;
  show(el('p', {}, 'Running…'));
  try {
    if (mode.kind === 'tensor') await infer(mode);
    else if (texts().length === 0) show(failure('Type at least one input.'));
    else if (mode.kind === 'classifier') await classify(mode, texts());
    else await embed(mode, texts());
  } catch (error) {
    show(failure(`The gateway did not answer: ${String(error)}`));
  } finally {
    runButton.disabled = false;
  }
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/** The request this page sends, as curl and as the OpenAI client would send it. */
function snippets(): void {
  if (mode === undefined) return;
  const origin = location.origin;
  const auth = apiKey.get() !== undefined ? ' -H "Authorization: Bearer $MODELDOCK_API_KEY"' : '';
  const client = [
    "import OpenAI from 'openai';",
    `const client = new OpenAI({ baseURL: '${origin}/v1', apiKey: process.env.MODELDOCK_API_KEY ?? 'unused' });`,
  ];
  const list = JSON.stringify(texts());
  switch (mode.kind) {
    case 'classifier': {
      const body = { inputs: [{ name: mode.input, datatype: 'BYTES', shape: [texts().length], data: texts() }] };
      curlSnippet.textContent = `curl -s${auth} ${origin}/v2/models/${modelPath(mode.name)}/infer -d ${quote(JSON.stringify(body))}\n# one version: ${origin}/v2/models/${modelPath(mode.name)}/versions/<${mode.versions.join('|')}>/infer`;
      clientSnippet.textContent = [
        ...client,
        `const { results } = await client.post('/models/${mode.name}:classify', { body: { examples: ${list}.map((text) => ({ ${JSON.stringify(mode.input)}: text })) } });`,
        'console.log(results); // per input: [topic, confidence] for every topic',
      ].join('\n');
      clientNote.textContent = "OpenAI's API has no classification route: the client posts to TF Serving's :classify, which the gateway serves under /v1 too.";
      break;
    }
    case 'embeddings':
      curlSnippet.textContent = `curl -s${auth} ${origin}/v1/embeddings -d ${quote(JSON.stringify({ model: mode.name, input: texts() }))}`;
      clientSnippet.textContent = [...client, `const { data } = await client.embeddings.create({ model: '${mode.name}', input: ${list} });`, 'console.log(data.map((item) => item.embedding.length));'].join('\n');
      clientNote.textContent = '';
      break;
    case 'tensor':
      curlSnippet.textContent = `curl -s${auth} ${origin}/v2/models/${modelPath(mode.name)}/infer -d ${quote(inputs.value.replace(/\s*\n\s*/g, ''))}`;
      clientSnippet.textContent = [...client, `const { predictions } = await client.post('/models/${mode.name}:predict', { body: { instances: [/* one value per row */] } });`].join('\n');
      clientNote.textContent = "The client posts to TF Serving's :predict, which the gateway serves under /v1 too.";
      break;
  }
}

modelSelect.addEventListener('change', () => void selectModel());
inputs.addEventListener('input', snippets);
byId<HTMLFormElement>('run-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void run();
});
void loadModels();
