// The configuration reference (docs/configuration.md), generated from the zod schemas the
// processes parse their environment with, so it cannot drift from them.
import { settingsReference } from '@modeldock/model-server';
import { gatewaySettingsReference } from '@modeldock/gateway/config';
import { modelSettingsSchema } from '@modeldock/model-settings';
import { tracingSettingsReference } from '@modeldock/service-kit';

/** The markdown cell of a default. */
const cell = (value) => (value === undefined ? '—' : `\`${value}\``);

/** The rows of model-settings.json's fields, from its schema (a field's default, where it has one, in JSON). */
function modelSettingsRows() {
  return Object.entries(modelSettingsSchema.shape).map(([field, schema]) => {
    const parsed = schema.safeParse(undefined);
    const fallback = parsed.success && parsed.data !== undefined ? `\`${JSON.stringify(parsed.data)}\`` : '—';
    return `| \`${field}\` | ${fallback} | ${schema.description ?? ''} |`;
  });
}

/** The whole reference as markdown. */
export function renderConfigReference() {
  const rows = settingsReference('MODEL_').map((row) => {
    const qtDefault = row.variable === 'MODEL_DIR' ? '`models/question-topic` of the checkout' : row.variable === 'MODEL_PORT' ? '`8501`' : cell(row.default);
    return `| \`${row.variable}\` | ${cell(row.default)} | ${qtDefault} | ${row.meaning} |`;
  });
  const gateway = gatewaySettingsReference().map((row) => `| \`${row.variable}\` | ${cell(row.default)} | ${row.meaning} |`);
  const tracing = tracingSettingsReference().map((row) => `| \`${row.variable}\` | ${cell(row.default)} | ${row.meaning} |`);
  return [
    '# Configuration reference',
    '',
    'Generated from the zod schemas each process parses its environment with (`pnpm docs:config` rewrites this file;',
    '`pnpm test` fails when it is out of date). Every variable has a default that works on a laptop, except a generic',
    "model server's `MODEL_DIR`. Empty values count as unset.",
    '',
    '## Model servers',
    '',
    'Every model server reads `MODEL_*`: the generic one (`apps/model-server`) and question-topic (`apps/question-topic`, the',
    'same server plus its seed route). question-topic also reads `QT_*` (`QT_PORT`, `QT_MODEL_DIR`, ...), its prefix before',
    'it shared this one, as an alias: where both are set they must agree. A model directory\'s `model-settings.json`',
    '(below) gives the serving settings; the environment overrides it.',
    '',
    '| variable | default | question-topic default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
    '## `models/<name>/model-settings.json`',
    '',
    'One file per model, read with one schema by the model server, `pnpm start`, `pnpm bench` and `pnpm deploy:gen`',
    '(`packages/model-settings`), all fields optional; unknown fields are an error. A model\'s name is its folder\'s:',
    'lowercase letters, digits and `-`, starting with a letter (a DNS label: it names its Kubernetes Service).',
    '`pnpm deploy:gen` writes the deploy files from it (deploy/README.md).',
    '',
    '| field | default | meaning |',
    '|---|---|---|',
    ...modelSettingsRows(),
    '',
    '## Gateway',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    ...gateway,
    '',
    '## Tracing (OpenTelemetry), every process',
    '',
    "The gateway and every model server read OpenTelemetry's standard variables, not a prefix of modeldock's. Tracing is",
    'off unless one of them turns it on (the specification would default to `otlp`): then spans go over OTLP/HTTP to a',
    'collector (docs: [README, Operations](../README.md#tracing)). The SDK also reads the rest of the standard set as the',
    'specification says: `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, `_TIMEOUT`, `_COMPRESSION` and certificates,',
    '`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*` (batching of exports), `OTEL_SPAN_*_LIMIT`.',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    ...tracing,
    '',
    '## `pnpm start` and `pnpm dev`',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    '| `MODELDOCK_MODELS` | every model under `models/` | comma-separated subset of the models to start |',
    '| `MODELDOCK_MODELS_DIR` | `models` of the checkout | the models folder (relative to the checkout; entries may be symbolic links to model folders elsewhere) |',
    "| `MODELDOCK_PORTS` | — | JSON `{\"<model>\": <port>}`: ports that replace the models' own for this run (the tests start a stack on free ports with it) |",
    '| `MODELDOCK_STOP_TIMEOUT_MS` | `135000` | after a stop signal, how long to wait for the processes to drain before killing them (their drains end as soon as the requests in flight are answered, within 130 s) |',
    '',
  ].join('\n');
}
