import cliProgress from 'cli-progress';

/** A progress bar for one stage; on a non-TTY (CI logs) cli-progress stays quiet, so nothing floods the log. */
export function createBar(label: string, total: number, unit = ''): {
  update(value: number, payload?: Record<string, string>): void;
  stop(): void;
} {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(22)} [{bar}] {value}/{total}${unit} {eta_formatted} {info}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { info: '' });
  return {
    update: (value, payload) => bar.update(value, { info: '', ...payload }),
    stop: () => bar.stop(),
  };
}
