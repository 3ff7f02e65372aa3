// Renders every kustomize overlay with `kubectl kustomize` and checks what would reach the cluster, offline (no
// cluster is involved): every object valid against its schema (Kubernetes' and the KEDA and prometheus-operator
// custom resources'), the policy checks with 0 problems, and each model deployed as its models/<name>/
// model-settings.json says: its versions, serving settings, replicas, resources and autoscaler.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ScaledObject, type IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { readModels, targetRowsInFlight } from '@modeldock/model-settings';
import { serverSettingsSchema } from '@modeldock/model-server';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, Namespace, PersistentVolumeClaim, Service, type IContainer, type IService } from 'kubernetes-models/v1';
import { imageTag, policyProblems, type Deployment as DeploymentObject } from './policy.js';
import { K8S, REPO, ofKind, render, renderVariant, type K8sObject } from './render.js';

const MODELS = await readModels(path.join(REPO, 'models'));
const OVERLAYS = readdirSync(path.join(K8S, 'overlays')).sort();
const DEFAULT_BATCH_SIZE = serverSettingsSchema.shape.MAX_BATCH_SIZE.parse(undefined);
const appVersion = (app: string) => (JSON.parse(readFileSync(path.join(REPO, 'apps', app, 'package.json'), 'utf8')) as { version: string }).version;

/** What each overlay promises (deploy/README.md, "Kubernetes"). */
const EXPECTED: Readonly<Record<string, { autoscaler: string; backend: string; monitoring: boolean; gpu: boolean }>> = {
  cpu: { autoscaler: 'ScaledObject', backend: 'tensorflow', monitoring: true, gpu: false },
  gpu: { autoscaler: 'ScaledObject', backend: 'gpu', monitoring: true, gpu: true },
  dev: { autoscaler: 'HorizontalPodAutoscaler', backend: 'wasm', monitoring: false, gpu: false },
};

/** One validating class per kind the manifests may contain; anything else fails until it is added here. */
const KINDS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

const rendered = new Map(OVERLAYS.map((overlay) => [overlay, render(path.join(K8S, 'overlays', overlay))]));

function only<T>(items: T[], what: string): T {
  assert.equal(items.length, 1, `exactly one ${what}, found ${items.length}`);
  return items[0] as T;
}

const named = <T = K8sObject>(objects: readonly K8sObject[], kind: string, name: string): T =>
  only(objects.filter((o) => o.kind === kind && o.metadata.name === name), `${kind} ${name}`) as unknown as T;
const server = (d: DeploymentObject): IContainer => only(d.spec?.template.spec?.containers ?? [], `container of ${d.metadata.name}`);
const envOf = (c: IContainer) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

