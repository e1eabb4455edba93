// The tables people read (src/report): the census table, the side-by-side comparison of several
// runs, the findings sections, and sizes as people write them. Pure functions, exact text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Census } from '../../src/collect/files.js';
import { humanSize } from '../../src/core/units.js';
import { comparisonTable } from '../../src/report/compare.js';
import { findingsText, growthTable, referrersText, threadsText, traceText } from '../../src/report/findings.js';
import { censusTable } from '../../src/report/tables.js';

const census = (types: [string, number, number][], extra: Partial<Census> = {}): Census => ({
  total: { count: types.reduce((s, t) => s + t[1], 0), size: types.reduce((s, t) => s + t[2], 0) },
  types: types.map(([name, count, size]) => ({ name, count, size })),
  largest: [{ type: 'bytes', size: 1048576, id: 0x7f00 }],
  gc: { tracked: 10, frozen: 0, enabled: true },
  census_seconds: 0.123,
  notes: ['sizes are shallow'],
  ...extra,
});

describe('sizes', () => {
  it('bytes, then binary units with two decimals', () => {
    assert.equal(humanSize(0), '0 B');
    assert.equal(humanSize(1023), '1023 B');
    assert.equal(humanSize(1024), '1.00 KiB');
    assert.equal(humanSize(1536), '1.50 KiB');
    assert.equal(humanSize(5 * 1024 ** 3), '5.00 GiB');
    assert.equal(humanSize(3 * 1024 ** 5), '3072.00 TiB');
  });
});

describe('the census table', () => {
  const c = census([
    ['str', 2000, 200_000],
    ['dict', 300, 90_000],
    ['app.models.Session', 12, 1200],
  ]);
  it('a heading, the totals, the types by size, the largest objects, the notes', () => {
    const text = censusTable(c, { version: '3.12.1', implementation: 'cpython', pid: 1, executable: '/usr/bin/python3' }, 'pid/42', 2);
    assert.deepEqual(text.split('\n'), [
      'pid/42: Python 3.12.1 (pid 1 in its namespace, /usr/bin/python3)',
      '2,312 objects, 284.38 KiB in total; 10 tracked by the GC; counted in 0.12 s',
      '',
      '                       types |   # objects |   total size',
      '============================ | =========== | ============',
      '                         str |        2000 |   195.31 KiB',
      '                        dict |         300 |    87.89 KiB',
      '(1 more types; --top to show more, -o json for all)',
      '',
      'largest objects:',
      '      1.00 MiB  bytes  id=0x7f00',
      '',
      'note: sizes are shallow',
    ]);
  });
  it('frozen objects are said, and no heading without a Python', () => {
    const text = censusTable({ ...c, gc: { tracked: 10, frozen: 5, enabled: true } }, undefined, 'pod x', 25);
    assert.match(text, /^pod x\n/);
    assert.match(text, /, 5 frozen \(gc\.freeze\) and not counted; counted in/);
    assert.doesNotMatch(text, /more types/);
  });
});

describe('several runs side by side', () => {
  it('one column pair per run, types by their largest size in any run, - where a run has none', () => {
    const text = comparisonTable(
      [
        {
          label: 'shop/web-1',
          detail: 'node n1, pid 1',
          census: census([
            ['str', 10, 3000],
            ['list', 1, 100],
          ]),
        },
        { label: 'shop/web-2', detail: 'node n2, pid 1', census: census([['dict', 2, 5000]]) },
        { label: 'shop/web-3', detail: 'node n2, pid 1, error' },
      ],
      2,
    );
    assert.deepEqual(text.split('\n'), [
      'A = shop/web-1 (node n1, pid 1): 11 objects, 3.03 KiB',
      'B = shop/web-2 (node n2, pid 1): 2 objects, 4.88 KiB',
      'C = shop/web-3 (node n2, pid 1, error): no census',
      '',
      '                       types | A # objects |       A size | B # objects |       B size | C # objects |       C size',
      '============================ | =========== | ============ | =========== | ============ | =========== | ============',
      '                        dict |           - |            - |           2 |     4.88 KiB |           - |            -',
      '                         str |          10 |     2.93 KiB |           - |            - |           - |            -',
      '(1 more types; --top to show more, -o json for all)',
    ]);
  });
});

describe('the findings sections', () => {
  const f = census([], {
    growth: [
      { name: 'app.Leak', count_delta: 100, size_delta: 4096, count: 500, size: 20480 },
      { name: 'int', count_delta: 0, size_delta: 0, count: 1, size: 28 },
    ],
    growth_seconds: 30,
    growth_total: { count_delta: 100, size_delta: 4096 },
    referrers: [
      { type: 'app.Leak', chains: [['module app', '.cache', '[0]']] },
      { type: 'bytes', chains: [] },
    ],
    threads: [{ name: 'MainThread', ident: 1, daemon: false, frames: [{ file: 'app.py', line: 10, function: 'serve' }] }],
    trace: { seconds: 10, by_size: [{ file: 'app.py', line: 7, size_delta: 2048, count_delta: -3, size: 4096, count: 4 }], by_count: [], note: 'only allocations after the start' },
  });
  it('growth: what grew, signed; rows that did not change are left out', () => {
    assert.deepEqual(growthTable(f, 10).split('\n'), [
      'growth over 30 s: +100 objects, +4.00 KiB',
      '                       types |   count +/- |      size +/- |   # objects |   total size',
      '============================ | =========== | ============= | =========== | ============',
      '                    app.Leak |        +100 |     +4.00 KiB |         500 |    20.00 KiB',
    ]);
  });
  it('referrer chains, thread stacks and allocation sites, in the order an engineer reads them', () => {
    assert.equal(
      referrersText(f),
      'what holds app.Leak:\n  module app .cache [0]\nwhat holds bytes:\n  (no sample reached from a module global or a running frame: held by C code, or a garbage cycle)',
    );
    assert.equal(threadsText(f), 'thread MainThread:\n  File "app.py", line 10, in serve');
    assert.equal(traceText(f, 5), 'allocation sites that grew over 10 s (tracemalloc, live allocations by size):\n      +2.00 KiB        -3 blocks  app.py:7\nnote: only allocations after the start');
    assert.equal(findingsText(f, 10), [growthTable(f, 10), referrersText(f), traceText(f, 10), threadsText(f)].join('\n\n'));
    assert.equal(findingsText(census([]), 10), '');
  });
});
