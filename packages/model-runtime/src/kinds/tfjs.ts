import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { rowCancellation } from '../cancellation.js';
import { DescribedModel } from '../described-model.js';
import { localModelHandler } from '../local-io.js';
import type { KindDescription, ModelKindImplementation } from '../model-kind.js';
import type { ModelRuntime, PredictOptions, TypedDescription } from '../model-runtime.js';
import { emptyValues, signatureSchema, tensorSpecSchema, type Batch, type Datatype, type Tensor, type TensorSpec } from '../signature.js';

/** A declared tensor of a bring-your-own model; `node` names the graph node when it differs from `name`. */
const boundSpecSchema = tensorSpecSchema.extend({ node: z.string().min(1).optional() });

/**
 * `metadata.json` of a bring-your-own TF.js model: what `tensorflowjs_converter` produced (a layers
 * or graph `model.json` with weight shards) plus the signature it is served with.
 */
export const tfjsMetadataSchema = z
  .object({
    /** The TF.js model file in the version directory. */
    modelFile: z.string().default('model.json'),
    signature: z.strictObject({ inputs: z.array(boundSpecSchema).min(1), outputs: z.array(boundSpecSchema).min(1) }),
    /** A classifier's class names; `scoresOutput` (default: the only FP32 output) holds one score per label. */
    labels: z.array(z.string().min(1)).min(2).optional(),
    scoresOutput: z.string().optional(),
    description: z.string().optional(),
    evaluation: z.record(z.string(), z.unknown()).optional(),
  })
  .loose()
  .superRefine((metadata, ctx) => {
    const plain = {
      inputs: metadata.signature.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
      outputs: metadata.signature.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    };
    const checked = signatureSchema.safeParse(plain);
    if (!checked.success) for (const issue of checked.error.issues) ctx.addIssue({ ...issue, path: ['signature', ...issue.path] });
    if (metadata.labels !== undefined) {
      const scores = scoresOutputOf(metadata);
      if (scores === undefined) {
        ctx.addIssue({ code: 'custom', path: ['scoresOutput'], message: 'labels need an FP32 output [-1, <number of labels>] of scores' });
      }
    }
  });

export type TfjsMetadata = z.infer<typeof tfjsMetadataSchema>;

function scoresOutputOf(metadata: Pick<TfjsMetadata, 'signature' | 'labels' | 'scoresOutput'>): string | undefined {
  const labels = metadata.labels?.length;
  const candidates = metadata.signature.outputs.filter(
    (spec) => spec.datatype === 'FP32' && spec.shape.length === 2 && spec.shape[1] === labels,
  );
  if (metadata.scoresOutput !== undefined) return candidates.find((spec) => spec.name === metadata.scoresOutput)?.name;
  return candidates.length === 1 ? candidates[0]?.name : undefined;
}

const TF_DTYPE = { FP32: 'float32', INT32: 'int32', BOOL: 'bool', BYTES: 'string' } as const satisfies Record<Datatype, tf.DataType>;

function describeTfjs(metadata: TfjsMetadata): KindDescription {
  const plain = (spec: TensorSpec) => ({ name: spec.name, datatype: spec.datatype, shape: spec.shape });
  const scoresOutput = scoresOutputOf(metadata);
  return {
    signature: { inputs: metadata.signature.inputs.map(plain), outputs: metadata.signature.outputs.map(plain) },
    ...(metadata.labels === undefined || scoresOutput === undefined ? {} : { labels: Object.freeze([...metadata.labels]), scoresOutput }),
    info: Object.freeze({
      kind: 'tfjs',
      ...(metadata.description === undefined ? {} : { description: metadata.description }),
      evaluation: metadata.evaluation ?? null,
    }),
  };
}

/** The `tfjs` kind: any TF.js layers or graph model whose numeric inputs and outputs its metadata declares. */
export const tfjsKind: ModelKindImplementation<TfjsMetadata> = {
  metadataSchema: tfjsMetadataSchema,
  resources: [],
  describe: describeTfjs,
  create: (description, versionDir, deps) => new TfjsModel(description, versionDir, deps.info),
};

type Loaded = { type: 'layers'; model: LayersModel } | { type: 'graph'; model: GraphModel };

/** A model's shape as metadata writes it (`-1` for a free dimension). */
function shapeText(shape: readonly (number | null)[] | undefined): string {
  return shape === undefined ? 'unknown' : `[${shape.map((dim) => dim ?? -1).join(', ')}]`;
}

