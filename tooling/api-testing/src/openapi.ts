import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/** A parsed OpenAPI document, as far as these checks read it. */
export interface Document {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
}

/**
 * Checks `document` against the OpenAPI specification's own JSON Schema (3.1 here) and throws with
 * every finding. @seriousme/openapi-schema-validator: the schemas of the OpenAPI Initiative, on ajv.
 */
export async function checkDocument(document: unknown): Promise<void> {
  const validator = new Validator();
  const result = await validator.validate(document as Record<string, unknown>);
  if (!result.valid) throw new Error(`not a valid OpenAPI ${validator.version ?? ''} document: ${JSON.stringify(result.errors, null, 1).slice(0, 4000)}`);
}

/** The object a local `$ref` (`#/a/b`) points at; segments percent-decoded, then unescaped (RFC 6901 §6, §4). */
export function resolveRef(document: Document, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`only local references are followed: ${ref}`);
  let node: unknown = document;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    node = (node as Record<string, unknown> | undefined)?.[key];
  }
  if (node === undefined) throw new Error(`${ref} points at nothing`);
  return node;
}

/** `value`, or what it refers to while it is a `{$ref}`. */
export function deref<T>(document: Document, value: T | { $ref: string }): T {
  let current: unknown = value;
  for (let hops = 0; typeof current === 'object' && current !== null && '$ref' in current; hops += 1) {
    if (hops > 8) throw new Error('a chain of references too long');
    current = resolveRef(document, (current as { $ref: string }).$ref);
  }
  return current as T;
}

const escape = (text: string) => text.replace(/[.*+?^$()|[\]\\]/g, '\\$&');

/** A path template of the document (`/v2/models/m/versions/{version}/infer`) as a regular expression over concrete paths. */
function templatePattern(template: string): RegExp {
  const parts = template.split(/(\{[^}]+\})/);
  return new RegExp(`^${parts.map((part) => (part.startsWith('{') ? '([^/]+?)' : escape(part))).join('')}$`);
}

/** What {@link matchPath} found: the template and its path item (references followed). */
export interface PathMatch {
  template: string;
  item: Record<string, unknown>;
  /** Values of the template's parameters, by name. */
  parameters: Record<string, string>;
}

/**
 * The document's path template that `path` (no query) is an instance of: an exact path first, then
 * templates whose parameters take a whole value (`{version}` matches `2`, also inside a segment as
 * `{version}:predict`) that is one of the parameter's `enum` when it declares one.
 */
export function matchPath(document: Document, path: string): PathMatch | undefined {
  const exact = document.paths[path];
  if (exact !== undefined) return { template: path, item: deref(document, exact), parameters: {} };
  for (const [template, raw] of Object.entries(document.paths)) {
    if (!template.includes('{')) continue;
    const found = templatePattern(template).exec(path);
    if (found === null) continue;
    const item = deref(document, raw);
    const names = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
    const parameters = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1] as string)]));
    const declared = (item.parameters ?? []) as { name: string; schema?: { enum?: unknown[] } }[];
    const allowed = names.every((name) => {
      const values = declared.find((parameter) => parameter.name === name)?.schema?.enum;
      return values === undefined || values.includes(parameters[name]);
    });
    if (allowed) return { template, item, parameters };
  }
  return undefined;
}

/** Checks answers against a document's response schemas (JSON Schema 2020-12, ajv). */
export interface ResponseChecker {
  /**
   * The problems of an answer to `method path` with `status` and JSON `body` (empty when it matches the
   * document): the path and method must be documented, the status answered, the body valid.
   */
  check(method: string, path: string, status: number, body: unknown): string[];
}

/** A {@link ResponseChecker} for `document`; schemas compile once each. */
export function responseChecker(document: Document): ResponseChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const compiled = new Map<object, ValidateFunction>();
  return {
    check(method, path, status, body) {
      const match = matchPath(document, path);
      if (match === undefined) return [`${path} is not in the document`];
      const operation = match.item[method.toLowerCase()] as { responses?: Record<string, unknown> } | undefined;
      if (operation === undefined) return [`${method} ${match.template} is not in the document`];
      const declared = operation.responses?.[String(status)] ?? operation.responses?.[`${String(status)[0]}XX`] ?? operation.responses?.default;
      if (declared === undefined) return [`${method} ${match.template} does not document status ${status}`];
      const response = deref(document, declared) as { content?: Record<string, { schema?: object }> };
      const schema = response.content?.['application/json']?.schema;
      if (schema === undefined) return [];
      let validate = compiled.get(schema);
      if (validate === undefined) {
        validate = ajv.compile(schema);
        compiled.set(schema, validate);
      }
      return validate(body) ? [] : (validate.errors ?? []).slice(0, 5).map((error) => `${method} ${path} ${status}: ${error.instancePath} ${error.message ?? ''}`);
    },
  };
}
