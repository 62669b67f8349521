/**
 * Command-line parsing shared by `npm start` (app/main.ts) and the `omnitensor` CLI: `--name value`,
 * `--name=value` and boolean `--flag`s against a declared set, positionals in between. Pure (argv in,
 * values out), so every error path is testable; errors are `UsageError`s naming the offending argument.
 */
import { ArgumentError } from '../engine/errors.js';
import { MODALITIES, type Modality } from '../metatransformer/data/types.js';

/** A command line that cannot be acted on; the entry points print it with the usage and exit 2. */
export class UsageError extends ArgumentError {}

export type FlagKind = 'string' | 'boolean' | 'int' | 'list';

export type FlagSpec = Readonly<Record<string, FlagKind>>;

export interface ParsedArgs {
  /** Values by flag name (without the dashes); a flag given twice is an error, except `list` flags, which collect. */
  strings: Map<string, string>;
  booleans: Set<string>;
  ints: Map<string, number>;
  lists: Map<string, string[]>;
  positionals: string[];
}

export function parseFlags(argv: readonly string[], spec: FlagSpec, { positionals = false }: { positionals?: boolean } = {}): ParsedArgs {
  const out: ParsedArgs = { strings: new Map(), booleans: new Set(), ints: new Map(), lists: new Map(), positionals: [] };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      if (!positionals) throw new UsageError(`unexpected argument '${arg}'`);
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (kind === undefined) throw new UsageError(`unknown option '--${name}' (known: ${Object.keys(spec).map((k) => `--${k}`).join(' ')})`);
    if (seen.has(name) && kind !== 'list') throw new UsageError(`--${name} is given twice`);
    seen.add(name);
    if (kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out.booleans.add(name);
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      value = next;
      i++;
    }
    if (value === '') throw new UsageError(`--${name} needs a non-empty value`);
    if (kind === 'int') {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`--${name} must be a non-negative integer, got '${value}'`);
      out.ints.set(name, Number(value));
    } else if (kind === 'list') out.lists.set(name, [...(out.lists.get(name) ?? []), ...value.split(',').filter(Boolean)]);
    else out.strings.set(name, value);
  }
  return out;
}

/** The value of a required string flag. */
export function required(args: ParsedArgs, name: string, what: string): string {
  const v = args.strings.get(name);
  if (v === undefined) throw new UsageError(`--${name} is required (${what})`);
  return v;
}

/** Validates a modality name. */
export function parseModality(name: string): Modality {
  if (!(MODALITIES as readonly string[]).includes(name)) throw new UsageError(`unknown modality '${name}' (known: ${MODALITIES.join(', ')})`);
  return name as Modality;
}

/** A comma list of modalities, duplicates removed, in the order given. */
export function parseModalities(list: readonly string[]): Modality[] {
  if (list.length === 0) throw new UsageError('--modalities needs at least one modality');
  return [...new Set(list.map(parseModality))];
}

export const MAIN_USAGE =
  'usage: npm start -- [--modalities text,image,...] [--epochs N] [--checkpoint FILE] [--out DIR] [--force] [--seed N] [--profile]';

export interface MainOptions {
  modalities: Modality[];
  epochs?: number;
  /** Encoder checkpoint; default the shipped pre-trained encoder. */
  checkpoint?: string;
  out: string;
  force: boolean;
  seed: number;
  /** Time every GPU dispatch and report the kernels that took the time (kernels.json, and the top on stdout). */
  profile: boolean;
}

/** The main job's command line (see MAIN_USAGE). */
export function parseMainArgs(argv: readonly string[]): MainOptions {
  const args = parseFlags(argv, { modalities: 'list', epochs: 'int', checkpoint: 'string', out: 'string', force: 'boolean', seed: 'int', profile: 'boolean' });
  const epochs = args.ints.get('epochs');
  if (epochs === 0) throw new UsageError('--epochs must be at least 1');
  const checkpoint = args.strings.get('checkpoint');
  return {
    modalities: args.lists.has('modalities') ? parseModalities(args.lists.get('modalities')!) : [...MODALITIES],
    ...(epochs === undefined ? {} : { epochs }),
    ...(checkpoint === undefined ? {} : { checkpoint }),
    out: args.strings.get('out') ?? 'out',
    force: args.booleans.has('force'),
    seed: args.ints.get('seed') ?? 1,
    profile: args.booleans.has('profile'),
  };
}
