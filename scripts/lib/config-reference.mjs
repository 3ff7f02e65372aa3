// The configuration reference (docs/configuration.md), generated from the zod schemas the
// processes parse their environment with, so it cannot drift from them.
import { settingsReference } from '@modeldock/model-server';
import { gatewaySettingsReference } from '@modeldock/gateway/config';

/** The markdown cell of a default. */
const cell = (value) => (value === undefined ? '—' : `\`${value}\``);

/** The whole reference as markdown. */
export function renderConfigReference() {
  // One schema, two prefixes: the rows line up.
  const qt = settingsReference('QT_', { PORT: '8501' });
  const rows = settingsReference('MODEL_').map((generic, i) => {
    const own = qt[i];
    const qtDefault = generic.variable === 'MODEL_DIR' ? '`models/question-topic` of the checkout' : cell(own?.default);
    return `| \`${generic.variable}\` | \`${own?.variable}\` | ${cell(generic.default)} | ${qtDefault} | ${generic.meaning} |`;
  });
  const gateway = gatewaySettingsReference().map((row) => `| \`${row.variable}\` | ${cell(row.default)} | ${row.meaning} |`);
  return [
    '# Configuration reference',
    '',
    'Generated from the zod schemas each process parses its environment with (`pnpm docs:config` rewrites this file;',
    '`pnpm test` fails when it is out of date). Every variable has a default that works on a laptop, except a generic',
    "model server's `MODEL_DIR`. Empty values count as unset.",
    '',
    '## Model servers',
    '',
    'The generic model server (`apps/model-server`) reads `MODEL_*`; question-topic (`apps/question-topic`, the same server',
    "plus its seed route) reads the same settings as `QT_*`. A model directory's optional `model-settings.json` may set",
    '`versions`, `defaultVersion` and `labels` (version labels such as `{"stable": "1", "canary": "2"}`); the environment overrides it.',
    '',
    '| generic server | question-topic | default | question-topic default | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '## Gateway',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    ...gateway,
    '',
    '## `pnpm start` and `pnpm dev`',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    '| `MODELDOCK_MODELS` | every model under `models/` | comma-separated subset of the models to start |',
    '| `MODELDOCK_MODELS_DIR` | `models` of the checkout | the models folder (relative to the checkout; entries may be symbolic links to model folders elsewhere) |',
    "| `MODELDOCK_PORTS` | — | JSON `{\"<model>\": <port>}`: ports that replace the models' own for this run (the tests start a stack on free ports with it) |",
    '| `MODELDOCK_STOP_TIMEOUT_MS` | `35000` | after a stop signal, how long to wait for the processes to drain before killing them |',
    '',
  ].join('\n');
}
