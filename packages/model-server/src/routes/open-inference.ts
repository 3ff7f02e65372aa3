import { Router } from 'express';
import type { Batch, ModelRuntime, Tensor } from '@modeldock/model-runtime';
import { HttpError } from '@modeldock/service-kit';
import type { z } from 'zod';
import type { DataPlane } from '../data-plane.js';
import {
  inferenceRequest,
  type inferenceResponse,
  type liveResponse,
  type modelMetadataResponse,
  type modelReadyResponse,
  type readyResponse,
  type serverMetadataResponse,
} from '../schemas.js';
import { describeValue, type RawTensor } from '../tensors.js';
import { inferenceContext, modelParams, parseBody } from './http.js';
import type { RouteOptions } from './options.js';

/**
 * Open Inference Protocol (KServe v2) REST, driven by the model's signature. Every model path
 * exists unversioned and versioned ("the server will choose a version", inference_rest.md);
 * readiness answers by status code, 200 ready and 503 not; errors are `{"error": ...}`.
 */
export function openInferenceRoutes(plane: DataPlane, options: RouteOptions): Router {
  const router = Router();
  const model = '/v2/models/:name{/versions/:version}';

  router.get('/v2', (_req, res) => {
    res.json(serverMetadata(options));
  });
  router.get('/v2/health/live', (_req, res) => {
    const body: z.input<typeof liveResponse> = { live: true };
    res.json(body);
  });
  router.get('/v2/health/ready', (_req, res) => {
    const ready = plane.ready();
    const body: z.input<typeof readyResponse> = { ready };
    res.status(ready ? 200 : 503).json(body);
  });

  router.get(model, (req, res) => {
    res.json(modelMetadata(plane, plane.resolve(...modelParams(req))));
  });

  router.get(`${model}/ready`, (req, res) => {
    const runtime = plane.resolve(...modelParams(req));
    const ready = plane.ready() && runtime.ready();
    const body: z.input<typeof modelReadyResponse> = { name: runtime.name, ready };
    res.status(ready ? 200 : 503).json(body);
  });

  router.post(`${model}/infer`, async (req, res) => {
    const runtime = plane.resolve(...modelParams(req));
    const request = parseBody(inferenceRequest, req.body);
    const selected = selectOutputs(runtime, request.outputs);
    const raw: RawTensor[] = request.inputs.map((input, i) => {
      if (input.parameters !== undefined && 'binary_data_size' in input.parameters) {
        throw HttpError.invalidInput('the binary tensor data extension is not supported; send JSON data');
      }
      return { ...input, field: `inputs[${i}]` };
    });
    const outputs = await plane.infer(runtime, plane.decode(runtime, raw), inferenceContext(req, res, 'open-inference', options));
    res.json(inferenceBody(runtime, selected, outputs, request.id));
  });
  return router;
}

/** OIP server metadata: this model server. */
export function serverMetadata(options: Pick<RouteOptions, 'server'>): z.input<typeof serverMetadataResponse> {
  return { name: options.server.name, version: options.server.version, extensions: [] };
}

/** The OIP answer to an infer request: the `selected` outputs of `outputs`, with the classifier's labels. */
export function inferenceBody(runtime: ModelRuntime, selected: readonly string[], outputs: Batch, id: string | undefined): z.input<typeof inferenceResponse> {
  return {
    model_name: runtime.name,
    model_version: runtime.version,
    ...(id === undefined ? {} : { id }),
    ...(runtime.labels === undefined ? {} : { parameters: { labels: [...runtime.labels] } }),
    outputs: selected.map((name) => responseTensor(name, outputs)),
  };
}

/** OIP model metadata from the signature. */
export function modelMetadata(plane: DataPlane, runtime: ModelRuntime): z.input<typeof modelMetadataResponse> {
  const tensor = ({ name, datatype, shape }: { name: string; datatype: Tensor['datatype']; shape: readonly number[] }) => ({
    name,
    datatype,
    shape: [...shape],
  });
  return {
    name: runtime.name,
    versions: plane.versions.map((served) => served.version),
    platform: 'tfjs',
    inputs: runtime.signature.inputs.map(tensor),
    outputs: runtime.signature.outputs.map(tensor),
    parameters: {
      ...(runtime.labels === undefined ? {} : { labels: [...runtime.labels] }),
      ...runtime.info,
      version: runtime.version,
      // TF Serving's version labels (`/v1/models/<m>/labels/<label>`), when the model has any.
      ...(Object.keys(plane.versionLabels).length === 0 ? {} : { version_labels: { ...plane.versionLabels } }),
    },
  };
}

/**
 * The outputs a request asks for, each at most once and each one the model has; all of them when
 * it names none. A response is therefore never larger than with every output once.
 */
function selectOutputs(runtime: ModelRuntime, requested: readonly { name: string }[] | undefined): string[] {
  const names = runtime.signature.outputs.map((spec) => spec.name);
  if (requested === undefined) return names;
  const seen = new Set<string>();
  return requested.map(({ name }) => {
    if (!names.includes(name)) throw HttpError.invalidInput(`unknown output ${describeValue(name)}; outputs are ${names.join(', ')}`);
    if (seen.has(name)) throw HttpError.invalidInput(`output '${name}' is requested twice`);
    seen.add(name);
    return name;
  });
}

/** An output tensor as OIP writes it: flat data in row-major order. */
function responseTensor(name: string, outputs: Batch) {
  const tensor = outputs.tensors[name];
  if (tensor === undefined) throw new Error(`the model did not produce output '${name}'`);
  const data = tensor.datatype === 'BYTES' ? [...(tensor.data as string[])] : tensor.datatype === 'BOOL' ? Array.from(tensor.data as Uint8Array, Boolean) : Array.from(tensor.data as Float32Array | Int32Array);
  return { name, datatype: tensor.datatype, shape: [...tensor.shape], data };
}
