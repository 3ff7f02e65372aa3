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
  MAX_CALL_POSITIONS,
  defaultEncoderDirectory,
  forEachEngineCall,
  loadSentenceEncoder,
  type SentenceEncoder,
} from './sentence-encoder.js';
export { USE_LITE_MAX_POSITIONS, USE_LITE_WASM_COST, estimateEngineCost, paddedPositions, planEngineCalls, plannedPositions, type EngineCostModel } from './engine-cost.js';
export { createUseTokenizer, loadUseTokenizer, normalizeForEncoder, parseUseVocabulary, type UseTokenizer, type UseVocabulary } from './use-tokenizer.js';
export {
  DynamicBatcher,
  QueueFullError,
  BatcherClosedError,
  arrayRows,
  type BatcherOptions,
  type BatcherObserver,
  type DropReason,
  type RowCodec,
  type SubmitOptions,
} from './batcher.js';
export { MODEL_KINDS, type ModelDescription, type ModelKind, type ModelRuntime } from './model-runtime.js';
export {
  DATATYPES,
  concatBatches,
  elementCount,
  emptyValues,
  rowSize,
  rowsOf,
  signatureSchema,
  sliceBatch,
  tensorSpecSchema,
  textBatch,
  textsOf,
  type Batch,
  type Datatype,
  type Signature,
  type Tensor,
  type TensorSpec,
  type TensorValues,
} from './signature.js';
export { describeIssues, parseMetadata, readMetadataFile } from './metadata.js';
export {
  TEXT_INPUT,
  TEXT_TRANSFORMS,
  createTextClassifier,
  readTextClassifierMetadata,
  textClassifierMetadataSchema,
  type TextClassifierMetadata,
  type TextClassifierOptions,
  type TextTransform,
} from './text-classifier.js';
export {
  createModelRuntime,
  describeModel,
  listModelVersions,
  modelKind,
  type DescribeOptions,
  type ModelDependencies,
  type ModelKindImplementation,
} from './kinds.js';
export { EMBEDDING_OUTPUT, sentenceEmbeddingMetadataSchema, type SentenceEmbeddingMetadata } from './sentence-embedding.js';
export { tfjsMetadataSchema, type TfjsMetadata } from './tfjs-model.js';
export { createLexicalFeaturizer, fitLexicalFeatures, tokenizeQuestion, type LexicalFeatureOptions, type LexicalFeatureSpec, type LexicalFeaturizer, type LexicalWeighting } from './lexical-features.js';
export { createWorkerRuntime, type WorkerRuntime, type WorkerRuntimeOptions } from './worker-runtime.js';
