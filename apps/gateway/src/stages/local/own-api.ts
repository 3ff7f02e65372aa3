import { errorResponse, jsonResponse, modelListSchema, protocolSchemas, type Operation, type Paths, type Response } from '@modeldock/service-kit';
import type { Asset } from '@modeldock/playground';
import { z } from 'zod';

/** `GET /healthz` and `GET /readyz`. */
export const statusSchema = z.object({ status: z.enum(['ok', 'ready']) });

/** `GET /models`: each model's availability, its backends' weights and readiness, and its shadow; no addresses. */
export const modelsSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      ready: z.boolean(),
      readyReplicas: z.number().int().min(0),
      backends: z.array(z.object({ name: z.string(), weight: z.number().min(0), ready: z.boolean(), readyReplicas: z.number().int().min(0) })),
      shadow: z.object({ backend: z.string(), percent: z.number().min(0).max(100) }).optional(),
    }),
  ),
});

const TAGS = ['Gateway'];

/**
 * The gateway's own routes in its API document: health (public), the answers that need a key with
 * access control, this document, and the playground's pages and files (public).
 */
export function ownApiPaths(assets: readonly Asset[], accessControl: boolean): Paths {
  const keyed = (status: Record<string, Response>): Record<string, Response> => (accessControl ? { ...status, '401': errorResponse(401) } : status);
  const publicly = (operation: Operation): Operation => (accessControl ? { ...operation, security: [] } : operation);
  const draining = { '503': errorResponse(503) };
  const get = (operation: Operation) => ({ get: { tags: TAGS, ...operation } });
  const paths: Paths = {
    '/healthz': get(publicly({ summary: 'Liveness of the gateway', responses: { '200': jsonResponse('The process runs.', statusSchema, { status: 'ok' }) } })),
    '/readyz': get(publicly({ summary: 'The gateway can serve (never “every model is up”)', responses: { '200': jsonResponse('Ready.', statusSchema, { status: 'ready' }), ...draining } })),
    '/v2/health/live': get(publicly({ summary: 'OIP liveness of the gateway', responses: { '200': jsonResponse('The process runs.', protocolSchemas.live, { live: true }) } })),
    '/v2/health/ready': get(publicly({ summary: 'OIP readiness of the gateway', responses: { '200': jsonResponse('Ready.', protocolSchemas.ready, { ready: true }), ...draining } })),
    '/v2': get({ summary: 'OIP server metadata of the gateway', responses: keyed({ '200': jsonResponse('The gateway.', protocolSchemas.serverMetadata) }) }),
    '/models': get({ summary: 'Each model’s availability, its backends’ weights and readiness (the models the key may use)', responses: keyed({ '200': jsonResponse('The models.', modelsSchema) }) }),
    '/v1/models': get({
      summary: 'The models, as OpenAI lists them (the models the key may use)',
      responses: accessControl ? { '200': jsonResponse('The model list.', modelListSchema), '401': errorResponse(401, 'openai') } : { '200': jsonResponse('The model list.', modelListSchema) },
    }),
    '/openapi.json': get({
      summary: 'This document (OpenAPI 3.1): with access control, only what the key may use',
      responses: keyed({ '200': { description: 'The document.', content: { 'application/json': { schema: { type: 'object' } } } } }),
    }),
  };
  for (const asset of assets) {
    const page = asset.contentType.startsWith('text/html');
    paths[asset.path] = get(
      publicly({
        summary: asset.path === '/' ? 'The playground' : asset.path === '/docs' ? 'This API reference' : `A file of the playground (${asset.contentType.split(';')[0] ?? ''})`,
        responses: { '200': { description: page ? 'The page.' : 'The file.', content: { [asset.contentType.split(';')[0] ?? 'text/plain']: { schema: { type: 'string' } } } }, '304': { description: 'Not modified (If-None-Match).' } },
      }),
    );
  }
  return paths;
}
