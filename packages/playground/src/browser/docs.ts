// The API reference at the gateway's `/docs`, rendered from its OpenAPI document (GET /openapi.json):
// one section per tag, one disclosure per operation with its parameters, request and answers.
import { byId, call, el, errorMessage, keyForm } from './api.js';

type Json = Record<string, unknown>;

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Json; example?: unknown }> };
  responses?: Record<string, Json>;
  security?: unknown[];
}

interface Parameter {
  name: string;
  in: string;
  description?: string;
  schema?: Json;
}

interface Document {
  info: { title: string; version: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths: Record<string, Json>;
  components?: { securitySchemes?: Record<string, Json> };
  security?: unknown[];
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options'];
const content = byId<HTMLElement>('reference');
const filter = byId<HTMLInputElement>('filter');
const keys = keyForm(() => void load());
let doc: Document | undefined;

/** Follows local `$ref`s (`#/paths/...`, `#/components/...`), JSON Pointer segments decoded. */
function deref<T>(value: unknown): T {
  let current = value;
  for (let hops = 0; hops < 8 && typeof current === 'object' && current !== null && '$ref' in current; hops += 1) {
    const ref = String(current.$ref);
    current = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((node, raw) => (node as Json | undefined)?.[decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~')], doc);
  }
  return current as T;
}

/** A JSON Schema as an indented outline: types, constants, enums, bounds, required fields (`*`). */
function outline(schema: Json | undefined, indent = '', depth = 0): string {
  if (schema === undefined) return `${indent}any`;
  if (depth > 8) return `${indent}…`;
  const text = (value: unknown) => (typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));
  const bounds = (min: unknown, max: unknown) => (min === undefined && max === undefined ? '' : ` [${text(min ?? 0)}..${max === undefined ? '' : text(max)}]`);
  const note = typeof schema.description === 'string' ? `  — ${schema.description}` : '';
  if ('const' in schema) return `${indent}${JSON.stringify(schema.const)}${note}`;
  if (Array.isArray(schema.enum)) return `${indent}one of ${schema.enum.map((value) => JSON.stringify(value)).join(', ')}${note}`;
  const choices = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (choices !== undefined) return `${indent}either${note}\n${choices.map((choice) => `${indent}- ${outline(choice, `${indent}  `, depth + 1).trimStart()}`).join('\n')}`;
  if (schema.type === 'object') {
    const required = new Set((schema.required as string[] | undefined) ?? []);
    const properties = Object.entries((schema.properties as Record<string, Json> | undefined) ?? {});
    if (properties.length === 0) return `${indent}object${note}`;
    return `${indent}object${note}\n${properties.map(([name, property]) => `${indent}  ${name}${required.has(name) ? '*' : ''}: ${outline(property, `${indent}    `, depth + 1).trimStart()}`).join('\n')}`;
  }
  if (schema.type === 'array') {
    const tuple = schema.prefixItems as Json[] | undefined;
    if (tuple !== undefined) return `${indent}[${tuple.map((item) => outline(item, '', depth + 1).replace(/\n[\s\S]*/, '')).join(', ')}]${note}`;
    return `${indent}array${bounds(schema.minItems, schema.maxItems)} of ${outline(schema.items as Json | undefined, `${indent}  `, depth + 1).trimStart()}${note}`;
  }
  const length = schema.maxLength === undefined ? '' : ` (≤ ${text(schema.maxLength)} characters)`;
  return `${indent}${text(schema.type ?? 'any')}${length}${bounds(schema.minimum, schema.maximum)}${note}`;
}

function example(value: unknown, what: string): HTMLElement | false {
  if (value === undefined) return false;
  return el('details', { class: 'example' }, el('summary', {}, what), el('pre', { class: 'json' }, JSON.stringify(value, null, 1)));
}

function responseList(responses: Record<string, Json>): HTMLElement {
  return el(
    'dl',
    { class: 'responses' },
    ...Object.entries(responses).flatMap(([status, raw]) => {
      const response = deref<{ description?: string; headers?: Record<string, Json>; content?: Record<string, { schema?: Json; example?: unknown }> }>(raw);
      const [type, media] = Object.entries(response.content ?? {})[0] ?? [];
      const headers = Object.keys(response.headers ?? {});
      return [
        el('dt', { class: `status s${status[0] ?? ''}` }, status),
        el(
          'dd',
          {},
          el('p', {}, response.description ?? ''),
          headers.length > 0 && el('p', { class: 'headers' }, `Headers: ${headers.join(', ')}`),
          media?.schema !== undefined && el('details', {}, el('summary', {}, `Body (${type ?? ''})`), el('pre', { class: 'schema' }, outline(media.schema))),
          example(media?.example, 'Example (a real answer)'),
        ),
      ];
    }),
  );
}

function operationView(method: string, path: string, operation: Operation, shared: Parameter[]): HTMLElement {
  const parameters = [...shared, ...(operation.parameters ?? [])];
  const body = Object.entries(operation.requestBody?.content ?? {})[0];
  const open = operation.security !== undefined && operation.security.length === 0 ? el('span', { class: 'public' }, 'no key') : false;
  return el(
    'details',
    { class: 'operation', 'data-search': `${method} ${path} ${operation.summary ?? ''}`.toLowerCase() },
    el('summary', {}, el('span', { class: `method ${method}` }, method.toUpperCase()), ' ', el('code', {}, path), ' ', el('span', { class: 'summary' }, operation.summary ?? ''), open),
    operation.description !== undefined && el('p', {}, operation.description),
    parameters.length > 0 &&
      el(
        'table',
        { class: 'parameters' },
        el('caption', {}, 'Parameters'),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'name'), el('th', { scope: 'col' }, 'in'), el('th', { scope: 'col' }, 'values'))),
        el('tbody', {}, ...parameters.map((parameter) => el('tr', {}, el('td', {}, el('code', {}, parameter.name)), el('td', {}, parameter.in), el('td', {}, parameter.description ?? outline(parameter.schema))))),
      ),
    body !== undefined &&
      el('section', {}, el('h4', {}, `Request body (${body[0]})`), el('pre', { class: 'schema' }, outline(body[1].schema)), example(body[1].example, 'Example request')),
    el('h4', {}, 'Answers'),
    responseList(operation.responses ?? {}),
  );
}

