import { Router } from 'express';
import type { Tensor } from '@modeldock/model-runtime';
import { HttpError } from '@modeldock/service-kit';
import { inferenceContext, jsonObjectBody, textTensor, type ModelServerPlugin } from '@modeldock/model-server';

/**
 * The original Flask service's route, `POST /predict_topic` with `{"rawtext_list": [...]}`. It
 * answered a stringified Python list; this answers real JSON with the same keys (`input`, and
 * `output` holding one `{label: probability}` object per question), plus each question's `topics`.
 * A plug-in of question-topic's only: no other model has this route.
 */
export const predictTopicPlugin: ModelServerPlugin = {
  name: 'predict-topic',
  appliesTo: (model) => model.labels !== undefined && model.scoresOutput !== undefined && model.textInput !== undefined,
  routes(plane, options) {
    const router = Router();
    router.post('/predict_topic', async (req, res) => {
      const body = jsonObjectBody(req.body);
      if (!('rawtext_list' in body)) throw HttpError.invalidInput("body must have 'rawtext_list'");
      const runtime = plane.model;
      const decoded = plane.decode(runtime, [textTensor(runtime, body.rawtext_list, 'rawtext_list')]);
      const outputs = await plane.infer(runtime, decoded, inferenceContext(req, res, 'seed', options));
      const labels = runtime.labels ?? [];
      const scores = outputs.tensors[runtime.scoresOutput as string] as Tensor;
      const values = scores.data as Float32Array;
      const texts = decoded.inputs.tensors[runtime.textInput as string]?.data as string[];
      const rows = texts.map((_, row) => Array.from(values.subarray(row * labels.length, (row + 1) * labels.length)));
      res.json({
        input: texts,
        output: rows.map((row) => Object.fromEntries(labels.map((label, i) => [label, row[i]]))),
        topics: rows.map((row) => labels[row.indexOf(Math.max(...row))]),
        model_name: runtime.name,
        model_version: runtime.version,
      });
    });
    return router;
  },
};
