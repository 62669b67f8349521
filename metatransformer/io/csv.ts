/**
 * CSV tables for the tabular and time-series tokenizers: an RFC 4180 parser, per-column schema
 * inference, ISO 8601 timestamp parsing and the Informer/Autoformer calendar features.
 *
 * Parsing follows RFC 4180: fields optionally in double quotes, "" inside quotes is a literal quote,
 * quoted fields may contain delimiters and newlines, records end with CRLF, LF or CR. A UTF-8 BOM is
 * dropped and blank lines are skipped (as pandas does). Any single-character delimiter can be chosen.
 * Refused with a FormatError naming the line and column: a quote inside an unquoted field, text after
 * a closing quote, an unterminated quoted field, rows whose field count differs from the header's, and
 * duplicate header names (overrides and lookups address columns by name).
 *
 * Timestamps without an offset are taken as UTC, so features never depend on the host's time zone.
 */
import { BYTES_KINDS, describe, expectBytes, expectOptions, isBytesLike, optionKeys, type BytesLike } from '../../engine/arguments.js';
import { ArgumentError, FormatError } from '../../engine/errors.js';
import { readBytes } from '../../engine/platform.js';
import { failAtLine, sourceName, type FileSource } from './common.js';

export interface CsvTable {
  /** Column names (from the header row, or col1, col2, ... without one). */
  columns: string[];
  rows: string[][];
  /** 1-based line on which each row starts, for error messages. */
  lines: number[];
  /** The file name used in messages. */
  name: string;
}

export interface CsvOptions {
  /** Field separator, one character; default ','. */
  delimiter?: string;
  /** Whether the first record names the columns; default true. */
  header?: boolean;
}

const CSV_OPTIONS = optionKeys<CsvOptions>({ delimiter: true, header: true });

/** Parses CSV text (or UTF-8 bytes). */
export function parseCsv(input: string | BytesLike, name = '<csv>', options: CsvOptions = {}): CsvTable {
  expectOptions('parseCsv', options, CSV_OPTIONS);
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r')
    throw new ArgumentError(`parseCsv: delimiter must be one character other than quote or newline, got ${JSON.stringify(delimiter)}`);
  if (typeof input !== 'string' && !isBytesLike(input))
    throw new ArgumentError(`parseCsv: input must be a string or ${BYTES_KINDS}, got ${describe(input)}`);
  let text = typeof input === 'string' ? input : new TextDecoder().decode(expectBytes('parseCsv', 'input', input));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let column = 1;
  let recordLine = 1;
  let quoted = false; // inside a quoted field
  let wasQuoted = false; // current field was quoted and its closing quote seen
  let blank = true; // nothing seen on this record yet
  const endRecord = (): void => {
    if (!blank) {
      fields.push(field);
      records.push({ fields, line: recordLine });
    }
    fields = [];
    field = '';
    wasQuoted = false;
    blank = true;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
          column++;
        } else {
          quoted = false;
          wasQuoted = true;
        }
      } else {
        field += ch;
        if (ch === '\n' || (ch === '\r' && text[i + 1] !== '\n')) {
          line++;
          column = 0;
        }
      }
      column++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      column = 1;
      recordLine = line;
      continue;
    }
    if (blank) {
      blank = false;
      recordLine = line;
    }
    if (ch === delimiter) {
      fields.push(field);
      field = '';
      wasQuoted = false;
    } else if (wasQuoted) {
      failAtLine(name, line, `column ${column}: text after the closing quote of a quoted field`);
    } else if (ch === '"') {
      if (field !== '') failAtLine(name, line, `column ${column}: quote inside an unquoted field (quote the whole field and double the quote)`);
      quoted = true;
    } else field += ch;
    column++;
  }
  if (quoted) failAtLine(name, recordLine, 'quoted field is never closed (file ends inside quotes)');
  endRecord();

  const header = options.header ?? true;
  const width = records[0]?.fields.length ?? 0;
  const columns = header && records.length > 0 ? records[0]!.fields : Array.from({ length: width }, (_, i) => `col${i + 1}`);
  if (header) {
    const seen = new Set<string>();
    columns.forEach((c, i) => {
      if (seen.has(c)) failAtLine(name, records[0]!.line, `column ${i + 1}: duplicate column name '${c}'`);
      seen.add(c);
    });
  }
  const body = header ? records.slice(1) : records;
  for (const r of body)
    if (r.fields.length !== width) failAtLine(name, r.line, `record has ${r.fields.length} fields, expected ${width}`);
  return { columns, rows: body.map((r) => r.fields), lines: body.map((r) => r.line), name };
}

