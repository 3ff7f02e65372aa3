/** Characters of client input an error message repeats at most. */
export const ECHO_LIMIT = 64;

/**
 * At most {@link ECHO_LIMIT} characters of client input for an error message, `…` when cut: a
 * client must not get a 200 KB name echoed back in a 404, nor make the logs repeat it.
 */
export function clipInput(text: string, limit = ECHO_LIMIT): string {
  if (text.length <= limit) return text;
  // Never split a surrogate pair, which would leave half a character.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(limit - 1)) ? limit - 1 : limit;
  return `${text.slice(0, end)}…`;
}

/**
 * One catalogue of the errors a modeldock service answers with. Every protocol we speak (OIP v2,
 * TF Serving REST, the seed route) wants the same body, `{"error": "<message>"}`, so the status and
 * message travel on the error and a single terminal handler writes them.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
    /** Extra response headers, e.g. `Retry-After` on overload. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  /** 400: the request is well-formed HTTP but its content is not acceptable. */
  static invalidInput(message: string): HttpError {
    return new HttpError(400, message, 'invalid_input');
  }

  /**
   * 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3): no credentials, or ones that are not valid.
   * The message never repeats what was presented.
   */
  static unauthorized(message: string, invalidToken = false): HttpError {
    const challenge = invalidToken ? 'Bearer realm="modeldock", error="invalid_token"' : 'Bearer realm="modeldock"';
    return new HttpError(401, message, invalidToken ? 'invalid_api_key' : 'missing_api_key', { 'www-authenticate': challenge });
  }

  /** 403: the credentials are valid but do not cover this request (a model outside the key's scope). */
  static forbidden(message: string): HttpError {
    return new HttpError(403, message, 'forbidden');
  }

  /** 400 with code `model_not_found`: a request routed by its body names no model (OpenAI's answer). */
  static modelRequired(): HttpError {
    return new HttpError(400, "you must provide a 'model' string", 'model_not_found');
  }

  /** 400: the client went away, or its body could not be read, before it arrived whole. */
  static requestAborted(message = 'request aborted'): HttpError {
    return new HttpError(400, message, 'request_aborted');
  }

  /** 404: no such model, version or route. */
  static notFound(message: string): HttpError {
    return new HttpError(404, message, 'not_found');
  }

  /** 404 for an unknown model, optionally at a version. */
  static modelNotFound(model: string, version?: string): HttpError {
    const what = version === undefined ? `model '${clipInput(model)}'` : `version '${clipInput(version)}' of model '${clipInput(model)}'`;
    return new HttpError(404, `${what} not found`, 'model_not_found');
  }

  /** 400: the model exists but does not do what the request asks (OpenAI's `param: "model"`). */
  static modelNotSupported(message: string): HttpError {
    return new HttpError(400, message, 'model_not_supported');
  }

  /** 405: the route exists but not for this method. */
  static methodNotAllowed(method: string, path: string): HttpError {
    return new HttpError(405, `method ${clipInput(method)} not allowed on ${clipInput(path)}`, 'method_not_allowed');
  }

  /** 408: the client did not send its request (headers or body) in time. */
  static requestTimeout(timeoutMs: number): HttpError {
    return new HttpError(408, `request not received within ${timeoutMs} ms`, 'request_timeout');
  }

  /** 417: an `Expect` header other than `100-continue` (RFC 9110 §10.1.1). */
  static expectationFailed(): HttpError {
    return new HttpError(417, 'only Expect: 100-continue is supported', 'expectation_failed');
  }

  /** 413: the body is larger than the configured limit. */
  static payloadTooLarge(limitBytes: number): HttpError {
    return new HttpError(413, `request body exceeds the ${limitBytes} byte limit`, 'payload_too_large');
  }

  /** 415: a body that is not JSON where JSON is required. */
  static unsupportedMediaType(message: string): HttpError {
    return new HttpError(415, message, 'unsupported_media_type');
  }

  /** 431: the request's header section is larger than the server accepts (RFC 6585 §5). */
  static headersTooLarge(): HttpError {
    return new HttpError(431, 'request header fields too large', 'headers_too_large');
  }

  /** 429 with `Retry-After`: this client is over its share (RFC 6585 §4); others are still served. */
  static tooManyRequests(message: string, retryAfterSeconds = 1): HttpError {
    return new HttpError(429, message, 'too_many_requests', { 'retry-after': String(retryAfterSeconds) });
  }

  /**
   * 503 with `Retry-After`: the server is saturated and sheds load immediately rather than letting
   * latency grow without bound.
   */
  static overloaded(message: string, retryAfterSeconds = 1): HttpError {
    return new HttpError(503, message, 'overloaded', { 'retry-after': String(retryAfterSeconds) });
  }

  /** 499 (nginx's "client closed request"): the client left before its answer; nobody reads it. */
  static clientClosedRequest(): HttpError {
    return new HttpError(499, 'client closed the request', 'client_closed_request');
  }

  /** 504: the request's deadline passed before its answer was computed. */
  static deadlineExceeded(): HttpError {
    return new HttpError(504, 'deadline exceeded before the request could be served', 'deadline_exceeded');
  }

  /** 503: the model is loading, warming up or shutting down (OIP: non-200 readiness). */
  static modelNotReady(model: string): HttpError {
    return new HttpError(503, `model '${model}' is not ready`, 'model_not_ready', { 'retry-after': '1' });
  }

  /** 502: no upstream could answer (gateway). */
  static upstreamUnavailable(message: string): HttpError {
    return new HttpError(502, message, 'upstream_unavailable');
  }

  /** 503: no healthy upstream at all (gateway). */
  static noUpstream(model: string): HttpError {
    return new HttpError(503, `no ready replica for model '${model}'`, 'no_upstream', { 'retry-after': '1' });
  }

  /** 504: the upstream did not answer within the deadline (gateway). */
  static upstreamTimeout(timeoutMs: number): HttpError {
    return new HttpError(504, `upstream did not answer within ${timeoutMs} ms`, 'upstream_timeout');
  }
}

/**
 * Errors raised by express's body parsers: http-errors objects with a `status`, and usually a
 * `type` (a body that fails to decompress carries only zlib's `code`).
 */
interface BodyParserError {
  type?: string;
  status: number;
  limit?: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { status?: unknown }).status === 'number' &&
    (err as { expose?: unknown }).expose === true
  );
}

/**
 * Maps anything thrown inside a request to an HttpError. Body-parser failures become the 4xx they
 * are (malformed JSON is a 400, never a 500); anything unknown becomes a 500 whose detail is
 * logged, not returned.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  // Express decodes path parameters with decodeURIComponent; `%ff` is the client's mistake.
  if (err instanceof URIError) return HttpError.invalidInput('malformed percent-encoding in the request path');
  if (isBodyParserError(err)) {
    switch (err.type) {
      case 'entity.parse.failed':
        return HttpError.invalidInput('malformed JSON body');
      case 'entity.too.large':
        return HttpError.payloadTooLarge(err.limit ?? 0);
      case 'charset.unsupported':
      case 'encoding.unsupported':
        return HttpError.unsupportedMediaType('unsupported body encoding');
      case 'request.aborted':
        return HttpError.requestAborted();
      case undefined:
        // zlib failed on a body declared as gzip/deflate/br.
        return err.status === 400
          ? HttpError.invalidInput('request body does not match its content-encoding')
          : new HttpError(err.status, 'bad request', 'bad_request');
      default:
        if (err.status >= 400 && err.status < 500) return new HttpError(err.status, 'bad request', 'bad_request');
    }
  }
  return new HttpError(500, 'internal server error', 'internal');
}
