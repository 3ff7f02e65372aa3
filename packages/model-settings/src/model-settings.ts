import { z } from 'zod';

/**
 * The one rule for a model's name: its folder under `models/`, the name it is served under, its compose service
 * and its Kubernetes Service and Deployment. A Service's name must be an RFC 1035 label, so that is the rule.
 */
export const MODEL_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** What {@link MODEL_NAME} allows, for error messages. */
export const MODEL_NAME_RULE = 'lowercase letters, digits and "-", starting with a letter and not ending with "-", at most 63 characters';

/** A model version: a folder `models/<name>/<version>/` (TF Serving's numeric versions). */
export const MODEL_VERSION = /^\d+$/;

/** The versions to serve: `latest`, `all` or a list like `1,2`. */
export const VERSION_POLICY = /^(latest|all|\d+(,\d+)*)$/;

/** A version label (TF Serving's `version_labels`): a name, never digits alone, so it cannot be read as a version. */
export const VERSION_LABEL = /^[A-Za-z][\w.-]{0,63}$/;

/** Methods a gateway alias may route. */
export const ALIAS_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** A zod schema for a model name. */
export const modelName = () => z.string().regex(MODEL_NAME, MODEL_NAME_RULE);

const positive = () => z.number().int().positive();

// Kubernetes quantities in the forms the deploy files need: compose takes the same memory strings, and CPU as a
// number of cores (converted from millicores).
const cpuQuantity = z.string().regex(/^(\d+m|\d+(\.\d+)?)$/, 'a CPU quantity: cores ("1", "0.5") or millicores ("500m")');
const memoryQuantity = z.string().regex(/^\d+(Ki|Mi|Gi)$/, 'a memory quantity in Ki, Mi or Gi ("768Mi")');
const compute = z.strictObject({ cpu: cpuQuantity, memory: memoryQuantity });

/** Requests and limits of a model server container. */
const resourceRequirements = z.strictObject({ requests: compute, limits: compute });

const alias = z.strictObject({
  method: z.enum(ALIAS_METHODS),
  path: z
    .string()
    .regex(/^\/[\w./-]*$/, 'an absolute path of letters, digits, "_", ".", "/" and "-"')
    .refine((path) => !/\/\/|\/\.\.?(\/|$)/.test(path), 'must not contain empty or dot segments'),
});

/**
 * A deployment's name: its backend name at the gateway, and the suffix of its Service (`<model>-<name>`), so a DNS
 * label's characters.
 */
export const DEPLOYMENT_NAME = /^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$/;

const versionLabels = z
  .record(z.string(), z.string().regex(MODEL_VERSION, 'a version (digits)'))
  .superRefine((labels, ctx) => {
    for (const label of Object.keys(labels).filter((key) => !VERSION_LABEL.test(key))) {
      ctx.addIssue({ code: 'custom', path: [label], message: 'a label is a letter, then letters, digits, ".", "_" or "-"' });
    }
  });

const versionPolicy = z.string().regex(VERSION_POLICY, "'latest', 'all' or versions like '1,2'");

/** The serving fields a further deployment may set differently from the model's own. */
export const DEPLOYMENT_OVERRIDES = ['versions', 'defaultVersion', 'labels'] as const;

const deployment = z.strictObject({
  name: z.string().regex(DEPLOYMENT_NAME, 'lowercase letters, digits and "-", starting with a letter, at most 32'),
  weight: z.number().min(0, 'must not be negative').describe('its share of the requests at the gateway (0: none, pinned and shadow only)'),
  port: z.number().int().min(1).max(65535).optional(),
  versions: versionPolicy.optional(),
  defaultVersion: z.string().regex(MODEL_VERSION, 'digits').optional(),
  labels: versionLabels.optional(),
});

const replicas = z
  .strictObject({
    min: positive().describe('fewest replicas (the autoscaler never goes below; 2 keeps one serving through a node drain)'),
    max: positive().describe('most replicas the autoscaler may run'),
    targetRowsInFlight: positive()
      .optional()
      .describe(
        'rows queued plus in the engine per replica the autoscaler holds (KEDA); default: twice `maxBatchSize` (see deploy/README.md, "Autoscaling")',
      ),
  })
  .refine((r) => r.min <= r.max, { message: '`min` must not exceed `max`', path: ['min'] });

/** Defaults of the deployment fields, also the values a model without a settings file is deployed with. */
export const DEPLOYMENT_DEFAULTS = Object.freeze({
  replicas: { min: 2, max: 4 },
  resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  gpuResources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '2', memory: '8Gi' }, gpus: 1 },
});

/**
 * `models/<name>/model-settings.json` (MLServer's file of the same name): everything about a model that is not
 * in its versions' artefacts. Serving settings (the server's `MODEL_*` variables override them), the deployment
 * (replicas, resources; read by `pnpm deploy:gen`), and its routes and port under `pnpm start`. Unknown fields are
 * an error, so a typo cannot silently change nothing. Each `.describe()` is a row of docs/configuration.md.
 */
