/** Command-line parsing for bench/run.ts (pure, so tests can exercise it). */
import { ENGINES, GROUPS, type EngineId, type Group } from './harness.js';
import type { SuiteOptions } from './suite.js';

export const USAGE = `usage: node dist/bench/run.js [${GROUPS.join('|')}]... [--quick] [--large] [--profile] [--engines LIST] [--json FILE] [--md FILE] [--svg DIR] [--dawn-flags FLAG]...`;

export interface CliOptions extends SuiteOptions {
  json?: string;
  md?: string;
  svg?: string;
}

/** Parses argv (without node and the script); throws an Error with the usage on anything unknown. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const opts: CliOptions = { quick: false, large: false, groups: [], engines: [...ENGINES], dawnFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--large') opts.large = true;
    else if (arg === '--profile') opts.profile = true;
    else if (arg === '--json') opts.json = value();
    else if (arg === '--md') opts.md = value();
    else if (arg === '--svg') opts.svg = value();
    else if (arg === '--dawn-flags') opts.dawnFlags.push(value());
    else if (arg === '--engines') {
      const list = value().split(',');
      const bad = list.filter((e) => !(ENGINES as readonly string[]).includes(e));
      if (bad.length) throw new Error(`unknown engine(s) ${bad.join(', ')}; known: ${ENGINES.join(', ')}`);
      opts.engines = list as EngineId[];
    } else if ((GROUPS as readonly string[]).includes(arg)) opts.groups.push(arg as Group);
    else throw new Error(`unknown argument '${arg}'\n${USAGE}`);
  }
  return opts;
}

