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
export {
  USE_LITE_MAX_POSITIONS,
  USE_LITE_WASM_COST,
  estimateEngineCost,
  paddedPositions,
  planEngineCalls,
  planEngineWork,
  plannedPositions,
  textPositions,
  type EngineCostModel,
  type EnginePlan,
} from './engine-cost.js';
export { createUseTokenizer, loadUseTokenizer, normalizeForEncoder, parseUseVocabulary, type UseTokenizer, type UseVocabulary } from './use-tokenizer.js';
export {
  BULK_QUEUE_SHARE,
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
export {
  TEXT_INPUT,
  type ModelDescription,
  type ModelRuntime,
  type PredictOptions,
  type TextMeasure,
  type TypedDescription,
} from './model-runtime.js';
export type { KindDescription, ModelDependencies, ModelKindImplementation, TextMeasureDeclaration } from './model-kind.js';
export {
  DATATYPES,
  concatBatches,
  elementCount,
  emptyValues,
  rowSize,
  rowsOf,
  selectRows,
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
export { MODEL_KINDS, describeModel, listModelVersions, modelKind, type DescribeOptions, type ModelKind } from './registry.js';
export { loadSharedResources, requireResource, type LoadedResources, type ResourceName, type ResourceOptions, type SharedResources } from './shared-resources.js';
export {
  createEngine,
  createModelRuntime,
  loadKindDependencies,
  loadTextMeasure,
  type DependencyPurpose,
  type DescribedVersion,
  type Engine,
  type EngineOptions,
  type LoadedMeasure,
} from './wiring.js';
export { createLexicalFeaturizer, fitLexicalFeatures, tokenizeQuestion, type LexicalFeatureOptions, type LexicalFeatureSpec, type LexicalFeaturizer, type LexicalWeighting } from './lexical-features.js';
export { createWorkerRuntime, type WorkerRuntime, type WorkerRuntimeOptions } from './worker-runtime.js';
