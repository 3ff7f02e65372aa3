import { Router } from 'express';
import type { Batch, ModelRuntime, Tensor } from '@modeldock/model-runtime';
import { HttpError, jsonRequestBody, jsonResponse } from '@modeldock/service-kit';
import { EXAMPLE_TEXTS, inferenceContext, inferenceErrors, parseBody, textTensor, type ModelServerPlugin } from '@modeldock/model-server';
import { z } from 'zod';

/** The seed's request: `rawtext_list`, its texts checked against the model's limits by `textTensor`. */
export const predictTopicRequest = z.object({ rawtext_list: z.unknown() });

/** The seed's answer: per question, every topic's probability, and the most probable topic. */
export const predictTopicResponse = z.object({
  input: z.array(z.string()),
  output: z.array(z.record(z.string(), z.number())),
  topics: z.array(z.string()),
  model_name: z.string(),
  model_version: z.string(),
});

/** The answer to `texts` from the classifier's `outputs`. */
function predictTopicBody(runtime: ModelRuntime, texts: readonly string[], outputs: Batch): z.input<typeof predictTopicResponse> {
  const labels = runtime.labels ?? [];
  const values = (outputs.tensors[runtime.scoresOutput as string] as Tensor).data as Float32Array;
  const rows = texts.map((_, row) => Array.from(values.subarray(row * labels.length, (row + 1) * labels.length)));
  return {
    input: [...texts],
    output: rows.map((row) => Object.fromEntries(labels.map((label, i) => [label, row[i] as number]))),
    topics: rows.map((row) => labels[row.indexOf(Math.max(...row))] as string),
    model_name: runtime.name,
    model_version: runtime.version,
  };
}

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
      const body = parseBody(predictTopicRequest, req.body);
      if (!('rawtext_list' in body)) throw HttpError.invalidInput("body must have 'rawtext_list'");
      const runtime = plane.model;
      const decoded = plane.decode(runtime, [textTensor(runtime, body.rawtext_list, 'rawtext_list')]);
      const outputs = await plane.infer(runtime, decoded, inferenceContext(req, res, 'seed', options));
      res.json(predictTopicBody(runtime, decoded.inputs.tensors[runtime.textInput as string]?.data as string[], outputs));
    });
    return router;
  },
  openapi({ plane, example }) {
    const runtime = plane.model;
    const labels = z.enum((runtime.labels ?? []) as [string, ...string[]]);
    const text = z.string().max(plane.limits.maxTextLength);
    return {
      '/predict_topic': {
        post: {
          tags: ['predict-topic'],
          summary: 'The seed route: topics of English questions',
          description: `The original service's API, answered by the default version (${runtime.version}).`,
          requestBody: jsonRequestBody(predictTopicRequest.extend({ rawtext_list: z.array(text).min(1).max(plane.limits.maxRows) }), {
            rawtext_list: [...EXAMPLE_TEXTS],
          }),
          responses: {
            '200': jsonResponse(
              'Per question, every topic’s probability (`output`) and the most probable (`topics`).',
              predictTopicResponse.extend({
                output: z.array(z.object(Object.fromEntries((runtime.labels ?? []).map((label) => [label, z.number()])))),
                topics: z.array(labels),
                model_name: z.literal(runtime.name),
              }),
              example === undefined ? undefined : predictTopicBody(runtime, EXAMPLE_TEXTS, example.outputs),
            ),
            ...inferenceErrors('plain'),
          },
        },
      },
    };
  },
};
