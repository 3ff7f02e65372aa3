import { HttpError } from '@modeldock/service-kit';

/** The parsed JSON body as an object, or a 400 saying what it was instead. */
export function jsonObjectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw HttpError.invalidInput('request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}