export const modelSettingsSchema = z.strictObject({
  app: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .optional()
    .describe('the `apps/` folder of the server when the model has its own routes (question-topic); default: the generic model server'),
  port: z.number().int().min(1).max(65535).optional().describe('its port under `pnpm start` (default: the first free one from 8502 up)'),
  aliases: z.array(alias).optional().describe('extra gateway routes to it, e.g. `[{"method": "POST", "path": "/predict_topic"}]`'),
  labels: versionLabels
    .optional()
    .describe(
      'TF Serving version labels, e.g. `{"stable": "1", "canary": "2"}`: `/v1/models/<m>/labels/<label>` with `:predict`, `:classify` or `/metadata` reaches the version (as `MODEL_VERSION_LABELS`)',
    ),
  versions: versionPolicy.optional().describe('versions to serve (as `MODEL_VERSIONS`)'),
  defaultVersion: z.string().regex(MODEL_VERSION, 'digits').optional().describe('version unversioned requests get (as `MODEL_DEFAULT_VERSION`)'),
  maxBatchSize: positive().optional().describe('as `MODEL_MAX_BATCH_SIZE`'),
  maxBatchDelayMs: z.number().int().nonnegative().optional().describe('as `MODEL_MAX_BATCH_DELAY_MS`'),
  maxBatchPositions: positive().optional().describe('as `MODEL_MAX_BATCH_POSITIONS`'),
  maxQueue: positive().optional().describe('as `MODEL_MAX_QUEUE`'),
  maxQueuePerClient: positive().optional().describe('as `MODEL_MAX_QUEUE_PER_CLIENT`'),
  maxQueuePositions: positive().optional().describe('as `MODEL_MAX_QUEUE_POSITIONS`'),
  maxQueuePositionsPerClient: positive().optional().describe('as `MODEL_MAX_QUEUE_POSITIONS_PER_CLIENT`'),
  maxTexts: positive().optional().describe('as `MODEL_MAX_TEXTS`'),
  maxTextLength: positive().optional().describe('as `MODEL_MAX_TEXT_LENGTH`'),
  maxTextPieces: positive().optional().describe('as `MODEL_MAX_TEXT_PIECES`'),
  maxRequestPositions: positive().optional().describe('as `MODEL_MAX_REQUEST_POSITIONS`'),
  maxTensorElements: positive().optional().describe('as `MODEL_MAX_TENSOR_ELEMENTS`'),
  maxBodyBytes: positive().optional().describe('as `MODEL_MAX_BODY_BYTES`'),
  requestDeadlineMs: positive().optional().describe('as `MODEL_REQUEST_DEADLINE_MS`'),
  maxRequestDeadlineMs: positive().optional().describe('as `MODEL_MAX_REQUEST_DEADLINE_MS`'),
  cacheBytes: z.number().int().nonnegative().optional().describe('as `MODEL_CACHE_BYTES` (the result cache; 0: off)'),
  replicas: replicas.default(DEPLOYMENT_DEFAULTS.replicas).describe('`{"min", "max", "targetRowsInFlight"?}`: the autoscaler\'s bounds and target'),
  resources: resourceRequirements
    .default(DEPLOYMENT_DEFAULTS.resources)
    .describe('`{"requests": {"cpu", "memory"}, "limits": {"cpu", "memory"}}` of a replica on CPU (Kubernetes; compose takes the limits and the memory request)'),
  gpuResources: z
    .strictObject({ requests: compute, limits: compute, gpus: positive() })
    .default(DEPLOYMENT_DEFAULTS.gpuResources)
    .describe('the same for a replica on an NVIDIA GPU node, plus `gpus` (`nvidia.com/gpu`), for the `gpu` overlay'),
  deployments: z
    .array(deployment)
    .min(1)
    .optional()
    .describe(
      'the model as several deployments behind the gateway, each a backend with a weight (docs/rollouts.md): `[{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10, "defaultVersion": "2"}]`. The first is the model\'s own (its Service and port, the settings above); each further one is a Service `<model>-<name>` of the same model with its own `versions`, `defaultVersion`, `labels` and `port` where set',
    ),
  shadow: z
    .strictObject({ backend: z.string(), percent: z.number().min(0).max(100) })
    .optional()
    .describe('with `deployments`: `{"backend": "<deployment>", "percent": 0-100}`, a share of the others\' requests copied to that deployment and compared (the gateway\'s `shadow`)'),
}).superRefine((settings, ctx) => {
  const deployments = settings.deployments ?? [];
  const first = deployments[0];
  for (const field of DEPLOYMENT_OVERRIDES) {
    if (first?.[field] !== undefined) ctx.addIssue({ code: 'custom', path: ['deployments', 0, field], message: `the first deployment is the model's own: set its \`${field}\` at the top level` });
  }
  if (first?.port !== undefined) ctx.addIssue({ code: 'custom', path: ['deployments', 0, 'port'], message: "the first deployment is the model's own: set its `port` at the top level" });
  const names = new Set<string>();
  deployments.forEach(({ name }, index) => {
    if (names.has(name)) ctx.addIssue({ code: 'custom', path: ['deployments', index, 'name'], message: `'${name}' names another deployment already` });
    names.add(name);
  });
  if (deployments.length > 0 && deployments.every((d) => d.weight === 0)) {
    ctx.addIssue({ code: 'custom', path: ['deployments'], message: 'every weight is 0: the gateway would serve no request' });
  }
  if (settings.shadow !== undefined && !names.has(settings.shadow.backend)) {
    ctx.addIssue({ code: 'custom', path: ['shadow', 'backend'], message: deployments.length === 0 ? 'a shadow needs `deployments`' : `'${settings.shadow.backend}' is not one of the deployments (${[...names].join(', ')})` });
  }
});