/** The NetworkPolicy flows as `<pods> <- <peer> :<port>` lines. */
function flows(objects: readonly K8sObject[]): string[] {
  const labels = (l: Record<string, string> | undefined) => Object.entries(l ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return ofKind<INetworkPolicy>(objects, 'NetworkPolicy').flatMap((p) =>
    (p.spec?.ingress ?? []).flatMap((rule) =>
      (rule.from ?? []).flatMap((peer) => {
        const from = peer.namespaceSelector !== undefined ? `namespace ${labels(peer.namespaceSelector.matchLabels)}` : `pods ${labels(peer.podSelector?.matchLabels)}`;
        return (rule.ports ?? [{ port: 'any' }]).map((port) => `${labels(p.spec?.podSelector.matchLabels)} <- ${from} :${String(port.port)}`);
      }),
    ),
  );
}

describe('deploy/k8s overlays', () => {
  it('has the overlays the deploy guide describes, each listing its models from a generated component', () => {
    assert.deepEqual(OVERLAYS, Object.keys(EXPECTED).sort());
    for (const overlay of OVERLAYS) {
      const kustomization = readFileSync(path.join(K8S, 'overlays', overlay, 'kustomization.yaml'), 'utf8');
      assert.match(kustomization, /^components:\n {2}- models$/m, overlay);
    }
  });

  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const objects = rendered.get(overlay) ?? [];
      const expected = EXPECTED[overlay] ?? assert.fail(`no expectations for overlay ${overlay}`);
      const deployments = ofKind<DeploymentObject>(objects, 'Deployment');

      it('renders only objects that are valid against their schema, custom resources included', () => {
        assert.ok(objects.length > 0);
        for (const object of objects) {
          const Kind = KINDS[`${object.apiVersion}/${object.kind}`];
          assert.ok(Kind, `${object.apiVersion} ${object.kind} ${object.metadata.name}: no validator (add its kubernetes-models class)`);
          assert.doesNotThrow(() => new Kind(object as never).validate(), `${object.kind} ${object.metadata.name}`);
        }
      });

      it('puts everything but the namespace into the modeldock namespace, under unique names', () => {
        const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
        assert.equal(new Set(ids).size, ids.length, ids.join(', '));
        for (const o of objects.filter((x) => x.kind !== 'Namespace')) assert.equal(o.metadata.namespace, 'modeldock', `${o.kind} ${o.metadata.name}`);
      });

      it('passes the policy checks with 0 problems', () => {
        assert.deepEqual(policyProblems(objects, { monitoring: expected.monitoring }), []);
      });

      it('deploys the gateway and every model under models/, each model behind its own headless Service', () => {
        assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), ['gateway', ...MODELS.map((m) => m.name)].sort());
        for (const { name } of MODELS) {
          const service = named<IService>(objects, 'Service', name);
          // Headless: the gateway resolves the name to every ready pod and balances itself.
          assert.equal(service.spec?.clusterIP, 'None');
          assert.deepEqual(service.spec?.selector, { 'app.kubernetes.io/name': name });
          assert.deepEqual(service.spec?.ports?.map((p) => [p.name, p.port]), [['http', 8501]]);
        }
      });

      it("copies each served version from its model image into the pod's models volume and serves the model from there", () => {
        for (const { name, served } of MODELS) {
          const d = named<DeploymentObject>(objects, 'Deployment', name);
          const pod = d.spec?.template.spec;
          assert.deepEqual(pod?.initContainers?.map((c) => c.image), served.map((v) => `modeldock/${name}-model:${v}`), name);
          for (const c of pod?.initContainers ?? []) assert.deepEqual(c.volumeMounts?.map((m) => [m.name, m.readOnly ?? false]), [['models', false]]);
          const mount = only(server(d).volumeMounts?.filter((m) => m.name === 'models') ?? [], `models mount of ${name}`);
          assert.equal(mount.readOnly, true);
          assert.equal(envOf(server(d)).MODEL_DIR, `${mount.mountPath}/${name}`);
          assert.ok(pod?.volumes?.find((v) => v.name === 'models')?.emptyDir, `${name}: models in an emptyDir`);
        }
      });

      it('runs each model with the serving settings, replicas and resources of its model-settings.json', () => {
        for (const { name, settings } of MODELS) {
          const d = named<DeploymentObject>(objects, 'Deployment', name);
          const env = envOf(server(d));
          assert.equal(env.MODEL_NAME, name);
          if (settings.maxBatchSize !== undefined) assert.equal(env.MODEL_MAX_BATCH_SIZE, String(settings.maxBatchSize), name);
          if (settings.versions !== undefined) assert.equal(env.MODEL_VERSIONS, settings.versions, name);
          if (settings.defaultVersion !== undefined) assert.equal(env.MODEL_DEFAULT_VERSION, settings.defaultVersion, name);
          const resources = server(d).resources;
          if (expected.gpu) {
            assert.deepEqual(resources?.requests, settings.gpuResources.requests, name);
            assert.equal(String(resources?.limits?.['nvidia.com/gpu']), String(settings.gpuResources.gpus), name);
          } else if (overlay === 'cpu') {
            assert.deepEqual(resources, settings.resources, name);
          }
        }
      });

      it(`autoscales each model with its ${expected.autoscaler}, bounded by its settings`, () => {
        for (const { name, settings } of MODELS) {
          if (expected.autoscaler === 'ScaledObject') {
            const scaler = named<IScaledObject>(objects, 'ScaledObject', name);
            assert.deepEqual([scaler.spec.minReplicaCount, scaler.spec.maxReplicaCount], [settings.replicas.min, settings.replicas.max], name);
            const trigger = only(scaler.spec.triggers.filter((t) => t.type === 'prometheus'), 'Prometheus trigger');
            assert.equal(trigger.metadata.threshold, String(targetRowsInFlight(settings, DEFAULT_BATCH_SIZE)), name);
            assert.match(trigger.metadata.query ?? '', new RegExp(`model="${name}"`), name);
          } else {
            const hpa = named<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler', name);
            assert.equal(hpa.spec?.scaleTargetRef.name, name);
          }
        }
        const other = expected.autoscaler === 'ScaledObject' ? 'HorizontalPodAutoscaler' : 'ScaledObject';
        assert.deepEqual(ofKind(objects, other).map((o) => o.metadata.name).filter((n) => n !== 'gateway'), [], `no ${other} for a model`);
      });

      it('admits exactly: the ingress controller to the gateway, monitoring to metrics, the gateway to the model servers', () => {
        assert.deepEqual(flows(objects).sort(), [
          'app.kubernetes.io/component=model-server <- namespace kubernetes.io/metadata.name=monitoring :http',
          'app.kubernetes.io/component=model-server <- pods app.kubernetes.io/name=gateway :http',
          'app.kubernetes.io/name=gateway <- namespace kubernetes.io/metadata.name=ingress-nginx :http',
          'app.kubernetes.io/name=gateway <- namespace kubernetes.io/metadata.name=monitoring :admin',
        ]);
        // The model servers and the gateway's admin port are the only pods and ports selected, and no Service
        // exposes the admin port but the headless one for Prometheus.
        const gatewayPublic = named<IService>(objects, 'Service', 'gateway');
        assert.deepEqual(gatewayPublic.spec?.ports?.map((p) => p.targetPort), ['http']);
      });

      it(expected.monitoring ? 'scrapes the gateway admin port and every model with a ServiceMonitor' : 'has no ServiceMonitor (no prometheus-operator needed)', () => {
        const monitors = ofKind(objects, 'ServiceMonitor').map((m) => m.metadata.name).sort();
        assert.deepEqual(monitors, expected.monitoring ? ['gateway-admin', ...MODELS.map((m) => m.name)].sort() : []);
      });

      it('routes the Ingress to the gateway Service', () => {
        const ingress = named<IIngress>(objects, 'Ingress', 'gateway');
        const backends = ingress.spec?.rules?.flatMap((r) => r.http?.paths.map((p) => p.backend.service) ?? []);
        assert.deepEqual(backends, [{ name: 'gateway', port: { name: 'http' } }]);
      });

      it('gives the gateway deploy/gateway/models.json, the file compose mounts, with every model at its Service', () => {
        const gateway = named<DeploymentObject>(objects, 'Deployment', 'gateway');
        const c = server(gateway);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
        const file = envOf(c).GATEWAY_MODELS_FILE ?? assert.fail('GATEWAY_MODELS_FILE');
        const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`)) ?? assert.fail(`a volume mounted at ${file}`);
        const volume = gateway.spec?.template.spec?.volumes?.find((v) => v.name === mount.name);
        const configMap = named(objects.filter((o) => o.kind === 'ConfigMap'), 'ConfigMap', volume?.configMap?.name ?? '');
        const content = configMap.data?.[file.slice(mount.mountPath.length + 1)];
        assert.equal(content, readFileSync(path.join(REPO, 'deploy/gateway/models.json'), 'utf8'));
        const models = JSON.parse(content ?? '{}') as Record<string, { upstream: string }>;
        assert.deepEqual(Object.keys(models).sort(), MODELS.map((m) => m.name));
        for (const { name } of MODELS) assert.equal(models[name]?.upstream, `http://${name}:8501`);
      });

      it(`pins every image: the servers at their app's version on ${expected.backend}, the gateway at its version, models at theirs`, () => {
        for (const d of deployments) {
          const image = server(d).image ?? '';
          if (d.metadata.name === 'gateway') {
            assert.equal(image, `modeldock/gateway:${appVersion('gateway')}`);
            continue;
          }
          const app = MODELS.find((m) => m.name === d.metadata.name)?.settings.app ?? 'model-server';
          assert.equal(image, `${app === 'model-server' ? 'modeldock/model-server' : `modeldock/${app}-server`}:${appVersion(app)}-${expected.backend}`);
          for (const c of d.spec?.template.spec?.initContainers ?? []) assert.match(imageTag(c.image) ?? '', /^\d+$/);
        }
      });
    });
  }

  it('serves models from the modeldock-models volume instead, with the models-volume component', () => {
    const objects = renderVariant({ namespace: 'modeldock', resources: ['deploy/k8s/overlays/cpu'], components: ['deploy/k8s/components/models-volume'] });
    for (const object of objects) {
      const Kind = KINDS[`${object.apiVersion}/${object.kind}`] ?? assert.fail(`${object.kind}: no validator`);
      assert.doesNotThrow(() => new Kind(object as never).validate(), `${object.kind} ${object.metadata.name}`);
    }
    assert.deepEqual(policyProblems(objects, { monitoring: true }), []);
    named(objects, 'PersistentVolumeClaim', 'modeldock-models');
    for (const { name } of MODELS) {
      const pod = named<DeploymentObject>(objects, 'Deployment', name).spec?.template.spec;
      assert.equal(pod?.initContainers, undefined, name);
      const volume = pod?.volumes?.find((v) => v.name === 'models');
      assert.deepEqual([volume?.emptyDir, volume?.persistentVolumeClaim], [undefined, { claimName: 'modeldock-models', readOnly: true }], name);
    }
  });

  it('sends traces to a collector with the tracing component, the gateway sampling for every client', () => {
    const objects = renderVariant({ namespace: 'modeldock', resources: ['deploy/k8s/overlays/cpu'], components: ['deploy/k8s/components/tracing'] });
    assert.deepEqual(policyProblems(objects, { monitoring: true }), []);
    const env = (name: string) => {
      const container = named<DeploymentObject>(objects, 'Deployment', name).spec?.template.spec?.containers[0];
      return Object.fromEntries((container?.env ?? []).filter((e) => e.name.startsWith('OTEL_')).map((e) => [e.name, e.value]));
    };
    for (const { name } of MODELS) assert.deepEqual(env(name), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318' }, name);
    assert.deepEqual(env('gateway'), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
  });
});

