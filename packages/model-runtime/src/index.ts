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
