import { Router, type Request } from 'express';
import type { z } from 'zod';
import { rowSize, type Batch, type ModelRuntime, type Tensor, type TensorSpec } from '@modeldock/model-runtime';
import { HttpError, clipInput } from '@modeldock/service-kit';
import type { DataPlane } from '../data-plane.js';
import { classifyRequest, predictRequest, type classifyResponse, type modelStatusResponse, type predictResponse, type tfMetadataResponse } from '../schemas.js';
import type { RawTensor } from '../tensors.js';
import { inferenceContext, parseBody } from './http.js';
import { openAiModelObject } from './openai.js';
import type { RouteOptions } from './options.js';

/**
 * `/v1/models/<name>[/versions/<version>|/labels/<label>][/metadata|:predict|:classify|:regress]`.
 * TF Serving matches these case-insensitively and a `:verb` suffix is not something Express's
 * path syntax can express, so the path is parsed here. A version is taken as written (digits; any
 * other is a 404 from the data plane, as on the OIP routes); a label names a version
 * (`model-settings.json` `labels`).
 */
const TF_SERVING_PATH =
  /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+)|\/labels\/([^/:]+))?(?:\/(metadata)|:(predict|classify|regress))?$/i;

interface TfServingTarget {
  name: string;
  version: string | undefined;
  label: string | undefined;
  action: 'status' | 'metadata' | 'predict' | 'classify' | 'regress';
}

/** A percent-decoded path segment; malformed encoding is the client's mistake. */
function decodeSegment(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw HttpError.invalidInput(`malformed percent-encoding in the ${what}`);
  }
}

function parseTarget(req: Request): TfServingTarget | undefined {
  const match = TF_SERVING_PATH.exec(req.path);
  if (match === null) return undefined;
  const [, name, version, label, metadata, verb] = match;
  const action = (verb?.toLowerCase() ?? (metadata === undefined ? 'status' : 'metadata')) as TfServingTarget['action'];
  return {
    name: decodeSegment(name as string, 'model name'),
    version,
    label: label === undefined ? undefined : decodeSegment(label, 'version label'),
    action,
  };
}

/** The one signature every served model has, as TF Serving names a SavedModel's default. */
const SIGNATURE_NAME = 'serving_default';

/** TF Serving's `signature_name`: absent, empty or `serving_default`; any other is a 400, never silently ignored. */
function checkSignatureName(name: string | undefined): void {
  if (name !== undefined && name !== '' && name !== SIGNATURE_NAME) {
    throw HttpError.invalidInput(`signature_name '${clipInput(name)}' not found; the model's only signature is '${SIGNATURE_NAME}'`);
  }
}

const TF_DTYPE = { FP32: 'DT_FLOAT', INT32: 'DT_INT32', BOOL: 'DT_BOOL', BYTES: 'DT_STRING' } as const;

