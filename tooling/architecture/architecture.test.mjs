import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const DEPCRUISE = path.join(HERE, 'node_modules/.bin/depcruise');
/** Everything with code in the repository. */
const SOURCES = ['apps', 'packages', 'bench', 'scripts', 'deploy', 'test'];

/** Runs dependency-cruiser; resolves with its exit code and output, whatever they are (bounded in time). */
function depcruise(args, cwd) {
  return new Promise((resolve, reject) => {
    execFile(DEPCRUISE, args, { cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(error);
      else resolve({ code: error === null ? 0 : error.code, stdout, stderr });
    });
  });
}

describe('the layering rules (dependency-cruiser)', () => {
  // The rules resolve a workspace import through the package's exports, its dist/: turbo builds a package before
  // this test only when it is a dependency of this one, so every package that builds must be listed.
  it('depend on every workspace package that builds, so that each is built before they run', async () => {
    const own = JSON.parse(await readFile(path.join(HERE, 'package.json'), 'utf8'));
    const missing = [];
    for (const dir of ['apps', 'packages', 'tooling']) {
      for (const entry of await readdir(path.join(ROOT, dir), { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const manifest = JSON.parse(await readFile(path.join(ROOT, dir, entry.name, 'package.json'), 'utf8').catch(() => '{}'));
        if (manifest.scripts?.build !== undefined && own.devDependencies?.[manifest.name] === undefined) missing.push(manifest.name);
      }
    }
    assert.deepEqual(missing, [], 'add these to tooling/architecture/package.json devDependencies ("workspace:*")');
  });

  it('hold for the whole repository', async () => {
    const { code, stdout, stderr } = await depcruise(['--config', path.join(HERE, 'dependency-cruiser.cjs'), '--output-type', 'err-long', ...SOURCES], ROOT);
    assert.equal(code, 0, `a rule is broken (rule: file → file):\n${stdout}${stderr}`);
    assert.match(stdout, /no dependency violations found \((\d{3,}) modules/);
  });

  describe('catch each thing they forbid, naming the rule and the file', () => {
    /** A small repository that breaks every rule once; `file: [imports...]`. */
    const FILES = {
      'packages/model-runtime/src/index.ts': ['./model-runtime.js', './registry.js', './serving.js', './client.js'],
      'packages/model-runtime/src/model-runtime.ts': ['./signature.js'],
      'packages/model-runtime/src/signature.ts': ['./model-runtime.js'],
      'packages/model-runtime/src/registry.ts': ['./kinds/one.js', './kinds/two.js'],
      'packages/model-runtime/src/kinds/one.ts': ['../registry.js', './two.js'],
      'packages/model-runtime/src/kinds/two.ts': [],
      'packages/model-runtime/src/serving.ts': ['node:http'],
      'packages/model-runtime/src/client.ts': ['express'],
      'packages/model-runtime/src/fit.ts': [],
      'packages/text-preprocessing/src/index.ts': ['node:fs'],
      'packages/service-kit/src/index.ts': ['../../../apps/question-topic/src/main.js', 'cli-progress'],
      'apps/gateway/src/main.ts': ['@modeldock/model-runtime', '@modeldock/service-kit', '@modeldock/text-preprocessing', './tensors.js'],
      'apps/gateway/src/tensors.ts': ['@tensorflow/tfjs-core'],
      'apps/question-topic/src/main.ts': ['../../trainer/src/data.js', './missing.js'],
      'apps/trainer/src/main.ts': ['../../../packages/model-runtime/src/fit.js', 'cli-progress', './data.js'],
      'apps/trainer/src/data.ts': [],
    };
    /** What must be reported: `rule from`. */
    const EXPECTED = [
      'apps-stay-apart apps/question-topic/src/main.ts',
      'gateway-loads-no-model apps/gateway/src/main.ts',
      'gateway-loads-no-model apps/gateway/src/tensors.ts',
      'kinds-own-their-contract packages/model-runtime/src/kinds/one.ts',
      'no-circular packages/model-runtime/src/kinds/one.ts',
      'no-circular packages/model-runtime/src/model-runtime.ts',
      'no-relative-imports-across-packages apps/question-topic/src/main.ts',
      'no-relative-imports-across-packages apps/trainer/src/main.ts',
      'no-relative-imports-across-packages packages/service-kit/src/index.ts',
      'package-code-serves packages/model-runtime/src/fit.ts',
      'packages-never-import-apps packages/service-kit/src/index.ts',
      'resolvable apps/question-topic/src/main.ts',
      'runtime-knows-no-http packages/model-runtime/src/client.ts',
      'runtime-knows-no-http packages/model-runtime/src/serving.ts',
      'text-preprocessing-is-pure packages/text-preprocessing/src/index.ts',
      'trainer-code-stays-in-trainer apps/question-topic/src/main.ts',
      'trainer-only-dependencies packages/service-kit/src/index.ts',
    ];
    let fixture;
    let result;

    before(async () => {
      fixture = await mkdtemp(path.join(tmpdir(), 'modeldock-architecture-'));
      for (const [file, imports] of Object.entries(FILES)) {
        await mkdir(path.dirname(path.join(fixture, file)), { recursive: true });
        const body = imports.map((specifier, i) => `import * as m${i} from '${specifier}';\nconsole.log(m${i});\n`).join('');
        await writeFile(path.join(fixture, file), `${body}export const here = '${file}';\n`);
      }
      for (const dependency of ['express', 'cli-progress', '@tensorflow/tfjs-core']) {
        const dir = path.join(fixture, 'node_modules', dependency);
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: dependency, main: 'index.js' }));
        await writeFile(path.join(dir, 'index.js'), 'module.exports = {};\n');
      }
      await writeFile(
        path.join(fixture, 'tsconfig.json'),
        JSON.stringify({ include: ['apps', 'packages'], compilerOptions: { baseUrl: '.', paths: { '@modeldock/*': ['packages/*/src/index.ts'] } } }),
      );
      // The repository's rules, with the fixture as the repository.
      await writeFile(
        path.join(fixture, 'dependency-cruiser.cjs'),
        `const config = require(${JSON.stringify(path.join(HERE, 'dependency-cruiser.cjs'))});\n` +
          `module.exports = { ...config, options: { ...config.options, baseDir: __dirname, tsConfig: { fileName: __dirname + '/tsconfig.json' } } };\n`,
      );
      result = await depcruise(['--config', 'dependency-cruiser.cjs', '--output-type', 'err', 'apps', 'packages'], fixture);
    });

    after(async () => {
      if (fixture !== undefined) await rm(fixture, { recursive: true, force: true });
    });

    it('fails the run', () => {
      assert.notEqual(result.code, 0, result.stdout);
    });

    it('reports every broken rule with the importing file', () => {
      const reported = [...result.stdout.matchAll(/^\s*error ([\w-]+): (\S+)/gm)].map(([, rule, from]) => `${rule} ${from}`);
      assert.deepEqual([...new Set(reported)].sort(), EXPECTED, result.stdout);
    });

    it('names the files of a cycle in order', () => {
      assert.match(
        result.stdout,
        /error no-circular: packages\/model-runtime\/src\/model-runtime\.ts →\s+packages\/model-runtime\/src\/signature\.ts →\s+packages\/model-runtime\/src\/model-runtime\.ts/,
      );
    });
  });
});
