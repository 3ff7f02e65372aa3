import { rowSize, type Batch, type ModelRuntime } from '@modeldock/model-runtime';
import type { Parameter, Paths } from '@modeldock/service-kit';
import type { DataPlane } from '../data-plane.js';
import type { ServerInfo } from '../routes/options.js';
import type { RawTensor } from '../tensors.js';

/**
 * The example every operation of a model's document shows: a request of two rows (two texts for a
 * text input, zeros for numbers) and the model's real answer to it, computed once the model is warm.
 */
export interface ApiExample {
  /** The texts of the text input, when the model takes text. */
  texts: string[] | undefined;
  /** The encoder's pieces of the texts (OpenAI's `usage`). */
  pieces: number;
  /** What the model answered. */
  outputs: Batch;
}

/** What a protocol's part of the document is written from. */
export interface ApiContext {
  plane: DataPlane;
  server: ServerInfo;
  /** The default version's answer to the example request; undefined until the model has given it. */
  example: ApiExample | undefined;
}

/** Texts of the example request: two questions, the first line of the README's examples. */
export const EXAMPLE_TEXTS: readonly string[] = ['What is your salary?', 'Where is Rome?'];

/** Rows of the example request. */
const EXAMPLE_ROWS = EXAMPLE_TEXTS.length;

/** The example request's tensors for `runtime`: the texts for BYTES inputs, zeros (false) for the others. */
export function exampleTensors(runtime: ModelRuntime): RawTensor[] {
  return runtime.signature.inputs.map((spec) => {
    const shape = [EXAMPLE_ROWS, ...spec.shape.slice(1).map((size) => (size === -1 ? 1 : size))];
    const width = rowSize(shape);
    const data: unknown[] = Array.from({ length: EXAMPLE_ROWS * width }, (_, i) => {
      if (spec.datatype === 'BYTES') return EXAMPLE_TEXTS[Math.floor(i / width)];
      return spec.datatype === 'BOOL' ? false : 0;
    });
    return { name: spec.name, datatype: spec.datatype, shape, data, field: 'example' };
  });
}

/**
 * Runs the example request through the data plane like any client's request (counted under protocol
 * `openapi`), so that the document's answers are real ones.
 */
export async function runExample(plane: DataPlane): Promise<ApiExample> {
  const runtime = plane.model;
  const tensors = exampleTensors(runtime);
  const decoded = plane.decode(runtime, tensors);
  const outputs = await plane.infer(runtime, decoded, { protocol: 'openapi', signal: AbortSignal.timeout(30_000) });
  const texts = runtime.textInput === undefined ? undefined : [...EXAMPLE_TEXTS];
  return { texts, pieces: decoded.pieces, outputs };
}

/**
 * Where a protocol's model routes are documented: unversioned (`at` empty: the default version),
 * at a version, and (TF Serving) at a version label. When every version shares one signature and
 * labels, versions and labels are one templated path each with an enum parameter; otherwise each
 * version or label gets its own path, described with its own signature.
 */
export interface Variant {
  /** Inserted after `/<models>/<name>`: '', `/versions/{version}`, `/versions/2`, `/labels/{label}`... */
  at: string;
  runtime: ModelRuntime;
  /** The path parameters `at` declares. */
  parameters: Parameter[];
  /** The label a concrete label path names. */
  label?: string;
}

function sameInterface(a: ModelRuntime, b: ModelRuntime): boolean {
  return JSON.stringify([a.signature, a.labels]) === JSON.stringify([b.signature, b.labels]);
}

/** The variants of a model's paths: unversioned and versioned, and labelled when `labels` is set. */
export function variants(plane: DataPlane, labels: boolean): Variant[] {
  const model = plane.model;
  const uniform = plane.versions.every((runtime) => sameInterface(runtime, model));
  const byVersion = new Map(plane.versions.map((runtime) => [runtime.version, runtime]));
  const versionParameter: Parameter = {
    name: 'version',
    in: 'path',
    required: true,
    description: `A served version (the default, for paths without one: ${model.version}).`,
    schema: { type: 'string', enum: plane.versions.map((runtime) => runtime.version) },
  };
  const list: Variant[] = [{ at: '', runtime: model, parameters: [] }];
  list.push(
    ...(uniform
      ? [{ at: '/versions/{version}', runtime: model, parameters: [versionParameter] }]
      : plane.versions.map((runtime) => ({ at: `/versions/${runtime.version}`, runtime, parameters: [] }))),
  );
  const named = Object.entries(plane.versionLabels);
  if (labels && named.length > 0) {
    const labelParameter: Parameter = {
      name: 'label',
      in: 'path',
      required: true,
      description: `A version label: ${named.map(([label, version]) => `${label} → ${version}`).join(', ')}.`,
      schema: { type: 'string', enum: named.map(([label]) => label) },
    };
    list.push(
      ...(uniform
        ? [{ at: '/labels/{label}', runtime: model, parameters: [labelParameter] }]
        : named.map(([label, version]) => ({ at: `/labels/${label}`, runtime: byVersion.get(version) ?? model, parameters: [], label }))),
    );
  }
  return list;
}

/** Paths of several parts as one object; a path two parts both describe is a mistake in the server. */
export function mergePaths(parts: readonly Paths[]): Paths {
  const paths: Paths = {};
  for (const part of parts) {
    for (const [path, item] of Object.entries(part)) {
      if (Object.hasOwn(paths, path)) throw new Error(`path ${path} is described twice`);
      paths[path] = item;
    }
  }
  return paths;
}

/** A path item's `parameters`, left out when there are none. */
export function pathParameters(parameters: Parameter[]): { parameters?: Parameter[] } {
  return parameters.length === 0 ? {} : { parameters };
}
