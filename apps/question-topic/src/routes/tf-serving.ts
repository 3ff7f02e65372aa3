import { Router, type Request } from 'express';
import { HttpError } from '@modeldock/service-kit';
import type { DataPlane } from '../data-plane.js';
import { jsonObjectBody } from './http.js';

/**
 * `/v1/models/<name>[/versions/<digits>|/labels/<label>][/metadata|:predict|:classify|:regress]`.
 * TF Serving matches these case-insensitively and a `:verb` suffix is not something Express's
 * path syntax can express, so the path is parsed here.
 */
const TF_SERVING_PATH =
  /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+)|\/labels\/([^/:]+))?(?:\/(metadata)|:(predict|classify|regress))?$/i;

interface TfServingTarget {
  name: string;
  version: string | undefined;
  label: string | undefined;
  action: 'status' | 'metadata' | 'predict' | 'classify' | 'regress';
}

function parseTarget(req: Request): TfServingTarget | undefined {
  const match = TF_SERVING_PATH.exec(req.path);
  if (match === null) return undefined;
  const [, name, version, label, metadata, verb] = match;
  const action = (verb?.toLowerCase() ?? (metadata === undefined ? 'status' : 'metadata')) as TfServingTarget['action'];
  return { name: decodeURIComponent(name as string), version, label, action };
}

/** TensorFlow Serving's REST API: model status, metadata, `:predict` (row and columnar) and `:classify`. */
export function tfServingRoutes(plane: DataPlane): Router {
  const router = Router();
  router.use(async (req, res, next) => {
    const target = parseTarget(req);
    if (target === undefined) {
      next();
      return;
    }
    const expected = target.action === 'status' || target.action === 'metadata' ? 'GET' : 'POST';
    if (req.method !== expected) throw HttpError.methodNotAllowed(req.method, req.path);
    if (target.label !== undefined) throw HttpError.notFound(`version label '${target.label}' not found`);
    const runtime = plane.resolve(target.name, target.version);

    switch (target.action) {
      case 'status':
        // Unversioned: every served version, newest first, as TF Serving lists them.
        res.json({
          model_version_status: (target.version === undefined ? [...plane.versions].reverse() : [runtime]).map(
            (served) => ({
              version: served.version,
              state: served.ready() ? 'AVAILABLE' : 'LOADING',
              status: { error_code: 'OK', error_message: '' },
            }),
          ),
        });
        return;
      case 'metadata':
        res.json({
          model_spec: { name: runtime.name, signature_name: '', version: runtime.version },
          metadata: { signature_def: { signature_def: { serving_default: signatureDef(runtime.labels.length) } } },
        });
        return;
      case 'predict': {
        const { texts, columnar } = parsePredictRequest(jsonObjectBody(req.body), plane);
        const results = await plane.classify(texts, 'tf-serving', runtime);
        if (columnar) {
          res.json({
            outputs: { probabilities: results.map((r) => r.probabilities), label: results.map((r) => r.label) },
          });
        } else {
          res.json({ predictions: results.map((r) => ({ probabilities: r.probabilities, label: r.label })) });
        }
        return;
      }
      case 'classify': {
        const texts = parseClassifyRequest(jsonObjectBody(req.body), plane);
        const results = await plane.classify(texts, 'tf-serving', runtime);
        res.json({
          results: results.map((r) => runtime.labels.map((label, i) => [label, r.probabilities[i]])),
        });
        return;
      }
      case 'regress':
        throw HttpError.invalidInput(`model '${runtime.name}' is a classifier; use :classify or :predict`);
      default: {
        const unknown: never = target.action;
        throw new Error(`unhandled action ${String(unknown)}`);
      }
    }
  });
  return router;
}

function signatureDef(classes: number) {
  const tensor = (name: string, dtype: string, dims: number[]) => ({
    name,
    dtype,
    tensor_shape: { dim: dims.map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
  });
  return {
    inputs: { text: tensor('text', 'DT_STRING', [-1]) },
    outputs: {
      probabilities: tensor('probabilities', 'DT_FLOAT', [-1, classes]),
      label: tensor('label', 'DT_STRING', [-1]),
    },
    method_name: 'tensorflow/serving/predict',
  };
}

/** The one input's name; row objects and columnar maps must use it. */
const INPUT_NAME = 'text';

/**
 * Row format: `{"instances": ["q1", "q2"]}` or `[{"text": "q1"}, ...]`. Columnar: `{"inputs":
 * ["q1", "q2"]}` or `{"inputs": {"text": [...]}}`. Exactly one of the two (TF Serving).
 */
function parsePredictRequest(body: Record<string, unknown>, plane: DataPlane): { texts: string[]; columnar: boolean } {
  const hasInstances = body.instances !== undefined;
  const hasInputs = body.inputs !== undefined;
  if (hasInstances === hasInputs) throw HttpError.invalidInput("request must have exactly one of 'instances' or 'inputs'");
  if (hasInstances) {
    const instances = body.instances;
    const rows = Array.isArray(instances)
      ? instances.map((row: unknown) =>
          typeof row === 'object' && row !== null && !Array.isArray(row) ? (row as Record<string, unknown>)[INPUT_NAME] : row,
        )
      : instances;
    return { texts: plane.validateTexts(rows, 'instances'), columnar: false };
  }
  const inputs = body.inputs;
  const column =
    typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs)
      ? (inputs as Record<string, unknown>)[INPUT_NAME]
      : inputs;
  return { texts: plane.validateTexts(column, 'inputs'), columnar: true };
}

/** `{"examples": [{"text": "q1"}, ...]}`, with `text` possibly shared through `context`. */
function parseClassifyRequest(body: Record<string, unknown>, plane: DataPlane): string[] {
  const { examples, context } = body;
  if (!Array.isArray(examples)) throw HttpError.invalidInput("'examples' must be an array of objects");
  const shared = typeof context === 'object' && context !== null ? (context as Record<string, unknown>)[INPUT_NAME] : undefined;
  const texts = examples.map((example: unknown, i) => {
    if (typeof example !== 'object' || example === null || Array.isArray(example)) {
      throw HttpError.invalidInput(`'examples[${i}]' must be an object`);
    }
    const value = (example as Record<string, unknown>)[INPUT_NAME] ?? shared;
    // tf.Example features are lists; a one-element list is the same feature.
    return Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value;
  });
  return plane.validateTexts(texts, 'examples[].text');
}
