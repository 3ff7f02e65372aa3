export { createApp, type AppDependencies } from './app.js';
export {
  loadServerSettings,
  modelSettingsSchema,
  readModelSettings,
  selectVersions,
  serverSettingsSchema,
  settingsReference,
  variableName,
  type ModelSettings,
  type ServerSettings,
  type SettingDefaults,
  type SettingReference,
} from './config.js';
export {
  WORK_DEADLINE_FACTOR,
  createDataPlane,
  type DataPlane,
  type DataPlaneOptions,
  type DeadlineOptions,
  type DecodeOptions,
  type DecodedRequest,
  type InferenceContext,
} from './data-plane.js';
export {
  BUILT_IN_PLUGINS,
  openAiEmbeddingsPlugin,
  openInferencePlugin,
  tfServingPlugin,
  type ModelServerPlugin,
} from './plugins.js';
export { OPENAI_BATCH_HINT, embeddingOutput } from './routes/openai.js';
export { DEADLINE_HEADER, DEADLINE_MAX_HEADER, clientOf, inferenceContext, jsonObjectBody, parseBody } from './routes/http.js';
export type { RouteOptions, ServerInfo } from './routes/options.js';
export * as schemas from './schemas.js';
export { SIZE_HINT, checkTexts, decodeTensors, describeValue, textTensor, type DecodedTensors, type RawTensor, type RequestLimits, type TextBudget } from './tensors.js';
export { nativeModules, runModelServer, startOrExit, type ModelServerOptions } from './server.js';