/** Reads and parses a CSV file from a path (Node), URL, Blob, Response or bytes. */
export async function readCsvFile(src: FileSource, options: CsvOptions = {}): Promise<CsvTable> {
  return parseCsv(await readBytes(src, 'readCsvFile'), sourceName(src), options);
}

export type ColumnKind = 'numeric' | 'categorical' | 'datetime' | 'text';

export interface ColumnSchema {
  name: string;
  index: number;
  kind: ColumnKind;
  /** Number of missing values ('', NA, NaN, nan, null, NULL, ?). */
  missing: number;
  /** For categorical columns: distinct values, most frequent first (ties in first-seen order). */
  categories?: { value: string; count: number }[];
  /** For numeric and datetime columns (datetime in epoch ms): range of the present values. */
  min?: number;
  max?: number;
}

export interface InferOptions {
  /** A column with at most this many distinct values (and not numeric or datetime) is categorical. Default 32. */
  maxCategories?: number;
}

const INFER_OPTIONS = optionKeys<InferOptions>({ maxCategories: true });

const MISSING = new Set(['', 'NA', 'NaN', 'nan', 'null', 'NULL', '?']);

/** True for the spellings of a missing value. */
export function isMissing(value: string): boolean {
  return MISSING.has(value.trim());
}

/** Strict decimal number (optionally signed, with exponent); NaN when the text is anything else. */
export function parseNumber(value: string): number {
  const t = value.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) ? Number(t) : NaN;
}

const DATE_RE =
  /^(\d{4})([-/])(\d{2})\2(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Parses an ISO 8601 date or date-time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.fff]], 'T' or a space,
 * optional Z or +-HH[:MM] offset) or the same with '/' separators (YYYY/MM/DD[ HH:MM[:SS]]) into epoch
 * milliseconds. Times without an offset are UTC. Returns undefined when the text is not such a
 * timestamp or names an impossible date (2023-02-30, 25:00).
 */
