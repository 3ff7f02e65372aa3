import { Router } from 'express';
import { HttpError } from '@modeldock/service-kit';
import type { DataPlane } from '../data-plane.js';
import { jsonObjectBody } from './http.js';

/**
 * The original Flask service's route, `POST /predict_topic` with `{"rawtext_list": [...]}`. It
 * answered a stringified Python list; this answers real JSON with the same keys (`input`, and
 * `output` holding one `{label: probability}` object per question), plus each question's `topics`.
 */
export function seedRoutes(plane: DataPlane): Router {
  const router = Router();
  router.post('/predict_topic', async (req, res) => {
    const body = jsonObjectBody(req.body);
    if (!('rawtext_list' in body)) throw HttpError.invalidInput("body must have 'rawtext_list'");
    const texts = plane.validateTexts(body.rawtext_list, 'rawtext_list');
    const results = await plane.classify(texts, 'seed');
    const labels = plane.model.labels;
    res.json({
      input: texts,
      output: results.map(({ probabilities }) =>
        Object.fromEntries(labels.map((label, i) => [label, probabilities[i]])),
      ),
      topics: results.map(({ label }) => label),
      model_name: plane.model.name,
      model_version: plane.model.version,
    });
  });
  return router;
}
