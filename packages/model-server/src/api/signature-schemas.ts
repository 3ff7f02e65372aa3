/**
 * The request and response schemas of schemas.ts made specific to one model: the routes validate
 * with the general schemas (tensor contents are checked against the signature by tensors.ts, which
 * bounds their cost first), and the API document describes each model with these, which extend the
 * same schemas with the signature's names, datatypes and shapes, the labels and the work limits.
 */
import type { Datatype, ModelRuntime, TensorSpec } from '@modeldock/model-runtime';
import { z } from 'zod';
import type { DataPlane } from '../data-plane.js';
import { embeddingOutput } from '../routes/openai.js';
import * as schemas from '../schemas.js';

/** One element of a tensor of `datatype`, as JSON carries it. */
function element(datatype: Datatype, limits: DataPlane['limits'], labels?: readonly string[]): z.ZodType {
  switch (datatype) {
    case 'FP32':
      return z.number();
    case 'INT32':
      return z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1);
    case 'BOOL':
      return z.boolean();
    case 'BYTES':
      return labels === undefined ? z.string().max(limits.maxTextLength) : z.enum(labels as [string, ...string[]]);
    default: {
      const unknown: never = datatype;
      throw new Error(`unknown datatype ${String(unknown)}`);
    }
  }
}

/** A dimension after the first: its size, or any positive size for `-1`. */
function dimension(size: number): z.ZodType {
  return size === -1 ? z.number().int().min(1) : z.literal(size);
}

/** A tensor's shape in a request or answer: `rows` first (up to the row limit), then the signature's dimensions. */
function shapeSchema(spec: TensorSpec, limits: DataPlane['limits']): z.ZodType {
  const rows = z.number().int().min(1).max(limits.maxRows);
  return z.tuple([rows, ...spec.shape.slice(1).map(dimension)] as [z.ZodType, ...z.ZodType[]]);
}

/** One row of a tensor as a nested JSON value: the element itself for shape `[-1]`, nested arrays otherwise. */
export function rowValue(spec: TensorSpec, limits: DataPlane['limits'], labels?: readonly string[]): z.ZodType {
  let value = element(spec.datatype, limits, labels);
  for (const size of spec.shape.slice(1).reverse()) value = size === -1 ? z.array(value) : z.array(value).length(size);
  return value;
}

/** The labels a BYTES output holds, when it is the classifier's label output (the one BYTES `[-1]` output). */
function outputLabels(runtime: ModelRuntime, spec: TensorSpec): readonly string[] | undefined {
  const bytesOutputs = runtime.signature.outputs.filter((output) => output.datatype === 'BYTES');
  return runtime.labels !== undefined && bytesOutputs.length === 1 && spec.datatype === 'BYTES' && spec.shape.length === 1 ? runtime.labels : undefined;
}

const describeShape = (spec: TensorSpec) => `[${spec.shape.map((size, i) => (i === 0 ? 'rows' : size === -1 ? 'any' : String(size))).join(', ')}]`;

/** OIP `$request_input` for one input of the signature: its name, datatype and shape, data flat in row-major order. */
function oipInput(spec: TensorSpec, limits: DataPlane['limits']): z.ZodType {
  return schemas.requestInput
    .extend({
      name: z.literal(spec.name),
      datatype: z.literal(spec.datatype),
      shape: shapeSchema(spec, limits),
      data: z.array(element(spec.datatype, limits)).max(spec.datatype === 'BYTES' ? limits.maxRows : limits.maxTensorElements),
    })
    .meta({ description: `Input '${spec.name}', ${spec.datatype} ${describeShape(spec)}: data flat in row-major order, or nested as the shape.` });
}

/** OIP `$response_output` for one output of the signature. */
function oipOutput(runtime: ModelRuntime, spec: TensorSpec, limits: DataPlane['limits']): z.ZodType {
  return schemas.responseOutput
    .extend({
      name: z.literal(spec.name),
      datatype: z.literal(spec.datatype),
      shape: shapeSchema(spec, limits),
      data: z.array(element(spec.datatype, limits, outputLabels(runtime, spec))),
    })
    .meta({ description: `Output '${spec.name}', ${spec.datatype} ${describeShape(spec)}, flat in row-major order.` });
}

/** One of several schemas: the schema itself when there is one. */
function oneOf(options: readonly z.ZodType[]): z.ZodType {
  const [first, ...rest] = options;
  if (first === undefined) throw new Error('no schema to choose from');
  return rest.length === 0 ? first : z.union([first, ...rest] as [z.ZodType, z.ZodType, ...z.ZodType[]]);
}

/** The model's OIP infer request: every input of the signature once, outputs optionally chosen by name. */
export function oipInferRequest(runtime: ModelRuntime, limits: DataPlane['limits']): z.ZodType {
  const inputs = runtime.signature.inputs;
  const outputNames = runtime.signature.outputs.map((spec) => spec.name) as [string, ...string[]];
  return schemas.inferenceRequest.extend({
    inputs: z.array(oneOf(inputs.map((spec) => oipInput(spec, limits)))).length(inputs.length),
    outputs: z
      .array(schemas.requestOutput.extend({ name: z.enum(outputNames) }))
      .min(1)
      .max(outputNames.length)
      .optional()
      .meta({ description: 'Outputs to answer with, each at most once (default: all).' }),
  });
}

