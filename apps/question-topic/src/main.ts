import { nativeModules, runModelServer, startOrExit } from '@modeldock/model-server';
import { DEFAULTS, ENV_ALIAS, ENV_PREFIX } from './config.js';
import { predictTopicPlugin } from './predict-topic.js';

// question-topic is the generic model server plus its seed route, configured with MODEL_* (or QT_*) variables.
startOrExit(() =>
  runModelServer({
    service: 'question-topic',
    serviceVersion: '2.0.0',
    envPrefix: ENV_PREFIX,
    envAlias: ENV_ALIAS,
    defaults: DEFAULTS,
    plugins: [predictTopicPlugin],
    nativeModules: nativeModules((specifier) => import.meta.resolve(specifier)),
  }),
);
