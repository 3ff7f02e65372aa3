// Rewrites docs/configuration.md from the configuration schemas: `pnpm docs:config`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from './lib/config-reference.mjs';

const target = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
writeFileSync(target, renderConfigReference());
console.log('wrote docs/configuration.md');