describe('policyProblems', () => {
  it('finds every problem of a workload that has them all', () => {
    const bare: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bare' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'bare' } },
        template: { metadata: { labels: { app: 'bare' } }, spec: { containers: [{ name: 'main', image: 'example/bare:latest', env: [{ name: 'MODEL_DRAIN_TIMEOUT_MS', value: '30000' }] }] } },
      },
    };
    const service: K8sObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'lost' }, spec: { selector: { app: 'nobody' }, ports: [{ port: 80 }] } };
    const problems = policyProblems([bare, service], { monitoring: true });
    for (const expected of [
      'no default-deny ingress NetworkPolicy',
      'Deployment/bare: not run as a non-root numeric UID',
      'Deployment/bare container main: image example/bare:latest is not pinned by tag',
      'Deployment/bare container main: no cpu requests',
      'Deployment/bare container main: no memory limits',
      'Deployment/bare container main: root filesystem not read-only',
      'Deployment/bare container main: capabilities not all dropped',
      'Deployment/bare container main: no readiness or no liveness probe',
      'Deployment/bare container main: grace period 30 s does not outlast preStop + drain (30 s)',
      'Deployment/bare container main: drain 30 s does not outlast the longest deadline of an admitted request (120 s)',
      'Deployment/bare: sets replicas, which its autoscaler owns',
      'Deployment/bare: 0 PodDisruptionBudgets select it',
      'Deployment/bare: 0 autoscalers target it',
      'Deployment/bare: no NetworkPolicy admits anything to it',
      'Deployment/bare: no ServiceMonitor scrapes it',
      'Deployment/bare: not spread across kubernetes.io/hostname (ScheduleAnyway, selecting its own pods)',
      'Service/lost: selects no pod',
    ]) {
      assert.ok(problems.includes(expected), `missing: ${expected}\nfound:\n${problems.join('\n')}`);
    }
  });
});
