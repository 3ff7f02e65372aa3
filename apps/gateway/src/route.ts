/** Which model a request is for and the path (with query) to send to that model's replica. */
export interface ModelRoute {
  readonly model: string;
  readonly path: string;
}

const GATEWAY_PREFIX = '/models/';
const OIP_PREFIX = '/v2/models/';
const TF_SERVING_PREFIX = '/v1/models/';

/** The segment after `prefix`, up to (not including) the first character in `stops`. */
function segmentAfter(pathname: string, prefix: string, stops: RegExp): string | undefined {
  const rest = pathname.slice(prefix.length);
  const end = rest.search(stops);
  const segment = end === -1 ? rest : rest.slice(0, end);
  return segment === '' ? undefined : segment;
}

function startsWithIgnoringCase(value: string, prefix: string): boolean {
  return value.length >= prefix.length && value.slice(0, prefix.length).toLowerCase() === prefix;
}

/**
 * Maps a raw request URL (`req.originalUrl`, still percent-encoded) to a model and upstream path:
 * - `/models/<model>/<rest>` → `/<rest>` (the gateway's own prefix is stripped);
 * - OIP `/v2/models/<model>[/...]` passes through unchanged;
 * - TF Serving `/v1/models/<model>[/versions/<n>|/labels/<l>][:verb]` passes through unchanged;
 * - `/predict_topic` (the seed service's route) goes to `defaultModel`.
 *
 * Prefixes match case-insensitively, as Express routes do and as TF Serving requires (its REST
 * path regex is `(?i)`, http_rest_api_handler.cc); the model name itself is matched exactly.
 * Returns undefined for any other path.
 */
export function parseModelRoute(url: string, defaultModel: string): ModelRoute | undefined {
  const queryStart = url.indexOf('?');
  const pathname = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? '' : url.slice(queryStart);

  if (startsWithIgnoringCase(pathname, GATEWAY_PREFIX)) {
    const model = segmentAfter(pathname, GATEWAY_PREFIX, /\//);
    if (model === undefined) return undefined;
    const rest = pathname.slice(GATEWAY_PREFIX.length + model.length);
    return { model, path: (rest === '' ? '/' : rest) + query };
  }
  if (startsWithIgnoringCase(pathname, OIP_PREFIX)) {
    const model = segmentAfter(pathname, OIP_PREFIX, /\//);
    return model === undefined ? undefined : { model, path: url };
  }
  if (startsWithIgnoringCase(pathname, TF_SERVING_PREFIX)) {
    const model = segmentAfter(pathname, TF_SERVING_PREFIX, /[/:]/);
    return model === undefined ? undefined : { model, path: url };
  }
  if (pathname === '/predict_topic') return { model: defaultModel, path: url };
  return undefined;
}