function signatureDef(runtime: ModelRuntime) {
  const tensor = (spec: TensorSpec) => ({
    name: spec.name,
    dtype: TF_DTYPE[spec.datatype],
    tensor_shape: { dim: spec.shape.map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
  });
  return {
    inputs: Object.fromEntries(runtime.signature.inputs.map((spec) => [spec.name, tensor(spec)])),
    outputs: Object.fromEntries(runtime.signature.outputs.map((spec) => [spec.name, tensor(spec)])),
    method_name: runtime.labels === undefined ? 'tensorflow/serving/predict' : 'tensorflow/serving/classify',
  };
}

/** TensorFlow Serving's REST API: model status, metadata, `:predict` (row and columnar) and, for classifiers, `:classify`. */
export function tfServingRoutes(plane: DataPlane, options: RouteOptions): Router {
  const router = Router();
  router.use(async (req, res, next) => {
    const target = parseTarget(req);
    if (target === undefined) {
      next();
      return;
    }
    const expected = target.action === 'status' || target.action === 'metadata' ? 'GET' : 'POST';
    if (req.method !== expected) throw HttpError.methodNotAllowed(req.method, req.path);
    const runtime = target.label === undefined ? plane.resolve(target.name, target.version) : plane.resolveLabel(target.name, target.label);

    switch (target.action) {
      case 'status':
        // Unversioned: every served version; a version or a label: that one.
        res.json(statusBody(plane, target.version === undefined && target.label === undefined ? undefined : runtime));
        return;
      case 'metadata':
        res.json(tfMetadataBody(runtime, target.label));
        return;
      case 'predict': {
        const body = parseBody(predictRequest, req.body);
        checkSignatureName(body.signature_name);
        const columnar = body.instances === undefined;
        const raw = columnar ? columnarTensors(runtime, body.inputs) : rowTensors(runtime, body.instances);
        const outputs = await plane.infer(runtime, plane.decode(runtime, raw), inferenceContext(req, res, 'tf-serving', options));
        res.json(predictBody(runtime, outputs, columnar));
        return;
      }
      case 'classify': {
        if (runtime.scoresOutput === undefined || runtime.labels === undefined) {
          throw HttpError.invalidInput(`model '${runtime.name}' is not a classifier; use :predict`);
        }
        const body = parseBody(classifyRequest, req.body);
        checkSignatureName(body.signature_name);
        const decoded = plane.decode(runtime, exampleTensors(runtime, body.examples, body.context));
        const outputs = await plane.infer(runtime, decoded, inferenceContext(req, res, 'tf-serving', options));
        res.json(classifyBody(runtime, outputs));
        return;
      }
      case 'regress':
        throw HttpError.invalidInput(
          runtime.labels === undefined ? `model '${runtime.name}' has no regression signature; use :predict` : `model '${runtime.name}' is a classifier; use :classify or :predict`,
        );
      default: {
        const unknown: never = target.action;
        throw new Error(`unhandled action ${String(unknown)}`);
      }
    }
  });
  return router;
}

/**
 * Model status: every served version, newest first, as TF Serving lists them (or the one `runtime`
 * a version or label path names). The unversioned path is also OpenAI's `GET /v1/models/<id>`: its
 * fields are in the answer too.
 */
export function statusBody(plane: DataPlane, runtime?: ModelRuntime): z.input<typeof modelStatusResponse> {
  return {
    ...openAiModelObject(plane),
    model_version_status: (runtime === undefined ? [...plane.versions].reverse() : [runtime]).map((served) => ({
      version: served.version,
      state: served.ready() ? 'AVAILABLE' : 'LOADING',
      status: { error_code: 'OK', error_message: '' },
    })),
  };
}

/** Model metadata: the one signature, `serving_default`, in TF Serving's SignatureDef form. */
export function tfMetadataBody(runtime: ModelRuntime, label: string | undefined): z.input<typeof tfMetadataResponse> {
  return {
    model_spec: { name: runtime.name, signature_name: '', version: runtime.version, ...(label === undefined ? {} : { version_label: label }) },
    metadata: { signature_def: { signature_def: { [SIGNATURE_NAME]: signatureDef(runtime) } } },
  };
}

/** A `:predict` answer in the format of the request: columnar `outputs` or row `predictions`. */
export function predictBody(runtime: ModelRuntime, outputs: Batch, columnar: boolean): z.input<typeof predictResponse> {
  return columnar ? { outputs: columnarOutputs(runtime, outputs) } : { predictions: rowOutputs(runtime, outputs) };
}

/** A `:classify` answer: every class with its score, per example (the classifier's scores output). */
export function classifyBody(runtime: ModelRuntime, outputs: Batch): z.input<typeof classifyResponse> {
  const labels = runtime.labels ?? [];
  const rows = rowValues(outputs.tensors[runtime.scoresOutput as string] as Tensor) as number[][];
  return { results: rows.map((row) => labels.map((label, i): [string, number] => [label, row[i] as number])) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The shape of a (nested) JSON array value, following first elements (ragged data fails the element count later). */
function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let current = value;
  while (Array.isArray(current) && shape.length < 8) {
    shape.push(current.length);
    current = current[0];
  }
  return shape;
}

/** A column of per-row values (`rows` of them) as a raw tensor of `spec`. */
function column(spec: TensorSpec, values: unknown, field: string): RawTensor {
  if (!Array.isArray(values)) throw HttpError.invalidInput(`'${field}' must be a list with one value per row`);
  return { name: spec.name, datatype: spec.datatype, shape: shapeOf(values), data: values, field, dataField: field };
}

/**
 * Row format: `{"instances": [row, ...]}`. A one-input model takes each row as the value itself or
 * as `{"<input>": value}`; a model with several inputs takes `{"<input>": value, ...}` rows.
 */
function rowTensors(runtime: ModelRuntime, instances: unknown): RawTensor[] {
  if (!Array.isArray(instances) || instances.length === 0) throw HttpError.invalidInput("'instances' must be a non-empty list");
  const specs = runtime.signature.inputs;
  return specs.map((spec) => {
    const values = instances.map((row: unknown, i) => {
      if (isPlainObject(row)) {
        if (!(spec.name in row)) throw HttpError.invalidInput(`'instances[${i}]' has no '${spec.name}'`);
        return row[spec.name];
      }
      if (specs.length > 1) throw HttpError.invalidInput(`'instances[${i}]' must be an object with ${specs.map((s) => `'${s.name}'`).join(', ')}`);
      return row;
    });
    return column(spec, values, 'instances');
  });
}

/** Columnar format: `{"inputs": value}` for a one-input model, or `{"inputs": {"<input>": value, ...}}`. */
function columnarTensors(runtime: ModelRuntime, inputs: unknown): RawTensor[] {
  const specs = runtime.signature.inputs;
  const named = isPlainObject(inputs) ? inputs : specs.length === 1 ? { [(specs[0] as TensorSpec).name]: inputs } : undefined;
  if (named === undefined) throw HttpError.invalidInput(`'inputs' must be an object with ${specs.map((s) => `'${s.name}'`).join(', ')}`);
  return specs.map((spec) => {
    if (!(spec.name in named)) throw HttpError.invalidInput(`'inputs' has no '${spec.name}'`);
    return column(spec, named[spec.name], `inputs.${spec.name}`);
  });
}

/** `{"examples": [{"<input>": value}, ...], "context": {...}}`; a one-element list is the same feature (tf.Example). */
function exampleTensors(runtime: ModelRuntime, examples: readonly Record<string, unknown>[], context: Record<string, unknown> | undefined): RawTensor[] {
  return runtime.signature.inputs.map((spec) => {
    const values = examples.map((example, i) => {
      const value = example[spec.name] ?? context?.[spec.name];
      if (value === undefined) throw HttpError.invalidInput(`'examples[${i}]' has no '${spec.name}'`);
      return spec.datatype === 'BYTES' && spec.shape.length === 1 && Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value;
    });
    return column(spec, values, `examples[].${spec.name}`);
  });
}

/** A tensor as one (nested) JSON value per row. */
function rowValues(tensor: Tensor): unknown[] {
  const rows = tensor.shape[0] ?? 0;
  const width = rowSize(tensor.shape);
  const inner = tensor.shape.slice(1);
  const flat: unknown[] = tensor.datatype === 'BOOL' ? Array.from(tensor.data as Uint8Array, Boolean) : Array.from(tensor.data as ArrayLike<unknown>);
  return Array.from({ length: rows }, (_, row) => nest(flat.slice(row * width, (row + 1) * width), inner));
}

/** Flat row-major values as nested arrays of `shape` (a scalar for `[]`). */
function nest(flat: unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return flat[0];
  const [first, ...rest] = shape as [number, ...number[]];
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: first }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), rest));
}

/** Row format answer: one value per row, or one `{"<output>": value}` object per row when there are several outputs. */
function rowOutputs(runtime: ModelRuntime, outputs: Batch): unknown[] {
  const names = runtime.signature.outputs.map((spec) => spec.name);
  const columns = names.map((name) => rowValues(outputs.tensors[name] as Tensor));
  if (names.length === 1) return columns[0] as unknown[];
  return Array.from({ length: outputs.rows }, (_, row) => Object.fromEntries(names.map((name, i) => [name, columns[i]?.[row]])));
}

/** Columnar answer: the one output's value, or `{"<output>": value}`. */
function columnarOutputs(runtime: ModelRuntime, outputs: Batch): unknown {
  const names = runtime.signature.outputs.map((spec) => spec.name);
  const value = (name: string) => rowValues(outputs.tensors[name] as Tensor);
  return names.length === 1 ? value(names[0] as string) : Object.fromEntries(names.map((name) => [name, value(name)]));
}
