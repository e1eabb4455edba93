// The offline analysis of heap snapshots: the reader against the writer and against damaged
// files (each refused with the byte where the damage is), and the views (retained sizes through
// cycles, unrooted objects, per-type totals without double counting, chains).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { EXIT, PyheapError } from '../../src/core/errors.js';
import { analyzeFile, renderAnalysis } from '../../src/analysis/command.js';
import { GraphBuilder } from '../../src/analysis/graph.js';
import { readSnapshot, type SnapshotSink } from '../../src/analysis/reader.js';
import { dominators } from '../../src/analysis/dominators.js';
import { chain, MAX_CHAIN } from '../../src/analysis/views.js';
import { graphSnapshot, nodeId, snapshotBytes, type GraphSpec, type SnapshotWriter } from '../support/snapshotWriter.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-analysis-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;
function file(bytes: Buffer): string {
  const f = path.join(scratch, `snap-${++files}.pyheap`);
  writeFileSync(f, bytes);
  return f;
}

const BIG = 2 ** 53 - 16; // the largest id that still fits
const sample = (w: SnapshotWriter) => {
  w.type('module');
  w.type('dict');
  w.root(0x1000, 'module app');
  w.objectsRecord([
    { id: 0x1000, type: 0, size: 72, refs: [0x2000] },
    { id: 0x2000, type: 1, size: 640, refs: [BIG, 0x1000, 0x9999] },
  ]);
  w.type('__main__.Session ü');
  w.root(0x1000, 'thread MainThread');
  w.objectsRecord([]);
  w.objectsRecord([{ id: BIG, type: 2, size: 2 ** 40, refs: [] }]);
  w.end(1.5);
};

describe('reader', () => {
  for (const bufferBytes of [64, 1 << 20]) {
    it(`reads back what the writer wrote (buffer ${bufferBytes} bytes)`, async () => {
      const got = {
        types: [] as string[],
        ids: [] as number[],
        typeIdx: [] as number[],
        sizes: [] as number[],
        counts: [] as number[],
        refs: [] as number[],
        roots: [] as [number, string][],
        chunks: [] as number[][],
      };
      const sink: SnapshotSink = {
        type: (i, name) => {
          got.types[i] = name;
        },
        chunk: (k, r) => {
          got.chunks.push([k, r]);
        },
        ids: (p) => {
          got.ids.push(...p);
        },
        typeIndexes: (p) => {
          got.typeIdx.push(...p);
        },
        sizes: (p) => {
          got.sizes.push(...p);
        },
        referenceCounts: (p) => {
          got.counts.push(...p);
        },
        referents: (p) => {
          got.refs.push(...p);
        },
        root: (id, label) => {
          got.roots.push([id, label]);
        },
      };
      const bytes = snapshotBytes(sample);
      const totals = await readSnapshot(file(bytes), sink, { bufferBytes });
      assert.deepEqual(totals, { objects: 3, references: 4, types: 3, roots: 2, seconds: 1.5, bytes: bytes.length });
      assert.deepEqual(got, {
        types: ['module', 'dict', '__main__.Session ü'],
        ids: [0x1000, 0x2000, BIG],
        typeIdx: [0, 1, 2],
        sizes: [72, 640, 2 ** 40],
        counts: [1, 3, 0],
        refs: [0x2000, BIG, 0x1000, 0x9999],
        roots: [
          [0x1000, 'module app'],
          [0x1000, 'thread MainThread'],
        ],
        chunks: [
          [2, 4],
          [0, 0],
          [1, 0],
        ],
      });
    });
  }

  it('builds the graph: referents become node indexes, unknown ones are dropped, a root keeps its first label', async () => {
    const b = new GraphBuilder();
    await readSnapshot(file(snapshotBytes(sample)), b);
    const g = b.finish();
    assert.equal(g.n, 3);
    assert.deepEqual([...g.edgeStart], [0, 1, 3, 3]);
    assert.deepEqual([...g.edgeTarget], [1, 2, 0]);
    assert.equal(g.danglingReferences, 1);
    assert.deepEqual([...g.roots], [0]);
    assert.equal(g.rootLabels.get(0), 'module app');
  });

  it('grows its buffer for a name longer than it, and keeps the first of two objects with one id', async () => {
    const long = Buffer.from(`${'x'.repeat(65534)}é`).subarray(0, 65535); // cut inside a character, as the payload may
    const b = new GraphBuilder();
    await readSnapshot(
      file(
        snapshotBytes((w) => {
          w.type(long);
          w.objectsRecord([
            { id: 8, type: 0, size: 1, refs: [16] },
            { id: 16, type: 0, size: 2, refs: [] },
            { id: 16, type: 0, size: 3, refs: [8] },
          ]);
          w.end();
        }),
      ),
      b,
      { bufferBytes: 64 },
    );
    const g = b.finish();
    assert.deepEqual([g.typeNames, g.duplicateIds, [...g.edgeTarget]], [[`${'x'.repeat(65534)}\ufffd`], 1, [1, 0]]);
  });
});

