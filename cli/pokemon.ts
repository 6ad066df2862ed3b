#!/usr/bin/env node
/**
 * `pokemon`: the command-line client of the Pokémon trainers API (`npx pokemon --help`).
 * Results go to stdout, progress and errors to stderr; exit codes are in {@link EXIT}.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { UPLOAD_TYPES, type UploadType } from '../src/domain/uploads/kinds.ts';
import { Api, CliError, EXIT } from './client.ts';
import { exportCsv } from './export.ts';
import { commit, upload, type UploadStatus } from './upload.ts';

const DEFAULT_URL = 'http://127.0.0.1:8787';

function pieceSize(text: string): number {
  const match = /^(\d+)(k|m|kib|mib)?$/i.exec(text.trim());
  const unit = { k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2 }[match?.[2]?.toLowerCase() as 'k'] ?? 1;
  const bytes = match ? Number(match[1]) * unit : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InvalidArgumentError('must be a positive number of bytes, e.g. 8MiB, 512KiB or 65536');
  return bytes;
}

/** The status as `key: value` lines, in the API's order. */
function describe(status: UploadStatus): string {
  return Object.entries(status)
    .filter(([key, value]) => key !== 'preview' && value !== undefined)
    .map(([key, value]) => `${key}: ${value}`)
    .join('\n');
}

const program = new Command('pokemon')
  .description('Command-line client of the Pokémon trainers API: bulk uploads and exports.')
  .addOption(new Option('--url <url>', 'the API’s base URL').env('POKEMON_API_URL').default(DEFAULT_URL))
  .addOption(new Option('--key <key>', 'API key (prefer the environment variable: a command line is visible to others)').env('POKEMON_API_KEY'))
  .addHelpText(
    'after',
    `\nExit codes: ${EXIT.ok} done; ${EXIT.refused} the API refused the request (row errors, conflicts, not found, server error);\n` +
      `  ${EXIT.usage} bad command line or unreadable file; ${EXIT.auth} key missing or refused (401/403); ${EXIT.network} API unreachable.`,
  )
  .exitOverride()
  .showHelpAfterError();

const api = () => {
  const { url, key } = program.opts<{ url: string; key?: string }>();
  return new Api({ url, key });
};
const typeOption = () => new Option('--type <type>', 'what the rows are').choices(UPLOAD_TYPES).makeOptionMandatory();

program
  .command('upload')
  .description('Upload a CSV file of trainers or Pokémon, in pieces, resuming a failed piece from where the server stands.')
  .argument('<file>', 'the CSV file (header row: the columns `pokemon export` writes)')
  .addOption(typeOption())
  .option('--commit', 'commit the rows once staged', false)
  .addOption(new Option('--on-conflict <policy>', '`update`: rows whose id exists update it').choices(['error', 'update']).default('error'))
  .option('--piece-size <bytes>', 'bytes per request (e.g. 8MiB, 512KiB)', pieceSize, 8 * 1024 ** 2)
  .action(async (file: string, options: { type: UploadType; commit: boolean; onConflict: 'error' | 'update'; pieceSize: number }) => {
    const result = await upload(api(), file, { type: options.type, onConflict: options.onConflict, commit: options.commit, pieceSize: options.pieceSize });
    console.log(describe(result));
  });

program
  .command('status')
  .description('Show an upload’s status.')
  .argument('<id>', 'the upload id')
  .action(async (id: string) => {
    console.log(describe(await api().json<UploadStatus>(`/uploads/${encodeURIComponent(id)}`)));
  });

program
  .command('commit')
  .description('Commit a staged upload (exactly once: committing again answers the same).')
  .argument('<id>', 'the upload id')
  .action(async (id: string) => {
    console.log(describe(await commit(api(), id)));
  });

program
  .command('export')
  .description('Write every trainer or Pokémon as a CSV that `pokemon upload` reads back (formula cells neutralised).')
  .addOption(typeOption())
  .option('--out <file>', 'write to this file instead of stdout')
  .action(async (options: { type: UploadType; out?: string }) => {
    const rows = await exportCsv(api(), options.type, options.out);
    process.stderr.write(`exported ${rows} ${options.type === 'trainer' ? 'trainers' : 'Pokémon'}${options.out ? ` to ${options.out}` : ''}\n`);
  });

// A reader that has read enough (`pokemon export … | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(EXIT.ok);
});

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed the message (or the help) already.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (error instanceof CliError) {
    if (error.details) process.stderr.write(`${error.details}\n`);
    process.stderr.write(`pokemon: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    throw error;
  }
}
