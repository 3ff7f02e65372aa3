import { nativeModules, runModelServer, startOrExit } from '@modeldock/model-server';

// The generic model server: MODEL_DIR names the model directory, every other setting is MODEL_*.
startOrExit(() =>
  runModelServer({
    service: 'model-server',
    serviceVersion: '2.0.0',
    envPrefix: 'MODEL_',
    nativeModules: nativeModules((specifier) => import.meta.resolve(specifier)),
  }),
);
