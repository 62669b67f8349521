import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { ArgumentError, OmniError } from '../../engine/errors.js';
import {
  columnValues,
  inferSchema,
  isMissing,
  parseCsv,
  parseNumber,
  parseTimestamp,
  readCsvFile,
  timeFeatures,
  type ColumnKind,
  type TimeFrequency,
} from '../../metatransformer/io/csv.js';
import { assertClose, assertFormatError, assertThrows, fixtureJSON } from '../helpers.js';
import { fuzzReader } from './fuzz.js';

const t = suite('io: csv');

t('RFC 4180: quotes, escaped quotes, CRLF, embedded newlines, BOM, blank lines', () => {
  const text = '\ufeffname,note,n\r\n"Smith, J","said ""hi""\r\nthen left",3\r\n\r\nplain,,4\nlast,"",5';
  const table = parseCsv(text, 'people.csv');
  assert.equal(table.columns, ['name', 'note', 'n']);
  assert.equal(table.rows, [
    ['Smith, J', 'said "hi"\r\nthen left', '3'],
    ['plain', '', '4'],
    ['last', '', '5'],
  ]);
  assert.equal(table.lines, [2, 5, 6]);
  const semi = parseCsv('1;2\n3;4\n', 's', { delimiter: ';', header: false });
  assert.equal(semi.columns, ['col1', 'col2']);
  assert.equal(semi.rows, [['1', '2'], ['3', '4']]);
  const bytes = parseCsv(new TextEncoder().encode('a\n"é"\n'));
  assert.equal(bytes.rows, [['é']]);
  assert.equal(parseCsv('').rows, []);
  assert.equal(parseCsv('a,b\r1,2\r').rows, [['1', '2']]);
});

t('readCsvFile reads any byte source', async () => {
  const table = await readCsvFile(new Blob(['x,y\n1,2\n']));
  assert.equal(table.rows, [['1', '2']]);
});

t('parse errors name the line and column', () => {
  assertFormatError(() => parseCsv('a,b\n1,x"y\n', 'f.csv'), /f\.csv: line 2: column 4: quote inside an unquoted field/);
  assertFormatError(() => parseCsv('a,b\n"1"x,2\n'), /line 2: column 4: text after the closing quote/);
  assertFormatError(() => parseCsv('a,b\n1,"open\n\n'), /line 2: quoted field is never closed/);
  assertFormatError(() => parseCsv('a,b\n1,2\n3\n'), /line 3: record has 1 fields, expected 2/);
  assertFormatError(() => parseCsv('a,b,a\n'), /line 1: column 3: duplicate column name 'a'/);
  assertThrows(() => parseCsv('a', 'x', { delimiter: '"' }), ArgumentError, /delimiter must be one character/);
  assertThrows(() => parseCsv('a', 'x', { delimiter: ',,' }), ArgumentError, /delimiter must be one character/);
  // A misspelt option would parse with the default delimiter instead.
  assertThrows(() => parseCsv('a;b', 'x', { separator: ';' } as never), ArgumentError, /^parseCsv: unknown key 'separator' in options; known: delimiter, header/);
});

t('inferSchema: numeric, categorical, datetime, text, missing values, overrides', () => {
  const rows = ['date,temp,city,comment,code,empty'];
  const cities = ['Paris', 'Oslo', 'Paris', 'NA', 'Lima', 'Paris'];
  for (let i = 0; i < 6; i++)
    rows.push(`2016-07-0${i + 1} 0${i}:00:00,${i === 2 ? '?' : (i * 1.5 - 2).toString()},${cities[i]},free text number ${i},${i % 2},`);
  const table = parseCsv(rows.join('\n'));
  const schema = inferSchema(table, {}, { maxCategories: 5 });
  assert.equal(schema.map((s) => s.kind), ['datetime', 'numeric', 'categorical', 'text', 'numeric', 'categorical']);
  assert.is(schema[1]!.missing, 1);
  assert.is(schema[1]!.min, -2);
  assert.is(schema[1]!.max, 5.5);
  assert.is(schema[0]!.min, Date.UTC(2016, 6, 1));
  assert.equal(schema[2]!.categories, [{ value: 'Paris', count: 3 }, { value: 'Oslo', count: 1 }, { value: 'Lima', count: 1 }]);
  assert.is(schema[2]!.missing, 1);
  assert.is(schema[5]!.missing, 6);
  assert.equal(schema[5]!.categories, []);
  const forced = inferSchema(table, { code: 'categorical', temp: 'numeric', comment: 'categorical' });
  assert.is(forced[4]!.kind, 'categorical');
  assert.equal(forced[4]!.categories!.map((c) => c.value), ['0', '1']);
  assert.is(forced[3]!.categories!.length, 6);
  assertClose(columnValues(table, schema[1]!), [-2, -0.5, NaN, 2.5, 4, 5.5]);
  assert.equal(Array.from(columnValues(table, schema[2]!)), [0, 1, 0, NaN, 2, 0]);
  assert.is(columnValues(table, schema[0]!)[1], Date.UTC(2016, 6, 2, 1));
  assertThrows(() => columnValues(table, schema[3]!), ArgumentError, /column 'comment' is text/);
  assertFormatError(() => inferSchema(table, { city: 'numeric' }), /line 2, column 3 \('city'\): 'Paris' is not a numeric value/);
  assertFormatError(() => inferSchema(table, { temp: 'datetime' }), /line 2, column 2 \('temp'\): '-2' is not a datetime value/);
  assertThrows(() => inferSchema(table, { nope: 'numeric' }), ArgumentError, /override for unknown column 'nope'/);
  assertThrows(() => inferSchema(table, { temp: 'float' as ColumnKind }), ArgumentError, /unknown kind 'float'/);
  // Keys like __proto__ are data, never special.
  assertThrows(() => inferSchema(table, JSON.parse('{"__proto__": "numeric"}') as Record<string, ColumnKind>), ArgumentError, /unknown column '__proto__'/);
  const categorical = inferSchema(table, { city: 'categorical' });
  assertFormatError(() => columnValues({ ...table, rows: [...table.rows, ['', '', 'Rome', '', '', '']], lines: [...table.lines, 99] }, categorical[2]!), /line 99, column 3 \('city'\): 'Rome' is not a known category/);
});