/** Whether a model dimension (`null`/-1 = any) accepts the declared one. */
function compatible(modelShape: readonly (number | null)[] | undefined, declared: readonly number[]): boolean {
  if (modelShape === undefined) return true;
  if (modelShape.length !== declared.length) return false;
  return modelShape.every((dim, i) => i === 0 || dim === null || dim === -1 || dim === declared[i]);
}

class TfjsModel extends DescribedModel<TfjsMetadata> implements ModelRuntime {
  private loaded: Loaded | undefined;

  constructor(
    description: TypedDescription<TfjsMetadata>,
    private readonly versionDir: string,
    info?: Readonly<Record<string, unknown>>,
  ) {
    super(description, info);
  }

  ready(): boolean {
    return this.loaded !== undefined;
  }

  async load(): Promise<void> {
    if (this.loaded !== undefined) return;
    const metadata = this.description.metadata;
    const handler = localModelHandler(path.join(this.versionDir, metadata.modelFile));
    const artifacts = await handler.load?.();
    if (artifacts === undefined) throw new Error(`${metadata.modelFile}: nothing to load`);
    const format = artifacts.format ?? (artifacts.modelTopology !== undefined && 'node' in (artifacts.modelTopology) ? 'graph-model' : 'layers-model');
    const fromArtifacts = { load: () => Promise.resolve(artifacts) };
    const loaded: Loaded =
      format === 'graph-model'
        ? { type: 'graph', model: await loadGraphModel(fromArtifacts) }
        : { type: 'layers', model: await loadLayersModel(fromArtifacts) };
    try {
      this.check(loaded, metadata);
      this.loaded = loaded;
      // Warm-up: one row of zeros (any free dimension as 1) through the whole model.
      const warmup: Record<string, Tensor> = {};
      for (const spec of this.signature.inputs) {
        const shape = spec.shape.map((dim) => (dim === -1 ? 1 : dim));
        const size = shape.reduce((a, b) => a * b, 1);
        const data = spec.datatype === 'BYTES' ? Array.from({ length: size }, () => '') : spec.datatype === 'FP32' ? new Float32Array(size) : spec.datatype === 'INT32' ? new Int32Array(size) : new Uint8Array(size);
        warmup[spec.name] = { datatype: spec.datatype, shape, data };
      }
      try {
        await this.predict({ rows: 1, tensors: warmup });
      } catch (error) {
        throw new Error(`${this.name}/${this.version}: the warm-up prediction failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    } catch (error) {
      loaded.model.dispose();
      this.loaded = undefined;
      throw error;
    }
  }

  /**
   * The declared signature must be the model's: counts, names (graph), element types and fixed
   * dimensions, so a wrong metadata.json fails at load with what differs, not at the first request.
   */
  private check(loaded: Loaded, metadata: TfjsMetadata): void {
    const where = `${this.name}/${this.version}`;
    const agree = (side: 'input' | 'output', spec: TensorSpec, actual: { shape?: readonly (number | null)[]; dtype?: tf.DataType } | undefined) => {
      if (actual === undefined) return;
      if (!compatible(actual.shape, spec.shape)) {
        throw new Error(`${where}: ${side} '${spec.name}' is [${spec.shape.join(', ')}], the model's is ${shapeText(actual.shape)}`);
      }
      // Outputs are cast between FP32 and INT32 on the way out; an input must already be what the model computes with.
      const numeric = (dtype: tf.DataType | undefined) => dtype === 'float32' || dtype === 'int32';
      const castable = side === 'output' && numeric(actual.dtype) && numeric(TF_DTYPE[spec.datatype]);
      if (actual.dtype !== undefined && actual.dtype !== TF_DTYPE[spec.datatype] && !castable) {
        throw new Error(`${where}: ${side} '${spec.name}' is ${spec.datatype}, the model's is ${actual.dtype}`);
      }
    };
    if (loaded.type === 'layers') {
      const { inputs, outputs } = loaded.model;
      if (inputs.length !== metadata.signature.inputs.length || outputs.length !== metadata.signature.outputs.length) {
        throw new Error(
          `${where}: the layers model has ${inputs.length} inputs and ${outputs.length} outputs; metadata declares ` +
            `${metadata.signature.inputs.length} and ${metadata.signature.outputs.length} (in the model's order)`,
        );
      }
      metadata.signature.inputs.forEach((spec, i) => agree('input', spec, inputs[i]));
      metadata.signature.outputs.forEach((spec, i) => agree('output', spec, outputs[i]));
      return;
    }
    const graphInputs = new Map(loaded.model.inputs.map((input) => [input.name, input]));
    for (const spec of metadata.signature.inputs) {
      const node = spec.node ?? spec.name;
      const input = graphInputs.get(node);
      if (input === undefined) throw new Error(`${where}: the graph has no input '${node}' (inputs: ${[...graphInputs.keys()].join(', ')})`);
      agree('input', spec, { shape: input.shape?.map((dim) => (dim === -1 ? null : dim)), dtype: input.dtype });
    }
    const missing = [...graphInputs.keys()].filter((node) => !metadata.signature.inputs.some((spec) => (spec.node ?? spec.name) === node));
    if (missing.length > 0) throw new Error(`${where}: metadata declares no input for the graph's ${missing.map((node) => `'${node}'`).join(', ')}`);
  }

  async predict(inputs: Batch, options?: PredictOptions): Promise<Batch> {
    const loaded = this.loaded;
    if (loaded === undefined) throw new Error(`model ${this.name}/${this.version} is not loaded`);
    // One engine call, skipped when every row is abandoned. Otherwise every row runs: a graph's
    // rows need not be the request's rows (USE-lite's sparse pieces), so none can be left out.
    const cancellation = rowCancellation(options);
    if (cancellation.keep(Array.from({ length: inputs.rows }, (_, row) => row)).length === 0) {
      cancellation.report();
      return this.emptyAnswer(inputs.rows);
    }
    const metadata = this.description.metadata;
    const created = metadata.signature.inputs.map((spec) => {
      const tensor = inputs.tensors[spec.name];
      if (tensor === undefined) throw new Error(`input '${spec.name}' is missing`);
      return tf.tensor(tensor.data, [...tensor.shape], TF_DTYPE[spec.datatype]);
    });
    let results: tf.Tensor[];
    try {
      if (loaded.type === 'layers') {
        const output = loaded.model.predict(created.length === 1 ? (created[0] as tf.Tensor) : created);
        results = Array.isArray(output) ? output : [output];
      } else {
        const feed = Object.fromEntries(metadata.signature.inputs.map((spec, i) => [spec.node ?? spec.name, created[i] as tf.Tensor]));
        const output = await loaded.model.executeAsync(feed, metadata.signature.outputs.map((spec) => spec.node ?? spec.name));
        results = Array.isArray(output) ? output : [output];
      }
    } finally {
      for (const tensor of created) tensor.dispose();
    }
    try {
      const tensors: Record<string, Tensor> = {};
      for (const [i, spec] of metadata.signature.outputs.entries()) {
        const result = results[i];
        if (result === undefined) throw new Error(`the model returned no output '${spec.name}'`);
        const cast = spec.datatype === 'FP32' && result.dtype !== 'float32' ? tf.cast(result, 'float32') : spec.datatype === 'INT32' && result.dtype !== 'int32' ? tf.cast(result, 'int32') : result;
        const values = await cast.data();
        if (cast !== result) cast.dispose();
        const data = spec.datatype === 'BYTES' ? Array.from(values as unknown as Uint8Array[], (bytes) => (typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'))) : spec.datatype === 'BOOL' ? Uint8Array.from(values as ArrayLike<number>) : values;
        tensors[spec.name] = { datatype: spec.datatype, shape: result.shape, data: data };
      }
      // Rows as the model answered them: a graph whose inputs are not row-aligned (USE-lite's sparse
      // pieces) answers fewer rows than it was fed.
      return { rows: results[0]?.shape[0] ?? inputs.rows, tensors };
    } finally {
      for (const result of results) result.dispose();
    }
  }

  /** Zero rows of every output, for a call nobody wants any more. */
  private emptyAnswer(rows: number): Batch {
    const tensors: Record<string, Tensor> = {};
    for (const spec of this.signature.outputs) {
      const shape = [rows, ...spec.shape.slice(1).map((dim) => (dim === -1 ? 1 : dim))];
      tensors[spec.name] = { datatype: spec.datatype, shape, data: emptyValues(spec.datatype, shape.reduce((a, b) => a * b, 1)) };
    }
    return { rows, tensors };
  }

  unload(): Promise<void> {
    this.loaded?.model.dispose();
    this.loaded = undefined;
    return Promise.resolve();
  }
}
