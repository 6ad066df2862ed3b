/**
 * Upload progress on stderr (stdout carries the result): a live bar on a terminal, plain lines
 * otherwise (a log, CI, a pipe), at most one a second plus one at each piece's end and at the end.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `bytes` of `total` sent, `rows` data rows among them. */
  update(bytes: number, rows: number, force?: boolean): void;
  /** A line between updates (a retry), kept above the bar. */
  note(line: string): void;
  stop(): void;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Rate since the start, and the time left at that rate. */
function speed(bytes: number, total: number, startedAt: number): { rate: string; eta: string } {
  const seconds = (performance.now() - startedAt) / 1000;
  const perSecond = seconds > 0 ? bytes / seconds : 0;
  return { rate: `${formatBytes(perSecond)}/s`, eta: formatSeconds(perSecond > 0 ? (total - bytes) / perSecond : Number.POSITIVE_INFINITY) };
}

export function createProgress(total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const startedAt = performance.now();
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: '{bar} {percentage}% | {sent} / {size} | {rows} rows | {rate} | ETA {eta}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0, { sent: formatBytes(0), size: formatBytes(total), rows: 0, rate: '0 B/s', eta: '?' });
    return {
      update(bytes, rows) {
        bar.update(total === 0 ? 1 : bytes, { sent: formatBytes(bytes), rows, ...speed(bytes, total, startedAt) });
      },
      note(line) {
        // Clears the bar's line, prints above it; the bar redraws on the next update.
        stream.write(`\r\x1b[2K${line}\n`);
      },
      stop: () => bar.stop(),
    };
  }
  let lastLineAt = 0;
  let lastLine = '';
  return {
    update(bytes, rows, force = false) {
      const now = performance.now();
      if (!force && now - lastLineAt < 1000) return;
      const percent = total === 0 ? 100 : Math.floor((bytes / total) * 100);
      const { rate, eta } = speed(bytes, total, startedAt);
      const line = `${percent}% ${formatBytes(bytes)} / ${formatBytes(total)}, ${rows} rows, ${rate}, ETA ${eta}`;
      if (line === lastLine) return;
      lastLineAt = now;
      lastLine = line;
      stream.write(`${line}\n`);
    },
    note: (line) => void stream.write(`${line}\n`),
    stop() {},
  };
}
