export { parseEnv, port, positiveInt, nonNegativeInt, flag, logLevel } from './config.js';
export { errorHandler, notFoundHandler, openAiErrorHandler, type ErrorHandlerOptions } from './error-handler.js';
export { openAiErrorBody, type OpenAiErrorBody } from './openai-errors.js';
export { ECHO_LIMIT, HttpError, clipInput, toHttpError } from './errors.js';
export {
  ERROR_STATUSES,
  HTTP_METHODS,
  OPENAPI_VERSION,
  errorBody,
  errorComponents,
  errorResponse,
  errorResponseObject,
  jsonRequestBody,
  jsonResponse,
  jsonSchema,
  modelListSchema,
  protocolSchemas,
  openAiErrorBodySchema,
  pointerSegment,
  type Header,
  type HttpMethod,
  type JsonSchema,
  type MediaType,
  type OpenApiDocument,
  type Operation,
  type Parameter,
  type PathItem,
  type Paths,
  type Ref,
  type Response,
} from './openapi.js';
export { createHttpServer, type HttpServerLimits } from './http-server.js';
export {
  BACKEND_HEADER,
  DEADLINE_HEADER,
  DEADLINE_MAX_HEADER,
  QUEUE_TIME_HEADER,
  SERVED_BY_HEADER,
  SHADOW_HEADER,
  TIMEOUT_CAUSE_HEADER,
} from './headers.js';
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
export { checkRequestTarget, refuseAmbiguousTargets } from './request-target.js';
export { jsonBody, JsonDepthScanner, type JsonBodyOptions } from './json-body.js';
export {
  Counter,
  Gauge,
  Histogram,
  Registry,
  LATENCY_BUCKETS,
  childCache,
  createRegistry,
  httpMetrics,
  httpRequestRecorder,
  type HttpMetricsOptions,
  type HttpRequestRecorder,
  metricsHandler,
  routeTemplate,
} from './metrics.js';
export { cidrList, createTrustedProxies, forwardedClient, plainAddress, type TrustedProxies } from './trusted-proxies.js';
export { installGracefulShutdown, type GracefulShutdownOptions } from './shutdown.js';
export {
  SPAN_ATTRIBUTES,
  endServerSpan,
  extractTraceContext,
  injectTraceContext,
  loadTracingSettings,
  spanTime,
  startServerSpan,
  startTracing,
  tracingExport,
  tracingSettingsReference,
  tracingSettingsSchema,
  type TracedService,
  type Tracing,
  type TracingSettings,
} from './tracing.js';
