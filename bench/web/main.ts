/** The browser page: runs the suite on the page's WebGPU adapter and shows the table and charts. */
import { ENGINES, GROUPS, type EngineId, type Group } from '../harness.js';
import { tableRows } from '../report/markdown.js';
import { toJSON } from '../report/report.js';
import { charts } from '../report/svg.js';
import { runSuite } from '../suite.js';

const params = new URLSearchParams(location.search);

/** The run's state, for scripts driving the page (the Chromium test): the report once done. */
type PageState = { state: 'idle' | 'running' } | { state: 'done'; report: unknown } | { state: 'error'; message: string };
const page = globalThis as unknown as { __bench: PageState };
page.__bench = { state: 'idle' };
const list = (name: string) => (params.get(name) ?? '').split(',').filter(Boolean);
const byId = (id: string) => document.getElementById(id)!;

async function start(): Promise<void> {
  const log = byId('log');
  (byId('start') as HTMLButtonElement).disabled = true;
  page.__bench = { state: 'running' };
  const print = (line: string) => {
    log.textContent += `${line}\n`;
    log.scrollTop = log.scrollHeight;
  };
  try {
    const report = await runSuite(
      {
        quick: params.has('quick'),
        large: params.has('large'),
        groups: list('groups').filter((g): g is Group => (GROUPS as readonly string[]).includes(g)),
        engines: params.has('engines') ? list('engines').filter((e): e is EngineId => (ENGINES as readonly string[]).includes(e)) : [...ENGINES],
        dawnFlags: [],
      },
      print,
    );
    const table = document.createElement('table');
    tableRows(report).forEach((cells, i) => {
      const tr = table.insertRow();
      for (const text of cells) {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        td.textContent = text;
        tr.appendChild(td);
      }
    });
    byId('table').replaceChildren(table);
    for (const [, svgText] of charts(report)) {
      const img = document.createElement('img');
      img.src = URL.createObjectURL(new Blob([svgText], { type: 'image/svg+xml' }));
      byId('charts').appendChild(img);
    }
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([toJSON(report)], { type: 'application/json' }));
    link.download = 'bench.json';
    link.textContent = 'download bench.json';
    byId('charts').before(link);
    page.__bench = { state: 'done', report: JSON.parse(toJSON(report)) as unknown };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    print(`error: ${message}`);
    page.__bench = { state: 'error', message };
  }
}

byId('start').addEventListener('click', () => void start());
if (params.has('autorun')) void start();