/** A model's settings as written (fields left out stay undefined or take their defaults). */
export type ModelSettings = z.output<typeof modelSettingsSchema>;

/**
 * The serving fields and the model server setting each stands for (the variable without its prefix:
 * `MODEL_` + `MAX_BATCH_SIZE`). The server takes them as defaults its environment overrides; Kubernetes, whose
 * pods do not see the settings file, gets them as those variables.
 */
export const SERVING_SETTINGS = Object.freeze({
  versions: 'MODEL_VERSIONS',
  defaultVersion: 'DEFAULT_VERSION',
  labels: 'VERSION_LABELS',
  maxBatchSize: 'MAX_BATCH_SIZE',
  maxBatchDelayMs: 'MAX_BATCH_DELAY_MS',
  maxBatchPositions: 'MAX_BATCH_POSITIONS',
  maxQueue: 'MAX_QUEUE',
  maxQueuePerClient: 'MAX_QUEUE_PER_CLIENT',
  maxQueuePositions: 'MAX_QUEUE_POSITIONS',
  maxQueuePositionsPerClient: 'MAX_QUEUE_POSITIONS_PER_CLIENT',
  maxTexts: 'MAX_TEXTS',
  maxTextLength: 'MAX_TEXT_LENGTH',
  maxTextPieces: 'MAX_TEXT_PIECES',
  maxRequestPositions: 'MAX_REQUEST_POSITIONS',
  maxTensorElements: 'MAX_TENSOR_ELEMENTS',
  maxBodyBytes: 'MAX_BODY_BYTES',
  requestDeadlineMs: 'REQUEST_DEADLINE_MS',
  maxRequestDeadlineMs: 'MAX_REQUEST_DEADLINE_MS',
  cacheBytes: 'CACHE_BYTES',
} as const satisfies Partial<Record<keyof ModelSettings, string>>);

/** A serving setting's key in the model server's schema. */
export type ServingSettingKey = (typeof SERVING_SETTINGS)[keyof typeof SERVING_SETTINGS];

/** The serving settings a settings file sets, as the model server's setting keys and string values. */
export function servingSettings(settings: ModelSettings): Partial<Record<ServingSettingKey, string>> {
  const out: Partial<Record<ServingSettingKey, string>> = {};
  for (const [field, key] of Object.entries(SERVING_SETTINGS) as [keyof typeof SERVING_SETTINGS, ServingSettingKey][]) {
    const value = settings[field];
    if (value === undefined) continue;
    // Labels as the variable spells them: `stable=1,canary=2`.
    out[key] = typeof value === 'object' ? Object.entries(value).map(([label, version]) => `${label}=${version}`).join(',') : String(value);
  }
  return out;
}

/** A model directory or settings file that cannot be used; the message names the file and every problem. */
export class ModelSettingsError extends Error {
  override readonly name = 'ModelSettingsError';
}

/** Parses the text of `models/<name>/model-settings.json`; `where` names the file in errors. */
export function parseModelSettings(text: string, where: string): ModelSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ModelSettingsError(`${where} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = modelSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => (issue.path.length === 0 ? issue.message : `"${issue.path.join('.')}": ${issue.message}`));
    throw new ModelSettingsError(`${where}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** The settings of a model without a settings file: every default. */
export function defaultModelSettings(): ModelSettings {
  return modelSettingsSchema.parse({});
}

/** The autoscaler's per-replica target of rows in flight: the setting, else two full batches. */
export function targetRowsInFlight(settings: ModelSettings, defaultBatchSize: number): number {
  return settings.replicas.targetRowsInFlight ?? 2 * (settings.maxBatchSize ?? defaultBatchSize);
}

/**
 * The versions to serve, oldest first, from the version policy and the versions found on disk;
 * throws naming what is missing.
 */
export function selectVersions(policy: string, available: readonly string[]): string[] {
  const sorted = [...available].sort((a, b) => Number(a) - Number(b));
  if (sorted.length === 0) throw new ModelSettingsError('no model versions found');
  if (policy === 'all') return sorted;
  if (policy === 'latest') return sorted.slice(-1);
  const wanted = [...new Set(policy.split(','))].sort((a, b) => Number(a) - Number(b));
  const missing = wanted.filter((version) => !sorted.includes(version));
  if (missing.length > 0) throw new ModelSettingsError(`model versions ${missing.join(', ')} not found (found: ${sorted.join(', ')})`);
  return wanted;
}
