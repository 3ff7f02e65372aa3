import type { Router } from 'express';
import type { ModelDescription } from '@modeldock/model-runtime';
import type { Paths } from '@modeldock/service-kit';
import type { ApiContext } from './api/context.js';
import { openInferenceApi } from './api/open-inference.js';
import { openAiApi } from './api/openai.js';
import { tfServingApi } from './api/tf-serving.js';
import type { DataPlane } from './data-plane.js';
import { openInferenceRoutes } from './routes/open-inference.js';
import { openAiRoutes } from './routes/openai.js';
import type { RouteOptions } from './routes/options.js';
import { tfServingRoutes } from './routes/tf-serving.js';

/**
 * A set of routes on the data plane. The protocols every model speaks are plug-ins like a model's
 * own routes (question-topic's seed `POST /predict_topic`): each says which models it serves.
 */
export interface ModelServerPlugin {
  /** Named in logs and the server metadata. */
  readonly name: string;
  /** Whether it serves this model (default: every model). */
  appliesTo?(model: ModelDescription): boolean;
  routes(plane: DataPlane, options: RouteOptions): Router;
  /** Its routes in the server's OpenAPI document (GET /openapi.json), from the same schemas the routes use. */
  openapi?(context: ApiContext): Paths;
}

/** Open Inference Protocol v2: every model. */
export const openInferencePlugin: ModelServerPlugin = { name: 'open-inference', routes: openInferenceRoutes, openapi: openInferenceApi };

/** TensorFlow Serving REST: every model (`:classify` answers only for classifiers). */
export const tfServingPlugin: ModelServerPlugin = { name: 'tf-serving', routes: tfServingRoutes, openapi: tfServingApi };

/** OpenAI-compatible embeddings and model list: every model (a model without an embedding output answers 400). */
export const openAiEmbeddingsPlugin: ModelServerPlugin = { name: 'openai-embeddings', routes: openAiRoutes, openapi: openAiApi };

/** The protocols the model server speaks for every model it can. */
export const BUILT_IN_PLUGINS: readonly ModelServerPlugin[] = [openAiEmbeddingsPlugin, openInferencePlugin, tfServingPlugin];
