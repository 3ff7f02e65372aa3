import type { ModelDescription, TypedDescription } from './model-runtime.js';

/**
 * What every runtime takes from its description, in one place: a runtime class extends this and
 * adds `load / predict / unload / ready`, reading its kind's settings from `description.metadata`
 * (parsed once, when the version was described). `info` is the description's facts plus the
 * process's (backend, engine), and may be replaced once the engine has loaded.
 */
export abstract class DescribedModel<M = unknown> implements ModelDescription {
  readonly name: string;
  readonly version: string;
  readonly kind: string;
  readonly signature: ModelDescription['signature'];
  readonly labels: readonly string[] | undefined;
  readonly scoresOutput: string | undefined;
  readonly textInput: string | undefined;
  info: Readonly<Record<string, unknown>>;

  protected constructor(
    protected readonly description: TypedDescription<M>,
    info: Readonly<Record<string, unknown>> = {},
  ) {
    this.name = description.name;
    this.version = description.version;
    this.kind = description.kind;
    this.signature = description.signature;
    this.labels = description.labels;
    this.scoresOutput = description.scoresOutput;
    this.textInput = description.textInput;
    this.info = Object.freeze({ ...description.info, ...info });
  }
}
