// A small client for the emulated cluster in tests: JSON requests with the kubeconfig's token
// and CA, polling until a condition holds, and exec over WebSocket speaking the channel
// protocol by hand (so that tests see every frame, not a library's reading of them).
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

type Obj = Record<string, any>;

export interface Kube {
  server: string;
  token: string;
  ca: string;
}

export function fromKubeconfig(file: string): Kube {
  const kc = JSON.parse(readFileSync(file, 'utf8')) as Obj;
  return { server: kc.clusters[0].cluster.server, token: kc.users[0].user.token, ca: Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString() };
}

export interface Reply {
  code: number;
  body: any;
  text: string;
}

export function call(k: Kube, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  // Content-Length always: Node sends a DELETE body neither chunked nor sized otherwise
  const sized = data === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(data)) };
  return new Promise((resolve, reject) => {
    const req = request(`${k.server}${path}`, { method, ca: k.ca, headers: { Authorization: `Bearer ${k.token}`, 'Content-Type': 'application/json', ...sized, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ code: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const getPod = async (k: Kube, ns: string, name: string) => (await call(k, 'GET', `/api/v1/namespaces/${ns}/pods/${name}`)).body as Obj;

export function podRunning(k: Kube, ns: string, name: string, timeoutMs = 20000): Promise<Obj> {
  return waitFor(
    `pod ${ns}/${name} Running`,
    async () => {
      const p = await getPod(k, ns, name);
      return p.status?.phase === 'Running' && p;
    },
    timeoutMs,
  );
}

export interface ExecResult {
  protocol: string;
  stdout: string;
  stderr: string;
  /** The channel-3 frame, parsed. */
  status?: Obj;
  /** Channel bytes of every frame, in order. */
  channels: number[];
  closeCode: number;
  /** HTTP answer when the upgrade was refused. */
  refused?: { code: number; body: any };
}

export interface ExecOptions {
  container?: string;
  protocols?: string[];
  stdin?: Buffer | string;
  /** v5: send [255, 0] after stdin (default true on v5). */
  closeStdin?: boolean;
  onOpen?(ws: WebSocket): void;
}

export function exec(k: Kube, ns: string, pod: string, command: string[], o: ExecOptions = {}): Promise<ExecResult> {
  const q = new URLSearchParams();
  for (const c of command) q.append('command', c);
  if (o.container) q.set('container', o.container);
  q.set('stdout', 'true');
  q.set('stderr', 'true');
  q.set('stdin', o.stdin !== undefined ? 'true' : 'false');
  const ws = new WebSocket(`${k.server.replace('https', 'wss')}/api/v1/namespaces/${ns}/pods/${pod}/exec?${q}`, o.protocols ?? ['v5.channel.k8s.io', 'v4.channel.k8s.io'], {
    ca: k.ca,
    headers: { Authorization: `Bearer ${k.token}` },
  });
  const r: ExecResult = { protocol: '', stdout: '', stderr: '', channels: [], closeCode: 0 };
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => {
        r.refused = { code: res.statusCode ?? 0, body: JSON.parse(text) };
        resolve(r);
      });
    });
    ws.on('open', () => {
      r.protocol = ws.protocol;
      if (o.stdin !== undefined) {
        ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(o.stdin)]));
        if (ws.protocol.startsWith('v5') && o.closeStdin !== false) ws.send(Buffer.from([255, 0]));
      }
      o.onOpen?.(ws);
    });
    ws.on('message', (data: Buffer) => {
      const ch = data[0]!;
      r.channels.push(ch);
      const rest = data.subarray(1).toString();
      if (ch === 1) r.stdout += rest;
      if (ch === 2) r.stderr += rest;
      if (ch === 3) r.status = JSON.parse(rest) as Obj;
    });
    ws.on('close', (code) => {
      r.closeCode = code;
      resolve(r);
    });
    ws.on('error', (e) => {
      if (!r.refused) reject(e);
    });
  });
}
