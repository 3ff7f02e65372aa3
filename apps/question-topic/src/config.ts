import { fileURLToPath } from 'node:url';
import { loadServerSettings, type ServerSettings, type SettingDefaults } from '@modeldock/model-server';

/** Every setting of the question-topic service is `MODEL_<SETTING>`, as for every model server. */
export const ENV_PREFIX = 'MODEL_';

/** `QT_<SETTING>`, the service's own prefix before it shared the model servers' one: still read, as an alias. */
export const ENV_ALIAS = 'QT_';

/**
 * question-topic's defaults: the repository's model folder, for running from a checkout (images
 * set MODEL_DIR), and the port its users know.
 */
export const DEFAULTS: SettingDefaults = {
  MODEL_DIR: fileURLToPath(new URL('../../../models/question-topic', import.meta.url)),
  PORT: '8501',
};

/** Parses and validates the MODEL_* (or QT_*) environment; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  return loadServerSettings(ENV_PREFIX, env, DEFAULTS, ENV_ALIAS);
}