export function parseTimestamp(value: string): number | undefined {
  const m = DATE_RE.exec(value.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[3]), Number(m[4])];
  const [hour, minute, second] = [Number(m[5] ?? 0), Number(m[6] ?? 0), Number(m[7] ?? 0)];
  const ms = m[8] ? Math.floor(Number(`0.${m[8]}`) * 1000) : 0;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return undefined;
  let offsetMinutes = 0;
  const tz = m[9];
  if (tz && tz !== 'Z') {
    const digits = tz.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || 0);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (tz[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // Date.UTC would map years 0-99 to 1900-1999
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime() - offsetMinutes * 60000;
}

/**
 * Infers each column's kind. Present values (not missing) that all parse as numbers make a numeric
 * column; all timestamps, a datetime column; otherwise at most `maxCategories` distinct values make it
 * categorical, and more make it text. An all-missing column is categorical with no categories.
 * `overrides` forces a kind per column name; forcing numeric or datetime on a column with a value that
 * does not parse is a FormatError naming its line and column.
 */
export function inferSchema(
  table: CsvTable,
  overrides: Readonly<Record<string, ColumnKind>> = {},
  options: InferOptions = {},
): ColumnSchema[] {
  expectOptions('inferSchema', options, INFER_OPTIONS);
  const maxCategories = options.maxCategories ?? 32;
  const forced = new Map<string, ColumnKind>();
  for (const key of Object.keys(overrides)) {
    const kind = overrides[key];
    if (!table.columns.includes(key)) throw new ArgumentError(`inferSchema: override for unknown column '${key}'`);
    if (kind !== 'numeric' && kind !== 'categorical' && kind !== 'datetime' && kind !== 'text')
      throw new ArgumentError(`inferSchema: override for '${key}' has unknown kind '${String(kind)}'`);
    forced.set(key, kind);
  }
  return table.columns.map((name, index) => {
    let missing = 0;
    let numeric = true;
    let datetime = true;
    const counts = new Map<string, number>();
    for (const row of table.rows) {
      const v = row[index]!;
      if (isMissing(v)) {
        missing++;
        continue;
      }
      if (numeric && Number.isNaN(parseNumber(v))) numeric = false;
      if (datetime && parseTimestamp(v) === undefined) datetime = false;
      if (counts.size <= maxCategories || counts.has(v)) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const present = table.rows.length - missing;
    const kind: ColumnKind =
      forced.get(name) ??
      (present === 0 ? 'categorical' : numeric ? 'numeric' : datetime ? 'datetime' : counts.size <= maxCategories ? 'categorical' : 'text');
    const schema: ColumnSchema = { name, index, kind, missing };
    if (kind === 'numeric' || kind === 'datetime') {
      const values = columnValues(table, schema);
      let min = Infinity;
      let max = -Infinity;
      for (const v of values)
        if (!Number.isNaN(v)) {
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
      if (present > 0) Object.assign(schema, { min, max });
    } else if (kind === 'categorical') {
      const all = new Map<string, number>();
      for (const row of table.rows) if (!isMissing(row[index]!)) all.set(row[index]!, (all.get(row[index]!) ?? 0) + 1);
      schema.categories = [...all].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count);
    }
    return schema;
  });
}

/**
 * One column as numbers: numeric values, datetimes as epoch ms, categorical values as their index in
 * `schema.categories`; missing values are NaN. Text columns have no numeric form (ArgumentError).
 */
export function columnValues(table: CsvTable, schema: ColumnSchema): Float64Array {
  if (schema.kind === 'text') throw new ArgumentError(`columnValues: column '${schema.name}' is text`);
  const out = new Float64Array(table.rows.length);
  const categoryIndex = new Map(schema.categories?.map((c, i) => [c.value, i]));
  table.rows.forEach((row, r) => {
    const v = row[schema.index]!;
    if (isMissing(v)) {
      out[r] = NaN;
      return;
    }
    let x: number | undefined;
    if (schema.kind === 'numeric') x = parseNumber(v);
    else if (schema.kind === 'datetime') x = parseTimestamp(v);
    else x = categoryIndex.get(v);
    if (x === undefined || Number.isNaN(x))
      throw new FormatError(
        `${table.name}: line ${table.lines[r]}, column ${schema.index + 1} ('${schema.name}'): '${v}' is not ${schema.kind === 'categorical' ? 'a known category' : `a ${schema.kind} value`}`,
      );
    out[r] = x;
  });
  return out;
}

export type TimeFrequency = 's' | 't' | 'h' | 'd' | 'b' | 'w' | 'm';

/**
 * Calendar features of a UTC time, each scaled to [-0.5, 0.5] as the `timefeatures` module of
 * Informer/Autoformer does (value / (range - 1) - 0.5). The frequency picks which, in their order:
 * 's': second, minute, hour, weekday, day of month, day of year; 't' (minutely): minute onwards;
 * 'h' (default): hour, weekday, day of month, day of year; 'd' and 'b': weekday, day of month, day of
 * year; 'w': day of month, ISO week; 'm': month. Weekday counts from Monday = 0.
 */
export function timeFeatures(ms: number, freq: TimeFrequency = 'h'): number[] {
  if (!Number.isFinite(ms)) throw new ArgumentError(`timeFeatures: time ${ms} is not finite`);
  const d = new Date(ms);
  const weekday = (d.getUTCDay() + 6) % 7;
  const startOfYear = Date.UTC(d.getUTCFullYear(), 0, 1);
  const dayOfYear = Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - startOfYear) / 86400000) + 1;
  // ISO week: the week containing this date's Thursday, counted in that Thursday's year.
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 3 - weekday));
  const isoWeek = Math.floor((thursday.getTime() - Date.UTC(thursday.getUTCFullYear(), 0, 1)) / (7 * 86400000)) + 1;
  const second = d.getUTCSeconds() / 59 - 0.5;
  const minute = d.getUTCMinutes() / 59 - 0.5;
  const hour = d.getUTCHours() / 23 - 0.5;
  const dow = weekday / 6 - 0.5;
  const dom = (d.getUTCDate() - 1) / 30 - 0.5;
  const doy = (dayOfYear - 1) / 365 - 0.5;
  const month = d.getUTCMonth() / 11 - 0.5;
  const week = (isoWeek - 1) / 52 - 0.5;
  switch (freq) {
    case 's': return [second, minute, hour, dow, dom, doy];
    case 't': return [minute, hour, dow, dom, doy];
    case 'h': return [hour, dow, dom, doy];
    case 'd':
    case 'b': return [dow, dom, doy];
    case 'w': return [dom, week];
    case 'm': return [month];
    default: throw new ArgumentError(`timeFeatures: unknown frequency '${String(freq)}' (s, t, h, d, b, w or m)`);
  }
}
