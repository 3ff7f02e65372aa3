export {
  BACKEND_REQUESTS,
  DEVICES,
  selectBackend,
  type BackendChoice,
  type BackendRequest,
  type Device,
  type NativeLoaders,
} from './backend.js';
export { localModelHandler } from './local-io.js';
export {
  USE_LITE_DIMENSION,
  USE_LITE_ID,
  USE_LITE_PACKAGE,
  defaultEncoderDirectory,
  loadSentenceEncoder,
  type SentenceEncoder,
} from './sentence-encoder.js';
export { USE_LITE_MAX_POSITIONS, USE_LITE_WASM_COST, estimateEngineCost, paddedPositions, planEngineCalls, plannedPositions, type EngineCostModel } from './engine-cost.js';
export { createUseTokenizer, loadUseTokenizer, normalizeForEncoder, parseUseVocabulary, type UseTokenizer, type UseVocabulary } from './use-tokenizer.js';
export { DynamicBatcher, QueueFullError, BatcherClosedError, type BatcherOptions, type BatcherObserver } from './batcher.js';
export type { ModelRuntime } from './model-runtime.js';
export {
  TEXT_TRANSFORMS,
  createTextClassifier,
  readTextClassifierMetadata,
  textClassifierMetadataSchema,
  type TextClassifierMetadata,
  type TextClassifierOptions,
  type TextTransform,
} from './text-classifier.js';
export { createModelRuntime, listModelVersions, type ModelDependencies, type ModelKind } from './model-repository.js';
export { createLexicalFeaturizer, fitLexicalFeatures, tokenizeQuestion, type LexicalFeatureOptions, type LexicalFeatureSpec, type LexicalFeaturizer, type LexicalWeighting } from './lexical-features.js';
export { createWorkerRuntime, type WorkerRuntime, type WorkerRuntimeOptions } from './worker-runtime.js';
