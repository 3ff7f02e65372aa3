// Policy checks over rendered manifests, in the spirit of kube-score: what every workload must have before it
// reaches a cluster. `policyProblems` returns one line per problem, so a test asserts there are none and a
// failure lists them all.
import { gatewaySettingsSchema } from '@modeldock/gateway/config';
import { serverSettingsSchema } from '@modeldock/model-server';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer, IPodSpec, IService } from 'kubernetes-models/v1';
import { ofKind, selects, type K8sObject } from './render.js';

/** Drain timeouts when the environment does not set them: the processes' own defaults. */
const DEFAULT_DRAIN_MS: Readonly<Record<string, number>> = {
  GATEWAY_DRAIN_TIMEOUT_MS: gatewaySettingsSchema.shape.GATEWAY_DRAIN_TIMEOUT_MS.parse(undefined),
  MODEL_DRAIN_TIMEOUT_MS: serverSettingsSchema.shape.DRAIN_TIMEOUT_MS.parse(undefined),
};
/** The longest deadline the gateway hands out (bulk requests): a drain shorter than this could cut an admitted request. */
const LONGEST_DEADLINE_MS = gatewaySettingsSchema.shape.GATEWAY_MAX_TIMEOUT_MS.parse(undefined);
/** Kubernetes' default grace period. */
const DEFAULT_GRACE_S = 30;
/** Tags that pin nothing. */
const UNPINNED_TAGS = new Set(['latest', 'unset']);
const SPREAD_KEYS = ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'];

/** A Deployment as rendered (typed as the API defines it). */
export type Deployment = IDeployment & { metadata: { name: string } };

/** The image's tag, or undefined without one (a digest pins too). */
export function imageTag(image: string | undefined): string | undefined {
  if (image === undefined || image.includes('@sha256:')) return image === undefined ? undefined : 'digest';
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? image.slice(colon + 1) : undefined;
}

/** The container's drain timeout, from its environment or the process's default. */
function drainTimeoutMs(c: IContainer): number | undefined {
  const variable = c.env?.find((e) => e.name.endsWith('_DRAIN_TIMEOUT_MS'));
  const name = c.env?.some((e) => e.name.startsWith('GATEWAY_')) ? 'GATEWAY_DRAIN_TIMEOUT_MS' : 'MODEL_DRAIN_TIMEOUT_MS';
  return variable?.value === undefined ? DEFAULT_DRAIN_MS[name] : Number(variable.value);
}

/** The container's drain budget: `sleep <n>` of its preStop hook plus its drain timeout, in seconds. */
function drainSeconds(c: IContainer): number | undefined {
  const drainMs = drainTimeoutMs(c);
  const command = c.lifecycle?.preStop?.exec?.command ?? [];
  const sleep = command[0] === 'sleep' ? Number(command[1]) : 0;
  return drainMs === undefined ? undefined : sleep + drainMs / 1000;
}

function containerProblems(c: IContainer, where: string, main: boolean): string[] {
  const problems: string[] = [];
  const at = `${where} container ${c.name}`;
  const tag = imageTag(c.image);
  if (tag === undefined || UNPINNED_TAGS.has(tag)) problems.push(`${at}: image ${c.image ?? '(none)'} is not pinned by tag`);
  for (const kind of ['requests', 'limits'] as const) {
    for (const resource of ['cpu', 'memory']) if (c.resources?.[kind]?.[resource] === undefined) problems.push(`${at}: no ${resource} ${kind}`);
  }
  const sc = c.securityContext;
  if (sc?.allowPrivilegeEscalation !== false) problems.push(`${at}: privilege escalation not disallowed`);
  if (sc?.readOnlyRootFilesystem !== true) problems.push(`${at}: root filesystem not read-only`);
  if (!(sc?.capabilities?.drop ?? []).includes('ALL') || (sc?.capabilities?.add ?? []).length > 0) problems.push(`${at}: capabilities not all dropped`);
  if (sc?.privileged === true) problems.push(`${at}: privileged`);
  if (main) {
    if (c.readinessProbe === undefined || c.livenessProbe === undefined) problems.push(`${at}: no readiness or no liveness probe`);
    else if (c.readinessProbe.httpGet?.path === c.livenessProbe.httpGet?.path) problems.push(`${at}: readiness and liveness probe the same path`);
    if (c.startupProbe === undefined) problems.push(`${at}: no startup probe`);
  }
  return problems;
}

