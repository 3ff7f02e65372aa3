import { Router } from 'express';
import { HttpError } from '@modeldock/service-kit';
import type { DataPlane } from '../data-plane.js';
import { jsonObjectBody } from './http.js';

/** Output tensors this model offers (OIP `outputs` may ask for a subset). */
const OUTPUT_NAMES = ['probabilities', 'label'] as const;
type OutputName = (typeof OUTPUT_NAMES)[number];

/** Fields of the server metadata response. */
export interface ServerInfo {
  name: string;
  version: string;
}

/**
 * Open Inference Protocol (KServe v2) REST. Every model path exists unversioned and versioned
 * ("the server will choose a version", inference_rest.md); readiness answers by status code, 200
 * ready and 503 not; errors are `{"error": ...}`.
 */
export function openInferenceRoutes(plane: DataPlane, server: ServerInfo): Router {
  const router = Router();
  const model = '/v2/models/:name{/versions/:version}';

  router.get('/v2', (_req, res) => {
    res.json({ name: server.name, version: server.version, extensions: [] });
  });
  router.get('/v2/health/live', (_req, res) => {
    res.json({ live: true });
  });
  router.get('/v2/health/ready', (_req, res) => {
    const ready = plane.ready();
    res.status(ready ? 200 : 503).json({ ready });
  });

  router.get(model, (req, res) => {
    const runtime = plane.resolve(...modelParams(req.params));
    res.json({
      name: runtime.name,
      versions: plane.versions.map((served) => served.version),
      platform: 'tfjs_layers',
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, runtime.labels.length] },
        { name: 'label', datatype: 'BYTES', shape: [-1] },
      ],
      parameters: { labels: runtime.labels, ...runtime.info },
    });
  });

  router.get(`${model}/ready`, (req, res) => {
    const runtime = plane.resolve(...modelParams(req.params));
    const ready = plane.ready() && runtime.ready();
    res.status(ready ? 200 : 503).json({ name: runtime.name, ready });
  });

  router.post(`${model}/infer`, async (req, res) => {
    const runtime = plane.resolve(...modelParams(req.params));
    const request = parseInferenceRequest(jsonObjectBody(req.body), plane);
    const results = await plane.classify(request.texts, 'open-inference', runtime);
    const tensors: Record<OutputName, object> = {
      probabilities: {
        name: 'probabilities',
        datatype: 'FP32',
        shape: [results.length, runtime.labels.length],
        data: results.flatMap((result) => result.probabilities),
      },
      label: { name: 'label', datatype: 'BYTES', shape: [results.length], data: results.map((r) => r.label) },
    };
    res.json({
      model_name: runtime.name,
      model_version: runtime.version,
      ...(request.id === undefined ? {} : { id: request.id }),
      parameters: { labels: runtime.labels },
      outputs: request.outputs.map((name) => tensors[name]),
    });
  });
  return router;
}

/** `:name` and the optional `:version` of a model path. */
function modelParams(params: Record<string, string | string[] | undefined>): [string, string | undefined] {
  const { name, version } = params as { name: string; version?: string };
  return [name, version];
}

interface InferenceRequest {
  id: string | undefined;
  texts: string[];
  outputs: OutputName[];
}

/** Validates an OIP `$inference_request` carrying one BYTES tensor of texts, shape [n] or [n, 1]. */
function parseInferenceRequest(body: Record<string, unknown>, plane: DataPlane): InferenceRequest {
  const invalid = (message: string) => HttpError.invalidInput(message);
  if (body.id !== undefined && typeof body.id !== 'string') throw invalid("'id' must be a string");
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) throw invalid("'inputs' must be a non-empty array");
  if (inputs.length > 1) throw invalid(`the model takes one input tensor ('text'), got ${inputs.length}`);
  const input = inputs[0] as unknown;
  if (typeof input !== 'object' || input === null) throw invalid("'inputs[0]' must be an object");
  const { name, datatype, shape, data, parameters } = input as Record<string, unknown>;
  if (typeof name !== 'string') throw invalid("'inputs[0].name' must be a string");
  if (datatype !== 'BYTES') throw invalid(`input '${name}' must have datatype BYTES, got ${JSON.stringify(datatype)}`);
  if (
    !Array.isArray(shape) ||
    !shape.every((dim) => Number.isInteger(dim) && (dim as number) >= 0) ||
    !(shape.length === 1 || (shape.length === 2 && shape[1] === 1))
  ) {
    throw invalid(`input '${name}' must have shape [n] or [n, 1]`);
  }
  if (typeof parameters === 'object' && parameters !== null && 'binary_data_size' in parameters) {
    throw invalid('the binary tensor data extension is not supported; send JSON data');
  }
  // OIP allows tensor data nested by shape or flattened; [n, 1] nests one level.
  const flat = Array.isArray(data) ? data.flat() : data;
  const texts = plane.validateTexts(flat, `inputs[0].data`);
  if (texts.length !== shape[0]) {
    throw invalid(`input '${name}' has shape [${shape.join(', ')}] but ${texts.length} elements`);
  }
  return { id: body.id, texts, outputs: parseRequestedOutputs(body.outputs) };
}

function parseRequestedOutputs(outputs: unknown): OutputName[] {
  if (outputs === undefined) return [...OUTPUT_NAMES];
  if (!Array.isArray(outputs) || outputs.length === 0) {
    throw HttpError.invalidInput("'outputs' must be a non-empty array of {name}");
  }
  return outputs.map((output: unknown) => {
    const name = (output as { name?: unknown } | null)?.name;
    if (!OUTPUT_NAMES.includes(name as OutputName)) {
      throw HttpError.invalidInput(`unknown output ${JSON.stringify(name)}; outputs are ${OUTPUT_NAMES.join(', ')}`);
    }
    return name as OutputName;
  });
}
