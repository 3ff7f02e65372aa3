// The layering modeldock keeps, as dependency-cruiser rules (`pnpm test` runs them: see
// architecture.test.mjs). Paths are relative to the repository root. A violation names the rule
// and the files: "error no-circular: packages/a.ts → packages/b.ts → packages/a.ts".
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');

/** Where HTTP lives: Node's servers and sockets, and the HTTP libraries the services use. */
const HTTP_CODE = [
  '^(node:)?(http|https|http2|net|tls)$',
  '(^|/)node_modules/(express|http-proxy-middleware|pino-http|supertest|undici)/',
  '^packages/(model-server|service-kit)/',
];

/** npm packages only the trainer needs (progress bars for long training runs). */
const TRAINER_ONLY_DEPENDENCIES = ['(^|/)node_modules/cli-progress/'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files import each other in a circle (type-only imports count): move the shared part into a file both import.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing: either a bug, or this configuration lost track of a package (the other rules would then see less).',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'packages-never-import-apps',
      severity: 'error',
      comment: 'packages/ are libraries; apps/ build on them, never the other way round.',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-stay-apart',
      severity: 'error',
      comment: "An app never imports another app's files: what two apps share belongs in a package.",
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'no-relative-imports-across-packages',
      severity: 'error',
      comment: "Another workspace package is imported by its name (@modeldock/...), through what its package.json exports, never by '../' into its files.",
      from: { path: '^(apps|packages|tooling)/([^/]+)/' },
      to: { path: '^(apps|packages|tooling)/', pathNot: '^$1/$2/', dependencyTypes: ['local'], dependencyTypesNot: ['aliased'] },
    },
    {
      name: 'gateway-loads-no-model',
      severity: 'error',
      comment: 'The gateway routes requests to model services; it never loads a model, so it imports neither the runtime, the model server nor TF.js.',
      from: { path: '^apps/gateway/' },
      to: { path: ['^packages/(model-runtime|model-server)/', '(^|/)node_modules/@tensorflow(-models)?/'] },
    },
    {
      name: 'runtime-knows-no-http',
      severity: 'error',
      comment: 'The model runtime computes; protocols and HTTP are the model server\'s. It imports no HTTP server, library or service package.',
      from: { path: '^packages/model-runtime/' },
      to: { path: HTTP_CODE },
    },
    {
      name: 'text-preprocessing-is-pure',
      severity: 'error',
      comment: 'Text preprocessing is pure and synchronous: its code imports nothing outside its own files (no I/O, no TensorFlow, no npm package). Tests may read fixtures.',
      from: { path: '^packages/text-preprocessing/src/', pathNot: '\\.test\\.ts$' },
      to: { pathNot: '^packages/text-preprocessing/src/' },
    },
    {
      name: 'kinds-own-their-contract',
      severity: 'error',
      comment: 'A model kind imports the runtime\'s contract files and shared modules, never the registry, the wiring, the index or another kind.',
      from: { path: '^packages/model-runtime/src/kinds/' },
      to: { path: ['^packages/model-runtime/src/kinds/', '^packages/model-runtime/src/(registry|wiring|index)\\.ts$'] },
    },
    {
      name: 'trainer-code-stays-in-trainer',
      severity: 'error',
      comment: "Nothing outside the trainer imports the trainer's files.",
      from: { pathNot: '^apps/trainer/' },
      to: { path: '^apps/trainer/' },
    },
    {
      name: 'trainer-only-dependencies',
      severity: 'error',
      comment: 'Packages only training needs are imported by the trainer alone.',
      from: { pathNot: '^apps/trainer/' },
      to: { path: TRAINER_ONLY_DEPENDENCIES },
    },
    {
      name: 'package-code-serves',
      severity: 'error',
      comment:
        'Every module of a package is reachable from a serving entry point (an app other than the trainer, the bench, the scripts); one only the trainer reaches belongs in the trainer.',
      from: { path: ['^apps/(?!trainer/)[^/]+/src/main\\.ts$', '^bench/src/main\\.ts$', '^scripts/[^/]+\\.mjs$'] },
      to: {
        path: '^packages/[^/]+/src/',
        pathNot: [
          '\\.test\\.ts$',
          // Test fakes, exported for the apps' tests.
          '^packages/model-server/src/testing\\.ts$',
          // Started by URL as a worker thread (worker-runtime.ts), not imported.
          '^packages/model-runtime/src/engine-worker\\.ts$',
          // Compiled for the browser and served as files by the gateway (packages/playground), not imported.
          '^packages/playground/src/browser/',
        ],
        reachable: false,
      },
    },
  ],
  options: {
    baseDir: ROOT,
    doNotFollow: { path: 'node_modules' },
    // Built output and lint configs are not the code; npm packages stay in the graph (not followed) for the rules on them.
    exclude: { path: ['(^|/)dist/', '(^|/)eslint\\.config\\.js$', '\\.d\\.ts$'] },
    // Type-only imports are dependencies too: a circle of types is still a circle.
    tsPreCompilationDeps: true,
    // Workspace packages resolve to their sources (tsconfig paths), so the rules see across packages without a build.
    tsConfig: { fileName: path.join(__dirname, 'tsconfig.json') },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    skipAnalysisNotInRules: true,
  },
};
