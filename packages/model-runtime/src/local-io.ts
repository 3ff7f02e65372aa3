import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { io } from '@tensorflow/tfjs-core';

/** The subset of a TF.js `model.json` this handler reads and writes. */
interface ModelJson {
  modelTopology?: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: object;
  userDefinedMetadata?: io.ModelArtifacts['userDefinedMetadata'];
  modelInitializer?: object;
  trainingConfig?: io.TrainingConfig;
  weightsManifest: io.WeightsManifestConfig;
}

const WEIGHTS_FILE = 'weights.bin';

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

/**
 * An IOHandler that loads a TF.js model (graph or layers format) from `model.json` and its weight
 * shards on the local disk, and saves layers models the same way. TF.js's own `fetch` cannot read
 * `file://` in Node and `tf.io.fileSystem` lives in tfjs-node, which wasm deployments lack; this
 * keeps model loading local on every backend, so nothing is ever fetched from the network.
 */
export function localModelHandler(modelJsonPath: string): io.IOHandler {
  const dir = path.dirname(modelJsonPath);
  return {
    async load(): Promise<io.ModelArtifacts> {
      const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
      const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
      const shardPaths = json.weightsManifest.flatMap((group) => group.paths);
      const shards = await Promise.all(shardPaths.map((shard) => readFile(path.join(dir, shard))));
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        modelInitializer: json.modelInitializer,
        trainingConfig: json.trainingConfig,
        weightSpecs,
        weightData: toArrayBuffer(Buffer.concat(shards)),
      };
    },
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary model topologies are not supported');
      const weightData = artifacts.weightData;
      const weights = Buffer.concat(
        (Array.isArray(weightData) ? weightData : weightData === undefined ? [] : [weightData]).map((part) =>
          Buffer.from(part),
        ),
      );
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, WEIGHTS_FILE), weights);
      await writeFile(modelJsonPath, `${JSON.stringify(json)}\n`);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}