t('missing-value spellings and strict numbers', () => {
  for (const m of ['', ' ', 'NA', 'NaN', 'nan', 'null', 'NULL', '?']) assert.ok(isMissing(m), m);
  assert.not.ok(isMissing('Na'));
  assert.is(parseNumber(' -1.5e3 '), -1500);
  assert.is(parseNumber('.5'), 0.5);
  for (const bad of ['1,5', '0x10', '1e', 'Infinity', '', '--1']) assert.ok(Number.isNaN(parseNumber(bad)), bad);
});

t('parseTimestamp: ISO 8601 dates, datetimes, offsets and slashed forms; impossible dates rejected', () => {
  assert.is(parseTimestamp('2016-07-01'), Date.UTC(2016, 6, 1));
  assert.is(parseTimestamp('2016-07-01 13:05'), Date.UTC(2016, 6, 1, 13, 5));
  assert.is(parseTimestamp('2016-07-01T13:05:09.25Z'), Date.UTC(2016, 6, 1, 13, 5, 9, 250));
  assert.is(parseTimestamp('2016-07-01T13:05:09+02:00'), Date.UTC(2016, 6, 1, 11, 5, 9));
  assert.is(parseTimestamp('2016-07-01T13:05:09-0330'), Date.UTC(2016, 6, 1, 16, 35, 9));
  assert.is(parseTimestamp('2016-07-01T13:05:09+05'), Date.UTC(2016, 6, 1, 8, 5, 9));
  assert.is(parseTimestamp('2016/07/01 13:05:09'), Date.UTC(2016, 6, 1, 13, 5, 9));
  assert.is(parseTimestamp('0050-01-01'), -60589296000000);
  for (const bad of ['2023-02-29', '2023-13-01', '2023-01-01 24:00', '2023-01-01T10:60', '2016-07-01T13:05+25:00', '2016-07/01', '07/01/2016', 'soon', '2016-7-1'])
    assert.is(parseTimestamp(bad), undefined, bad);
  assert.is(parseTimestamp('2024-02-29'), Date.UTC(2024, 1, 29));
});

t('timeFeatures match the Informer/Autoformer definitions (Python reference)', async () => {
  const cases = await fixtureJSON<{ text: string; ms: number; features: Record<string, number[]> }[]>('io/time_expected.json');
  for (const c of cases) {
    assert.is(parseTimestamp(c.text), c.ms, c.text);
    for (const [freq, expected] of Object.entries(c.features)) assertClose(timeFeatures(c.ms, freq as TimeFrequency), expected, { atol: 1e-12, what: `${c.text} ${freq}` });
    const s = timeFeatures(c.ms, 's');
    assert.equal(timeFeatures(c.ms, 't'), s.slice(1));
    assert.equal(timeFeatures(c.ms, 'h'), s.slice(2));
    assert.equal(timeFeatures(c.ms, 'd'), s.slice(3));
    assert.equal(timeFeatures(c.ms, 'b'), s.slice(3));
    for (const v of s) assert.ok(v >= -0.5 && v <= 0.5);
  }
  assertThrows(() => timeFeatures(NaN), ArgumentError, /not finite/);
  assertThrows(() => timeFeatures(0, 'q' as TimeFrequency), ArgumentError, /unknown frequency 'q'/);
});

t('fuzz: random and mutated CSV text parses or throws OmniError', async () => {
  const valid = new TextEncoder().encode('a,b,c\n1,"x,y",2016-01-01\n"q""r",NA,3\r\n');
  await fuzzReader(valid, (b) => inferSchema(parseCsv(b)), { runs: 300 });
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', '1', ',', '"', '\n', '\r', ' ', 'N', 'A') }), (s) => {
      try {
        const table = parseCsv(s);
        for (const col of inferSchema(table)) if (col.kind !== 'text') columnValues(table, col);
      } catch (err) {
        if (!(err instanceof OmniError)) throw err;
      }
    }),
    { numRuns: 300, seed: 7 },
  );
});

t.run();
