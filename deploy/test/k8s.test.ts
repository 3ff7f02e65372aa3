// Renders every kustomize overlay with `kubectl kustomize` and checks what would reach the cluster:
// every object valid against the Kubernetes OpenAPI schema (kubernetes-models), every pod hardened,
// every model probed on its OIP health routes, the gateway ready on its own /readyz.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

const DEPLOY = fileURLToPath(new URL('..', import.meta.url));
const K8S = `${DEPLOY}k8s`;
const OVERLAYS = readdirSync(`${K8S}/overlays`).sort();
const MODELS = readdirSync(`${K8S}/components`).sort();

/** One class per kind the manifests may contain; anything else fails the test until it is added here. */
const MODELS_BY_KIND: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
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

function render(overlay: string): K8sObject[] {
  return parseAllDocuments(kubectlKustomize(`${K8S}/overlays/${overlay}`)).map((doc) => {
    assert.equal(doc.errors.length, 0, String(doc.errors[0]));
    return doc.toJS() as K8sObject;
  });
}

const rendered = new Map(OVERLAYS.map((overlay) => [overlay, render(overlay)]));

interface DeploymentObject extends K8sObject {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: IPodSpec };
  };
}

function deployments(objects: K8sObject[]): DeploymentObject[] {
  return objects.filter((o) => o.kind === 'Deployment') as DeploymentObject[];
}

function only<T>(items: T[], what: string): T {
  assert.equal(items.length, 1, `exactly one ${what}`);
  return items[0] as T;
}

function container(spec: IPodSpec): IContainer {
  return only(spec.containers, 'container');
}

