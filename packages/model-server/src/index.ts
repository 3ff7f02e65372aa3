export { createApp, type AppDependencies } from './app.js';
export {
  loadServerSettings,
  readServingDefaults,
  serverSettingsSchema,
  settingValue,
  settingsReference,
  variableName,
  type ServerSettings,
  type SettingDefaults,
  type SettingReference,
} from './config.js';
export {
  LOAD_METRICS,
  WORK_DEADLINE_FACTOR,
  createDataPlane,
  type DataPlane,
  type DataPlaneOptions,
  type DeadlineOptions,
  type DecodeOptions,
  type DecodedRequest,
  type InferenceContext,
  type QueueReport,
} from './data-plane.js';
export {
  BUILT_IN_PLUGINS,
  openAiEmbeddingsPlugin,
  openInferencePlugin,
  tfServingPlugin,
  type ModelServerPlugin,
} from './plugins.js';
export { OPENAI_BATCH_HINT, embeddingOutput } from './routes/openai.js';
export { EXAMPLE_TEXTS, exampleTensors, variants, type ApiContext, type ApiExample, type Variant } from './api/context.js';
export { OPENAPI_PATH, openApiDocument, openApiHandler } from './openapi.js';
export { inferenceErrors } from './api/open-inference.js';
export { clientOf, inferenceContext, jsonObjectBody, parseBody } from './routes/http.js';
export type { RouteOptions, ServerInfo } from './routes/options.js';
export * as schemas from './schemas.js';
export { SIZE_HINT, checkTexts, decodeTensors, describeValue, textTensor, type DecodedTensors, type RawTensor, type RequestLimits, type TextBudget } from './tensors.js';
export { nativeModules, runModelServer, startOrExit, type ModelServerOptions } from './server.js';