/** The model's OIP infer answer at `versions`. */
export function oipInferResponse(runtime: ModelRuntime, versions: readonly string[], limits: DataPlane['limits']): z.ZodType {
  return schemas.inferenceResponse.extend({
    model_name: z.literal(runtime.name),
    model_version: z.enum(versions as [string, ...string[]]),
    parameters:
      runtime.labels === undefined
        ? z.never().optional()
        : z.object({ labels: z.array(z.enum(runtime.labels as [string, ...string[]])) }).meta({ description: 'The classes, in the order of each score row.' }),
    outputs: z.array(oneOf(runtime.signature.outputs.map((spec) => oipOutput(runtime, spec, limits)))).min(1).max(runtime.signature.outputs.length),
  });
}

/** OIP model metadata of this model. */
export function oipMetadataResponse(runtime: ModelRuntime, versions: readonly string[]): z.ZodType {
  return schemas.modelMetadataResponse.extend({ name: z.literal(runtime.name), versions: z.array(z.enum(versions as [string, ...string[]])) });
}

/** Rows of `spec` for TF Serving's row format, or one `{"<input>": row}` object per row when the model has several. */
function tfRows(specs: readonly TensorSpec[], limits: DataPlane['limits'], labelsOf: (spec: TensorSpec) => readonly string[] | undefined): z.ZodType {
  const [only] = specs;
  if (specs.length === 1 && only !== undefined) return z.array(rowValue(only, limits, labelsOf(only))).min(1).max(limits.maxRows);
  return z
    .array(z.object(Object.fromEntries(specs.map((spec) => [spec.name, rowValue(spec, limits, labelsOf(spec))]))))
    .min(1)
    .max(limits.maxRows);
}

/** Columns of `specs` for TF Serving's columnar format: the one tensor's rows, or `{"<name>": rows}`. */
function tfColumns(specs: readonly TensorSpec[], limits: DataPlane['limits'], labelsOf: (spec: TensorSpec) => readonly string[] | undefined): z.ZodType {
  const columns = z.object(Object.fromEntries(specs.map((spec) => [spec.name, z.array(rowValue(spec, limits, labelsOf(spec))).max(limits.maxRows)])));
  const [only] = specs;
  return specs.length === 1 && only !== undefined ? z.union([columns.shape[only.name] as z.ZodType, columns]) : columns;
}

const noLabels = () => undefined;

/** The model's `:predict` request: `instances` (row format) or `inputs` (columnar), exactly one of them. */
export function tfPredictRequest(runtime: ModelRuntime, limits: DataPlane['limits']): z.ZodType {
  const signatureName = schemas.predictRequest.shape.signature_name;
  const inputs = runtime.signature.inputs;
  return z
    .union([
      z.object({ signature_name: signatureName, instances: tfRows(inputs, limits, noLabels) }),
      z.object({ signature_name: signatureName, inputs: tfColumns(inputs, limits, noLabels) }),
    ])
    .meta({ description: "Exactly one of 'instances' (one value per row) or 'inputs' (columnar); signature_name, if given, is 'serving_default'." });
}

/** The model's `:predict` answer: `predictions` for `instances`, `outputs` for `inputs`. */
export function tfPredictResponse(runtime: ModelRuntime, limits: DataPlane['limits']): z.ZodType {
  const outputs = runtime.signature.outputs;
  const labelsOf = (spec: TensorSpec) => outputLabels(runtime, spec);
  return z.union([z.object({ predictions: tfRows(outputs, limits, labelsOf) }), z.object({ outputs: tfColumns(outputs, limits, labelsOf) })]);
}

/** The classifier's `:classify` request: one example per row, each with every input by name. */
export function tfClassifyRequest(runtime: ModelRuntime, limits: DataPlane['limits']): z.ZodType {
  const example = z.object(Object.fromEntries(runtime.signature.inputs.map((spec) => [spec.name, rowValue(spec, limits)])));
  return schemas.classifyRequest.extend({ examples: z.array(example).min(1).max(limits.maxRows) });
}

/** The classifier's `:classify` answer. */
export function tfClassifyResponse(runtime: ModelRuntime): z.ZodType {
  const labels = z.enum((runtime.labels ?? []) as [string, ...string[]]);
  return schemas.classifyResponse.extend({ results: z.array(z.array(z.tuple([labels, z.number()])).length(runtime.labels?.length ?? 0)) });
}

/** The model's OpenAI embeddings request (`model` is this model; texts within the limits). */
export function embeddingsRequest(runtime: ModelRuntime, limits: DataPlane['limits']): z.ZodType {
  const text = z.string().max(limits.maxTextLength);
  const output = embeddingOutput(runtime);
  return schemas.embeddingsRequest.extend({
    model: z.literal(runtime.name),
    input: z.union([text, z.array(text).min(1).max(limits.maxRows)]),
    ...(output === undefined ? {} : { dimensions: z.literal(output.dimension).optional() }),
  });
}

/** The model's OpenAI embeddings answer: `dimension` floats per text, or their base64. */
export function embeddingsResponse(runtime: ModelRuntime): z.ZodType {
  const dimension = embeddingOutput(runtime)?.dimension ?? 0;
  const embedding = z.union([z.array(z.number()).length(dimension), z.base64().meta({ description: `${dimension} little-endian float32, base64` })]);
  return schemas.embeddingsResponse.extend({
    model: z.literal(runtime.name),
    data: z.array(schemas.embeddingsResponse.shape.data.element.extend({ embedding })),
  });
}