function render(document: Document): void {
  const groups = new Map<string, HTMLElement[]>((document.tags ?? []).map((tag) => [tag.name, []]));
  for (const [path, raw] of Object.entries(document.paths)) {
    const item = deref<Json & { parameters?: Parameter[] }>(raw);
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined;
      if (operation === undefined) continue;
      const tag = operation.tags?.[0] ?? 'Other';
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag)?.push(operationView(method, path, operation, item.parameters ?? []));
    }
  }
  const schemes = Object.entries(document.components?.securitySchemes ?? {});
  const descriptions = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description]));
  const intro = el(
    'div',
    {},
    el('h2', {}, `${document.info.title} ${document.info.version}`),
    document.info.description !== undefined && el('p', {}, document.info.description),
    schemes.length > 0 &&
      el('p', { class: 'security' }, `Authentication: ${schemes.map(([name, scheme]) => `${name} (${String(scheme.description ?? scheme.type)})`).join(' or ')}.`),
  );
  content.replaceChildren(
    intro,
    ...[...groups].filter(([, operations]) => operations.length > 0).map(([tag, operations]) => el('section', { class: 'tag' }, el('h2', {}, tag), descriptions.get(tag) !== undefined && el('p', {}, descriptions.get(tag) ?? ''), ...operations)),
  );
  applyFilter();
}

function applyFilter(): void {
  const words = filter.value.toLowerCase().split(/\s+/).filter((word) => word !== '');
  for (const operation of content.querySelectorAll<HTMLElement>('.operation')) {
    const text = operation.dataset.search ?? '';
    operation.hidden = !words.every((word) => text.includes(word));
  }
  for (const section of content.querySelectorAll<HTMLElement>('.tag')) section.hidden = section.querySelector('.operation:not([hidden])') === null;
}

async function load(): Promise<void> {
  const answer = await call('GET', '/openapi.json');
  if (answer.status === 401 || answer.status === 403) {
    keys.ask(`The API document lists what a key may use: enter one (${errorMessage(answer)}).`);
    return;
  }
  if (!answer.ok) {
    content.replaceChildren(el('p', { class: 'error', role: 'alert' }, `Could not load the API document: ${errorMessage(answer)}`));
    return;
  }
  doc = answer.body as Document;
  render(doc);
}

filter.addEventListener('input', applyFilter);
void load();
