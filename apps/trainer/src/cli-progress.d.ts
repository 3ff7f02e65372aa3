// Minimal types for the part of cli-progress the trainer uses, instead of adding @types/cli-progress.
/* eslint-disable @typescript-eslint/no-unused-vars -- declarations consumed through `typeof` */
declare module 'cli-progress' {
  interface Options {
    format?: string;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
  }
  class SingleBar {
    constructor(options: Options, preset?: object);
    start(total: number, start: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  const Presets: { shades_classic: object };
  const cliProgress: { SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default cliProgress;
}