describe('damaged snapshots are refused, naming the byte', () => {
  const good = snapshotBytes(sample);
  async function refused(bytes: Buffer, pattern: RegExp, exitCode: number = EXIT.transfer): Promise<string> {
    let message = '';
    await assert.rejects(readSnapshot(file(bytes), new GraphBuilder()), (e: unknown) => {
      assert.ok(e instanceof PyheapError, String(e));
      assert.match(e.message, pattern);
      assert.equal(e.exitCode, exitCode);
      assert.ok(e.hint);
      message = e.message;
      return true;
    });
    return message;
  }
  const patched = (at: number, bytes: number[]) => {
    const b = Buffer.from(good);
    b.set(bytes, at);
    return b;
  };
  // offsets in `sample`: header 16, type records 1+4+2+6 = 13 and 1+4+2+4 = 11, root 1+8+2+10 = 21
  const firstObjects = 16 + 13 + 11 + 21;

  it('cut at every byte: truncated, with where the file ends', async () => {
    for (let cut = 0; cut < good.length; cut++) {
      const m = await refused(good.subarray(0, cut), /truncated|bad magic/);
      if (cut >= 16) assert.match(m, /truncated: .*(byte \d+|bytes after its header)/, `cut at ${cut}: ${m}`);
    }
  });
  it('not a snapshot', async () => {
    await refused(Buffer.from('{"census": true}\n and more bytes'), /is not a kubectl-pyheap snapshot \(bad magic at byte 0/);
  });
  it('a short file that is no snapshot is called that, not truncated', async () => {
    await refused(Buffer.from('# é\n'), /is not a kubectl-pyheap snapshot/);
  });
  it('an empty file', async () => {
    await refused(Buffer.alloc(0), /is not a kubectl-pyheap snapshot/);
  });
  it('another format version', async () => {
    await refused(snapshotBytes(sample, { version: 2 }), /format version 2 \(byte 12\); this kubectl-pyheap reads version 1/);
  });
  it('an unknown record kind', async () => {
    await refused(patched(firstObjects, [9]), new RegExp(`unknown record kind 9 at byte ${firstObjects}`));
  });
  it('types out of order', async () => {
    await refused(patched(17, [1]), /type record at byte 16 has index 1, expected 0/);
  });
  it('an object of an undeclared type', async () => {
    await refused(patched(firstObjects + 9 + 16 + 4, [7]), new RegExp(`object 1 of the objects record at byte ${firstObjects} has type index 7 \\(byte ${firstObjects + 29}\\)`));
  });
  it('reference counts that do not add up', async () => {
    await refused(patched(firstObjects + 9 + 16 + 8 + 16, [2]), /reference counts add up to 5, but it declares 4/);
  });
  it('an id beyond 53 bits', async () => {
    await refused(
      patched(firstObjects + 9 + 8 + 7, [0x01]),
      new RegExp(`an object id in the objects record at byte ${firstObjects} \\(byte ${firstObjects + 17}: 0x1[0-9a-f]+\\) does not fit in 53 bits`),
    );
  });
  it('a label that is not UTF-8', async () => {
    await refused(patched(16 + 13 + 11 + 11, [0xff]), /the root record at byte 40 has a label that is not valid UTF-8 \(byte 51\)/);
  });
  it('an end record that lies', async () => {
    await refused(
      snapshotBytes((w) => {
        w.type('x');
        w.objectsRecord([{ id: 1, type: 0, size: 1, refs: [] }]);
        w.end(0, { objects: 3 });
      }),
      /says 3 objects and 0 references were written, but the file holds 1 and 0/,
    );
  });
  it('bytes after the end record', async () => {
    await refused(Buffer.concat([good, Buffer.from([1, 2, 3])]), /3 bytes follow the end record/);
  });
  it('a chunk that claims more than the file holds', async () => {
    await refused(patched(firstObjects + 1, [0xff, 0xff, 0xff, 0x7f]), /declares 2147483647 objects/);
  });
  it('no such file, or a directory: a usage error', async () => {
    await assert.rejects(
      readSnapshot(path.join(scratch, 'nope'), new GraphBuilder()),
      (e: unknown) => e instanceof PyheapError && e.exitCode === EXIT.usage && /cannot open the snapshot .*ENOENT/.test(e.message),
    );
    await assert.rejects(readSnapshot(scratch, new GraphBuilder()), (e: unknown) => e instanceof PyheapError && e.exitCode === EXIT.usage && /is not a file/.test(e.message));
  });
});

/** A snapshot from a small graph given as named nodes: `edges` like 'a>b a>c'. */
function heap(nodes: Record<string, [type: string, size: number]>, edges: string, roots: Record<string, string>, extra: Partial<GraphSpec> = {}): { spec: GraphSpec; at: Record<string, number> } {
  const names = Object.keys(nodes);
  const at = Object.fromEntries(names.map((n, i) => [n, i]));
  const types = [...new Set(Object.values(nodes).map(([t]) => t))];
  const spec: GraphSpec = {
    types,
    nodes: names.map((n) => ({ type: types.indexOf(nodes[n]![0]), size: nodes[n]![1], refs: [] as number[] })),
    roots: Object.entries(roots).map(([n, label]) => ({ node: at[n]!, label })),
    ...extra,
  };
  for (const e of edges.split(/\s+/).filter(Boolean)) {
    const [a, b] = e.split('>');
    spec.nodes[at[a!]!]!.refs.push(at[b!]!);
  }
  return { spec, at };
}
const analyze = (spec: GraphSpec, top = 50) => analyzeFile(file(graphSnapshot(spec)), { top });
const MB = 1 << 20;

describe('retained sizes and views', () => {
  it('an object retaining tens of MB through a cycle gets the whole cycle', async () => {
    const ring = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`n${i}`, ['__main__.Node', 5 * MB] as [string, number]]));
    const { spec } = heap(
      { app: ['module', 100], d: ['dict', 200], s: ['__main__.Session', 50], ...ring, other: ['module', 100] },
      `app>d d>s s>n0 ${Array.from({ length: 10 }, (_, i) => `n${i}>n${(i + 1) % 10} n${i}>s`).join(' ')} other>d`,
      { app: 'module app', other: 'module other' },
    );
    const a = await analyze(spec);
    const byId = (i: number) => a.retainers.find((r) => r.id === nodeId(i))!;
    assert.equal(byId(2).retained_size, 50 + 50 * MB, 'the session holds the ring that points back at it');
    assert.equal(byId(3).retained_size, 50 * MB, "n0 is the ring's only way in");
    assert.equal(byId(4), undefined, 'n1 is the rest of the ring n0 retains: not listed apart');
    assert.equal(byId(1).retained_size, 200 + 50 + 50 * MB);
    assert.equal(byId(0).retained_size, 100, 'two modules share the dict: neither retains it');
    assert.deepEqual(byId(1).chain, ['(several roots)', 'dict']);
    assert.deepEqual(byId(3).chain, ['(several roots)', 'dict', '__main__.Session', '__main__.Node']);
    assert.deepEqual(
      a.retainers.map((r) => r.type),
      ['dict', '__main__.Session', '__main__.Node', 'module', 'module'],
    );
    assert.equal(a.retainers[0]!.type, 'dict');
    assert.deepEqual(a.snapshot, { ...a.snapshot, objects: 14, references: 24, roots: 2, types: 4, unrooted_objects: 0, bytes: 450 + 50 * MB });
  });

  it("chains start at the root record's label", async () => {
    const { spec } = heap({ app: ['module', 1], d: ['dict', 2], l: ['list', 3], s: ['__main__.Session', 4 * MB] }, 'app>d d>l l>s s>l', { app: 'module app' });
    const a = await analyze(spec);
    assert.deepEqual(
      a.retainers.map((r) => [r.type, r.retained_size, r.size, r.chain]),
      [
        ['module', 6 + 4 * MB, 1, ['module app']],
        ['dict', 5 + 4 * MB, 2, ['module app', 'dict']],
        ['list', 3 + 4 * MB, 3, ['module app', 'dict', 'list']],
        ['__main__.Session', 4 * MB, 4 * MB, ['module app', 'dict', 'list', '__main__.Session']],
      ],
    );
  });

  it('objects no root reaches become their own roots, in file order', async () => {
    const { spec } = heap({ app: ['module', 1], x: ['list', 10], y: ['dict', 20], z: ['str', 30], c: ['bytes', 7] }, 'x>y y>x y>z', { app: 'module app' });
    const a = await analyze(spec);
    const of = (t: string) => a.retainers.find((r) => r.type === t)!;
    assert.equal(of('list').retained_size, 60, 'the garbage cycle x <-> y hangs from x, the first of it in the file');
    assert.deepEqual(of('str').chain, ['(unrooted)', 'list', 'dict', 'str']);
    assert.deepEqual(of('bytes').chain, ['(unrooted)', 'bytes'], 'an object only C code holds');
    assert.equal(a.snapshot.unrooted_objects, 4);
    assert.match(renderAnalysis(a, 10), /note: 4 objects are not reachable from a module or a running frame/);
  });

  it('retained size by type does not count nested objects of one type twice', async () => {
    const { spec } = heap(
      { app: ['module', 1], d1: ['dict', 100], d2: ['dict', 100], d3: ['dict', 100], s: ['str', 1000], l: ['list', 10], d4: ['dict', 5] },
      'app>d1 d1>d2 d2>d3 d3>s app>l l>d4 l>d2',
      { app: 'module app' },
    );
    const a = await analyze(spec);
    const t = Object.fromEntries(a.retained_by_type.map((r) => [r.name, [r.retained_size, r.count]]));
    // d2 is reached from d1 and from l: the root dominates it; d3 sits under d2
    assert.deepEqual(t, { dict: [100 + 1200 + 5, 4], str: [1000, 1], list: [15, 1], module: [1 + 100 + 1200 + 15, 1] });
    assert.deepEqual(
      a.retained_by_type.map((r) => r.name),
      ['module', 'dict', 'str', 'list'],
    );
  });

  it('a deep chain (a linked list of 300k objects): no recursion, the chain keeps its ends', async () => {
    const n = 300_000;
    const spec: GraphSpec = {
      types: ['module', '__main__.Link'],
      roots: [{ node: 0, label: 'module app' }],
      chunkSize: 65536,
      dangling: true,
      nodes: Array.from({ length: n }, (_, i) => ({ type: i ? 1 : 0, size: 48, refs: i + 1 < n ? [i + 1] : [] })),
    };
    const f = file(graphSnapshot(spec));
    const a = await analyzeFile(f, { top: 3 });
    assert.deepEqual(
      a.retainers.map((r) => [r.retained_size, r.chain]),
      [
        [48 * n, ['module app']],
        [48 * (n - 1), ['module app', '__main__.Link']],
      ],
      'the other links are the rest of the list the first one retains',
    );
    assert.equal(a.snapshot.dangling_references, n);
    const b = new GraphBuilder();
    await readSnapshot(f, b);
    const g = b.finish();
    const steps = chain(g, dominators(g, g.roots), n - 1);
    assert.equal(steps.length, MAX_CHAIN);
    assert.equal(steps[0], 'module app');
    assert.equal(steps[12], `... ${n - MAX_CHAIN + 1} more ...`);
    assert.deepEqual(new Set(steps.filter((_, i) => i && i !== 12)), new Set(['__main__.Link']));
  });

  it('renders a census-style table and a JSON-ready value', async () => {
    const { spec } = heap({ app: ['module', 1], d: ['dict', 2048], s: ['__main__.Session', 3 * MB] }, 'app>d d>s', { app: 'module app' });
    const a = await analyze(spec);
    const text = renderAnalysis(a, 25);
    assert.match(text, /: 3 objects, 2 references, 3\.00 MiB in total, 3 types; 1 root; analysed in \d+\.\d\d s/);
    assert.match(text, /\n {12}__main__.Session \| {11}1 \| {6}3\.00 MiB\n/);
    assert.match(text, /3\.00 MiB {4}2\.00 KiB {2}dict {2}id=0x7f0000001010\n {26}module app > dict\n/);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(a))), ['retainers', 'retained_by_type', 'snapshot', 'analysis_seconds']);
    assert.deepEqual(Object.keys(a.retainers[0]!), ['type', 'id', 'retained_size', 'size', 'chain']);
  });
});
