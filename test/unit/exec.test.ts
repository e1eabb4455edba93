// The exec client (src/kube/exec.ts) against an in-process `ws` server speaking the Kubernetes
// exec framing: one channel byte, then the payload (0 stdin, 1 stdout, 2 stderr, 3 the Status);
// v5.channel.k8s.io preferred, v4 when that is all the server has; the exit code from the status
// frame, a refused upgrade as the server's Status, a session cut without a status frame as
// dropped. The end-to-end version against the emulated API server is test/kube-exec.test.ts.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Api } from '../../src/kube/api.js';
import { ApiRefusal } from '../../src/kube/api.js';
import { exitCodeOf, openExec, PROTOCOLS, type ExecSession } from '../../src/kube/exec.js';

type Behaviour = (ws: WebSocket, url: URL) => void;
const behaviours = new Map<string, { protocols: string[]; run: Behaviour }>();

const server = http.createServer((_req, res) => {
  res.writeHead(404).end();
});
const podOf = (url: string | undefined) => new URL(url ?? '/', 'http://x').pathname.split('/')[6] ?? '';
// the server's choice among the subprotocols the client offers, as an API server makes it
const wss = new WebSocketServer({
  noServer: true,
  handleProtocols: (offered, req) => behaviours.get(podOf(req.url))?.protocols.find((p) => offered.has(p)) ?? false,
});
let api: Api;

const frame = (channel: number, data: string | Buffer) => Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);
const status = (s: object) => frame(3, JSON.stringify(s));

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const pod = podOf(req.url);
  if (pod === 'forbidden') {
    const body = JSON.stringify({
      kind: 'Status',
      status: 'Failure',
      message: 'pods "forbidden" is forbidden: User "u" cannot get resource "pods/exec" in API group "" in the namespace "ns"',
      reason: 'Forbidden',
      code: 403,
    });
    socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    return;
  }
  const b = behaviours.get(pod);
  if (!b) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    // a real server opens every channel with an empty frame first
    for (const c of [1, 2, 3]) ws.send(Buffer.from([c]));
    b.run(ws, url);
  });
});

before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  api = {
    server: `http://127.0.0.1:${port}`,
    requestTimeoutMs: 10_000,
    connectOptions: async () => ({ headers: {} }),
    request: async () => {
      throw new Error('no REST calls in these tests');
    },
  };
});
after(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((r) => server.close(() => r()));
});

async function collect(s: ExecSession): Promise<{ out: string; err: string; code: number | null; dropped: boolean }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  s.stdout.on('data', (d: Buffer) => out.push(d));
  s.stderr.on('data', (d: Buffer) => err.push(d));
  const exit = await s.done;
  return { out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString(), code: exit.code, dropped: exit.dropped };
}

const target = (pod: string) => ({ namespace: 'ns', pod, container: 'agent' });

describe('exec client, in-process WebSocket server', () => {
  it('v5: the command and container in the query, stdin on channel 0, stdout and stderr back, exit 0 from the status frame', async () => {
    let query: URLSearchParams | undefined;
    behaviours.set('echo5', {
      protocols: [...PROTOCOLS],
      run: (ws, url) => {
        query = url.searchParams;
        ws.on('message', (d: Buffer) => {
          if (d[0] !== 0) return;
          ws.send(frame(1, d.subarray(1)));
          ws.send(frame(2, 'to stderr'));
          ws.send(status({ status: 'Success' }));
          ws.close(1000);
        });
      },
    });
    const s = await openExec(api, target('echo5'), ['sh', '-c', 'cat']);
    assert.equal(s.protocol, 'v5.channel.k8s.io');
    await s.write(Buffer.from('hello'));
    const r = await collect(s);
    assert.deepEqual(r, { out: 'hello', err: 'to stderr', code: 0, dropped: false });
    assert.deepEqual(query?.getAll('command'), ['sh', '-c', 'cat']);
    assert.equal(query?.get('container'), 'agent');
    assert.equal(query?.get('stdin'), 'true');
    assert.equal(query?.get('tty'), 'false');
  });

  it('v4 when the server has no v5; a non-zero exit code from NonZeroExitCode', async () => {
    behaviours.set('fail4', {
      protocols: ['v4.channel.k8s.io'],
      run: (ws) => {
        ws.send(frame(1, 'partial'));
        ws.send(status({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } }));
        ws.close(1000);
      },
    });
    const s = await openExec(api, target('fail4'), ['false']);
    assert.equal(s.protocol, 'v4.channel.k8s.io');
    assert.deepEqual(await collect(s), { out: 'partial', err: '', code: 3, dropped: false });
  });

  it('stdin larger than one frame arrives whole, in order', async () => {
    const big = Buffer.alloc(700 * 1024, 7);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    behaviours.set('sink', {
      protocols: [...PROTOCOLS],
      run: (ws) => {
        const got: Buffer[] = [];
        ws.on('message', (d: Buffer) => {
          if (d[0] !== 0) return;
          got.push(d.subarray(1));
          if (Buffer.concat(got).length >= big.length) {
            ws.send(frame(1, String(Buffer.concat(got).equals(big))));
            ws.send(status({ status: 'Success' }));
            ws.close(1000);
          }
        });
      },
    });
    const s = await openExec(api, target('sink'), ['cat']);
    await s.write(big);
    assert.deepEqual(await collect(s), { out: 'true', err: '', code: 0, dropped: false });
  });

  it('a session that closes without a status frame is dropped, never a success', async () => {
    behaviours.set('drop', {
      protocols: [...PROTOCOLS],
      run: (ws) => {
        ws.send(frame(1, 'half'));
        ws.terminate();
      },
    });
    const s = await openExec(api, target('drop'), ['cat']);
    assert.deepEqual(await collect(s), { out: 'half', err: '', code: null, dropped: true });
  });

  it("a refused upgrade is the server's Status, as an ApiRefusal", async () => {
    await assert.rejects(
      openExec(api, target('forbidden'), ['sh']),
      (e: unknown) => e instanceof ApiRefusal && e.code === 403 && e.status.reason === 'Forbidden' && /cannot get resource "pods\/exec"/.test(e.message),
    );
  });

  it('exitCodeOf: Success is 0, NonZeroExitCode its cause, anything else none', () => {
    assert.equal(exitCodeOf({ status: 'Success' }), 0);
    assert.equal(exitCodeOf({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '137' }] } }), 137);
    assert.equal(exitCodeOf({ status: 'Failure', reason: 'InternalError', message: 'exec: "nope": executable file not found' }), null);
  });
});
