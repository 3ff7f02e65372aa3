// Renders kustomize directories with `kubectl kustomize` (no cluster involved) and parses what comes out.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const K8S = path.join(REPO, 'deploy/k8s');

/** A rendered object, loosely typed: each check narrows what it reads. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function kubectlKustomize(dir: string): string {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (result.error !== undefined && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.fail('kubectl is not installed: these tests render deploy/k8s with `kubectl kustomize` (install kubectl >= 1.27)');
  }
  assert.equal(result.status, 0, `kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return result.stdout;
}

/** Every object `kubectl kustomize <dir>` renders. */
export function render(dir: string): K8sObject[] {
  return parseAllDocuments(kubectlKustomize(dir)).map((doc) => {
    assert.equal(doc.errors.length, 0, String(doc.errors[0]));
    return doc.toJS() as K8sObject;
  });
}

/**
 * Renders a kustomization written on the fly in a temporary folder (kustomize refuses absolute paths, so `paths`
 * are made relative to it): `{resources: ['deploy/k8s/overlays/cpu'], components: [...]}` from the repository root.
 */
export function renderVariant(spec: { namespace?: string; resources: string[]; components?: string[] }): K8sObject[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modeldock-kustomize-'));
  try {
    const rel = (p: string) => path.relative(dir, path.join(REPO, p));
    const lines = [
      ...(spec.namespace === undefined ? [] : [`namespace: ${spec.namespace}`]),
      'resources:',
      ...spec.resources.map((r) => `  - ${rel(r)}`),
      ...(spec.components === undefined ? [] : ['components:', ...spec.components.map((c) => `  - ${rel(c)}`)]),
    ];
    writeFileSync(path.join(dir, 'kustomization.yaml'), `${lines.join('\n')}\n`);
    return render(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The objects of one kind. */
export function ofKind<T = K8sObject>(objects: readonly K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

/** Whether a label selector's `matchLabels` select these labels (the manifests use no matchExpressions). */
export function selects(selector: { matchLabels?: Record<string, string> } | undefined, labels: Record<string, string> | undefined): boolean {
  const wanted = Object.entries(selector?.matchLabels ?? {});
  return wanted.every(([key, value]) => labels?.[key] === value);
}
