export { parseEnv, port, positiveInt, nonNegativeInt, flag, logLevel } from './config.js';
export { errorHandler, notFoundHandler } from './error-handler.js';
export { HttpError, toHttpError } from './errors.js';
export { DEADLINE_HEADER, QUEUE_TIME_HEADER, SERVED_BY_HEADER, TIMEOUT_CAUSE_HEADER } from './headers.js';
export {
  createLogger,
  createLogSampler,
  httpLogger,
  requestIdOf,
  REQUEST_ID_HEADER,
  type HttpLoggerOptions,
  type Logger,
  type LoggerOptions,
} from './logger.js';
export { jsonBody, JsonDepthScanner, type JsonBodyOptions } from './json-body.js';
export {
  Counter,
  Gauge,
  Histogram,
  Registry,
  LATENCY_BUCKETS,
  createRegistry,
  httpMetrics,
  type HttpMetricsOptions,
  metricsHandler,
} from './metrics.js';
export { installGracefulShutdown, type GracefulShutdownOptions } from './shutdown.js';