function podProblems(d: Deployment, where: string): string[] {
  const pod = d.spec?.template.spec as IPodSpec;
  const labels = d.spec?.template.metadata?.labels;
  const problems: string[] = [];
  const sc = pod.securityContext;
  if (sc?.runAsNonRoot !== true || !Number.isInteger(sc.runAsUser) || (sc.runAsUser ?? 0) <= 0) problems.push(`${where}: not run as a non-root numeric UID`);
  if (sc?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${where}: no RuntimeDefault seccomp profile`);
  if (pod.automountServiceAccountToken !== false) problems.push(`${where}: service account token mounted`);
  for (const c of pod.initContainers ?? []) problems.push(...containerProblems(c, where, false));
  for (const c of pod.containers) {
    problems.push(...containerProblems(c, where, true));
    const drain = drainSeconds(c);
    if (drain === undefined || (pod.terminationGracePeriodSeconds ?? DEFAULT_GRACE_S) <= drain) {
      problems.push(`${where} container ${c.name}: grace period ${pod.terminationGracePeriodSeconds ?? DEFAULT_GRACE_S} s does not outlast preStop + drain (${drain ?? '?'} s)`);
    }
    const drainMs = drainTimeoutMs(c);
    if (drainMs !== undefined && drainMs <= LONGEST_DEADLINE_MS) {
      problems.push(`${where} container ${c.name}: drain ${drainMs / 1000} s does not outlast the longest deadline of an admitted request (${LONGEST_DEADLINE_MS / 1000} s)`);
    }
  }
  for (const key of SPREAD_KEYS) {
    const spread = pod.topologySpreadConstraints?.find((t) => t.topologyKey === key);
    if (spread === undefined || spread.whenUnsatisfiable !== 'ScheduleAnyway' || !selects(spread.labelSelector, labels)) {
      problems.push(`${where}: not spread across ${key} (ScheduleAnyway, selecting its own pods)`);
    }
  }
  return problems;
}

/** A ScaledObject's or HPA's target Deployment, replica bounds and scale-down stabilisation. */
function autoscalerOf(o: K8sObject): { target: string; min: number; max: number; stabilization: number | undefined } {
  if (o.kind === 'ScaledObject') {
    const spec = (o as unknown as IScaledObject).spec;
    return {
      target: spec.scaleTargetRef.name,
      min: spec.minReplicaCount ?? 0,
      max: spec.maxReplicaCount ?? 100,
      stabilization: spec.advanced?.horizontalPodAutoscalerConfig?.behavior?.scaleDown?.stabilizationWindowSeconds,
    };
  }
  const spec = (o as unknown as IHorizontalPodAutoscaler).spec;
  return {
    target: spec?.scaleTargetRef.name ?? '',
    min: spec?.minReplicas ?? 1,
    max: spec?.maxReplicas ?? 0,
    stabilization: spec?.behavior?.scaleDown?.stabilizationWindowSeconds,
  };
}

function scaledObjectProblems(o: IScaledObject & { metadata: { name: string } }): string[] {
  const where = `ScaledObject/${o.metadata.name}`;
  const problems: string[] = [];
  const prometheus = o.spec.triggers.filter((t) => t.type === 'prometheus');
  if (prometheus.length === 0) problems.push(`${where}: no Prometheus trigger`);
  for (const t of prometheus) {
    if (t.metadata.ignoreNullValues !== 'false') problems.push(`${where}: ignoreNullValues is not "false" (a broken query would read as 0)`);
    if (t.metricType !== 'AverageValue') problems.push(`${where}: the Prometheus trigger is not per replica (AverageValue)`);
    if (!(Number(t.metadata.threshold) > 0)) problems.push(`${where}: no positive threshold`);
    if (!t.metadata.query?.includes('sum(')) problems.push(`${where}: the query is not a sum over the replicas`);
  }
  if (!o.spec.triggers.some((t) => t.type === 'cpu')) problems.push(`${where}: no CPU fallback trigger`);
  return problems;
}

/**
 * Every problem of a rendered overlay: each Deployment hardened, resourced, probed, pinned, drained, spread,
 * budgeted (PDB), autoscaled, admitted by a NetworkPolicy and (with `monitoring`) scraped by a ServiceMonitor;
 * every Service selecting pods that have its target ports; a default-deny ingress policy.
 */
export function policyProblems(objects: readonly K8sObject[], { monitoring }: { monitoring: boolean }): string[] {
  const problems: string[] = [];
  const deployments = ofKind<Deployment>(objects, 'Deployment');
  const services = ofKind<IService & { metadata: { name: string } }>(objects, 'Service');
  const pdbs = ofKind<IPodDisruptionBudget>(objects, 'PodDisruptionBudget');
  const policies = ofKind<INetworkPolicy>(objects, 'NetworkPolicy');
  const monitors = ofKind<IServiceMonitor & { metadata: { name: string } }>(objects, 'ServiceMonitor');
  const autoscalers = objects.filter((o) => o.kind === 'ScaledObject' || o.kind === 'HorizontalPodAutoscaler');
  const podLabels = (d: Deployment) => d.spec?.template.metadata?.labels;

  if (!policies.some((p) => Object.keys(p.spec?.podSelector ?? {}).length === 0 && p.spec?.policyTypes?.includes('Ingress') && (p.spec.ingress ?? []).length === 0)) {
    problems.push('no default-deny ingress NetworkPolicy');
  }
  const grace = new Map(deployments.map((d) => [d.metadata.name, d.spec?.template.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_S]));
  for (const d of deployments) {
    const where = `Deployment/${d.metadata.name}`;
    problems.push(...podProblems(d, where));
    if (d.spec?.replicas !== undefined) problems.push(`${where}: sets replicas, which its autoscaler owns`);
    const budgets = pdbs.filter((p) => selects(p.spec?.selector, podLabels(d)));
    if (budgets.length !== 1) problems.push(`${where}: ${budgets.length} PodDisruptionBudgets select it`);
    for (const p of budgets) {
      if (p.spec?.maxUnavailable !== 1) problems.push(`${where}: its PodDisruptionBudget's maxUnavailable is not 1`);
      if (p.spec?.unhealthyPodEvictionPolicy !== 'AlwaysAllow') problems.push(`${where}: its PodDisruptionBudget lets unhealthy pods block evictions`);
    }
    const scalers = autoscalers.map(autoscalerOf).filter((a) => a.target === d.metadata.name);
    if (scalers.length !== 1) problems.push(`${where}: ${scalers.length} autoscalers target it`);
    for (const a of scalers) {
      if (a.min < 1 || a.min > a.max) problems.push(`${where}: autoscaler bounds ${a.min}..${a.max}`);
      if (a.stabilization === undefined || a.stabilization <= (grace.get(d.metadata.name) ?? DEFAULT_GRACE_S)) {
        problems.push(`${where}: the autoscaler's scale-down stabilisation does not outlast a replica's drain`);
      }
    }
    if (!policies.some((p) => (p.spec?.ingress ?? []).length > 0 && selects(p.spec?.podSelector, podLabels(d)))) {
      problems.push(`${where}: no NetworkPolicy admits anything to it`);
    }
    if (monitoring) {
      const scraped = services.some(
        (s) =>
          selects({ matchLabels: s.spec?.selector }, podLabels(d)) &&
          monitors.some((m) => selects(m.spec.selector, s.metadata.labels) && m.spec.endpoints?.some((e) => s.spec?.ports?.some((p) => p.name === e.port))),
      );
      if (!scraped) problems.push(`${where}: no ServiceMonitor scrapes it`);
    }
  }
  for (const s of services) {
    const where = `Service/${s.metadata.name}`;
    const backing = deployments.filter((d) => Object.keys(s.spec?.selector ?? {}).length > 0 && selects({ matchLabels: s.spec?.selector }, podLabels(d)));
    if (backing.length === 0) problems.push(`${where}: selects no pod`);
    for (const port of s.spec?.ports ?? []) {
      const named = typeof port.targetPort === 'string' ? port.targetPort : undefined;
      const served = backing.every((d) => d.spec?.template.spec?.containers.some((c) => c.ports?.some((p) => (named === undefined ? p.containerPort === (port.targetPort ?? port.port) : p.name === named))));
      if (!served) problems.push(`${where}: port ${port.name ?? port.port} is not a port of its pods`);
    }
  }
  for (const m of monitors) {
    const matched = services.filter((s) => selects(m.spec.selector, s.metadata.labels));
    if (matched.length !== 1) problems.push(`ServiceMonitor/${m.metadata.name}: selects ${matched.length} Services`);
  }
  for (const o of ofKind<IScaledObject & { metadata: { name: string } }>(objects, 'ScaledObject')) problems.push(...scaledObjectProblems(o));
  for (const o of ofKind<IHorizontalPodAutoscaler & { metadata: { name: string } }>(objects, 'HorizontalPodAutoscaler')) {
    if (!o.spec?.metrics?.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu')) problems.push(`HorizontalPodAutoscaler/${o.metadata.name}: no CPU metric`);
  }
  for (const a of autoscalers.map(autoscalerOf)) {
    if (!deployments.some((d) => d.metadata.name === a.target)) problems.push(`an autoscaler targets ${a.target}, which is not deployed`);
  }
  return problems;
}