describe('deploy/k8s overlays', () => {
  it('has the cpu, gpu and dev overlays and a component per model', () => {
    assert.deepEqual(OVERLAYS, ['cpu', 'dev', 'gpu']);
    assert.deepEqual(MODELS, ['embedding-topic', 'question-topic', 'sentence-embedding']);
  });

  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const objects = rendered.get(overlay) ?? [];

      it('renders only objects that are valid against the Kubernetes schema', () => {
        assert.ok(objects.length > 0);
        for (const object of objects) {
          const Kind = MODELS_BY_KIND[`${object.apiVersion}/${object.kind}`];
          assert.ok(Kind, `${object.apiVersion} ${object.kind} ${object.metadata.name}: no validator (add its kubernetes-models class)`);
          assert.doesNotThrow(() => new Kind(object as never).validate(), `${object.kind} ${object.metadata.name}`);
        }
      });

      it('puts everything but the namespace into the modeldock namespace, under unique names', () => {
        const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
        assert.equal(new Set(ids).size, ids.length, ids.join(', '));
        for (const o of objects.filter((x) => x.kind !== 'Namespace')) assert.equal(o.metadata.namespace, 'modeldock', `${o.kind} ${o.metadata.name}`);
      });

      it('deploys the gateway and every model, each behind its own Service', () => {
        const names = deployments(objects).map((d) => d.metadata.name).sort();
        assert.deepEqual(names, ['gateway', ...MODELS].sort());
        for (const model of MODELS) {
          const service = only(objects.filter((o) => o.kind === 'Service' && o.metadata.name === model), `Service ${model}`) as K8sObject & {
            spec: { clusterIP?: string; selector: Record<string, string>; ports: { port: number }[] };
          };
          // Headless: the gateway resolves the name to every ready pod and balances itself.
          assert.equal(service.spec.clusterIP, 'None');
          assert.deepEqual(service.spec.selector, { 'app.kubernetes.io/name': model });
          assert.equal(service.spec.ports[0]?.port, 8501);
          const deployment = only(deployments(objects).filter((d) => d.metadata.name === model), `Deployment ${model}`);
          assert.deepEqual(deployment.spec.selector.matchLabels, { 'app.kubernetes.io/name': model });
          assert.equal(deployment.spec.template.metadata.labels['app.kubernetes.io/name'], model);
        }
      });

      it('lets voluntary disruptions take one pod of each Deployment at a time', () => {
        for (const d of deployments(objects)) {
          const pdb = only(
            objects.filter((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === d.metadata.name),
            `PodDisruptionBudget ${d.metadata.name}`,
          ) as K8sObject & { spec: { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } };
          assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels, d.metadata.name);
          assert.equal(pdb.spec.maxUnavailable, 1, d.metadata.name);
        }
      });

      it('runs every pod as a non-root numeric UID with no privilege escalation, no capabilities and a read-only root filesystem', () => {
        for (const d of deployments(objects)) {
          const pod = d.spec.template.spec;
          const c = container(pod);
          const where = `${d.metadata.name}`;
          assert.equal(pod.securityContext?.runAsNonRoot, true, where);
          assert.ok(Number.isInteger(pod.securityContext?.runAsUser) && (pod.securityContext?.runAsUser ?? 0) > 0, where);
          assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', where);
          assert.equal(pod.automountServiceAccountToken, false, where);
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false, where);
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true, where);
          assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], where);
          assert.equal(c.securityContext?.capabilities?.add, undefined, where);
          assert.notEqual(c.securityContext?.privileged, true, where);
        }
      });

      it('gives every container requests and a memory limit', () => {
        for (const d of deployments(objects)) {
          const { resources } = container(d.spec.template.spec);
          assert.ok(resources?.requests?.cpu !== undefined && resources.requests.memory !== undefined, d.metadata.name);
          assert.ok(resources?.limits?.memory !== undefined, d.metadata.name);
        }
      });

      it('probes every model on its OIP health routes, with a startup probe covering the model load', () => {
        for (const d of deployments(objects).filter((x) => x.metadata.name !== 'gateway')) {
          const c = container(d.spec.template.spec);
          const where = d.metadata.name;
          assert.equal(c.startupProbe?.httpGet?.path, '/v2/health/ready', where);
          assert.ok((c.startupProbe?.periodSeconds ?? 10) * (c.startupProbe?.failureThreshold ?? 3) >= 120, `${where}: startup budget`);
          assert.equal(c.readinessProbe?.httpGet?.path, '/v2/health/ready', where);
          assert.equal(c.livenessProbe?.httpGet?.path, '/v2/health/live', where);
          assert.ok(c.ports?.some((p) => p.name === 'http' && p.containerPort === 8501), where);
          // SIGTERM drains for up to 30 s after the preStop pause; SIGKILL must come later.
          assert.ok((d.spec.template.spec.terminationGracePeriodSeconds ?? 30) > 35, `${where}: terminationGracePeriodSeconds`);
          const drain = c.env?.filter((e) => e.name.endsWith('DRAIN_TIMEOUT_MS')) ?? [];
          assert.ok(drain.length > 0, `${where}: drain timeout`);
          for (const e of drain) assert.ok(Number(e.value) / 1000 + 5 < (d.spec.template.spec.terminationGracePeriodSeconds ?? 30), where);
        }
      });

      it('makes the gateway ready on its own /readyz and gives it every model from one config file', () => {
        const gateway = only(deployments(objects).filter((d) => d.metadata.name === 'gateway'), 'gateway');
        const c = container(gateway.spec.template.spec);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
        const file = c.env?.find((e) => e.name === 'GATEWAY_MODELS_FILE')?.value;
        assert.ok(file, 'GATEWAY_MODELS_FILE');
        const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
        assert.ok(mount, `a volume mounted at ${file}`);
        const volume = gateway.spec.template.spec.volumes?.find((v) => v.name === mount.name);
        const configMap = only(objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === volume?.configMap?.name), 'gateway ConfigMap');
        const models = JSON.parse(configMap.data?.[file.slice(mount.mountPath.length + 1)] ?? '{}') as Record<string, { upstream: string }>;
        for (const model of MODELS) assert.equal(models[model]?.upstream, `http://${model}:8501`, model);
      });
    });
  }

  it('runs native images on cpu, wasm images on dev and gpu images with one GPU per model pod on gpu', () => {
    const tags = (overlay: string) =>
      deployments(rendered.get(overlay) ?? [])
        .filter((d) => d.metadata.name !== 'gateway')
        .map((d) => container(d.spec.template.spec).image?.split(':')[1]);
    assert.deepEqual(new Set(tags('cpu')), new Set(['tensorflow']));
    assert.deepEqual(new Set(tags('dev')), new Set(['wasm']));
    assert.deepEqual(new Set(tags('gpu')), new Set(['gpu']));
    for (const d of deployments(rendered.get('gpu') ?? []).filter((x) => x.metadata.name !== 'gateway')) {
      assert.equal(String(container(d.spec.template.spec).resources?.limits?.['nvidia.com/gpu']), '1', d.metadata.name);
    }
  });

  it('gives compose and Kubernetes the same gateway models file', () => {
    const compose = JSON.parse(readFileSync(`${DEPLOY}gateway/models.compose.json`, 'utf8')) as unknown;
    const k8s = JSON.parse(readFileSync(`${K8S}/base/gateway-models.json`, 'utf8')) as unknown;
    assert.deepEqual(k8s, compose);
  });
});
