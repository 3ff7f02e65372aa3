import type { HttpError } from './errors.js';

/** OpenAI's error body, which its clients (openai, LangChain, the Vercel AI SDK) read on its routes. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/** Errors about the request's `model`, which OpenAI's body names as the `param`. */
const MODEL_ERRORS = new Set(['model_not_found', 'model_not_supported']);

/** OpenAI's error `type` for a status, as its API answers them. */
function openAiType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 429:
      return 'rate_limit_error';
    case 503:
      return 'service_unavailable';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request_error';
  }
}

/**
 * The one mapping from an {@link HttpError} to OpenAI's error shape, for every server that speaks
 * OpenAI's API (the gateway and the model servers): same status, `message`, a `type` by status,
 * `code` from the catalogue (`rate_limit_exceeded` for a 429, as OpenAI sends it), and `param`
 * naming the request field at fault (`model` for an unknown model).
 */
export function openAiErrorBody(err: HttpError, param?: string | null): OpenAiErrorBody {
  return {
    error: {
      message: err.message,
      type: openAiType(err.status),
      param: param !== undefined ? param : MODEL_ERRORS.has(err.code) ? 'model' : null,
      code: err.status === 429 ? 'rate_limit_exceeded' : err.code,
    },
  };
}
