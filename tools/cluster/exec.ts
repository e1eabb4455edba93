// Exec over WebSocket, as the apiserver and kubelet serve it: subprotocols v5.channel.k8s.io
// and v4.channel.k8s.io, one channel byte per message (0 stdin, 1 stdout, 2 stderr, 3 status,
// 4 resize), the metav1.Status frame with the exit code, and v5's [255, 0] to close stdin.
import type { IncomingMessage } from 'node:http';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { authorize, type RouterContext, type Target } from './router.js';
import { NotFoundInPath, type RunningContainer } from './runtime.js';
import { ApiError, badRequest } from './status.js';

type Obj = Record<string, any>;
export const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const HIGH_WATER = 1 << 20;

export interface ExecRequest {
  rc: RunningContainer;
  argv: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  protocol: string;
}

/** Everything a real server checks before it answers 101; throws the Status it would send. */
export function checkExec(ctx: RouterContext, t: Target, req: IncomingMessage, q: URLSearchParams): ExecRequest {
  if (t.rt.resource !== 'pods' || !t.name || t.sub !== 'exec') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  authorize(ctx, 'create', t);
  authorize(ctx, 'get', t); // Kubernetes 1.35+ checks both verbs for WebSocket exec
  const pod = ctx.api.store.mustGet(t.rt, t.namespace, t.name);
  const names = (pod.spec.containers as Obj[]).map((c) => String(c.name));
  const container = q.get('container') ?? (names.length === 1 ? names[0]! : undefined);
  if (!container) throw badRequest(`a container name must be specified for pod ${t.name}, choose one of: [${names.join(' ')}]`);
  if (!names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${t.name}`);
  const rc = ctx.kubelet.container(pod, container);
  const state = (pod.status?.containerStatuses as Obj[] | undefined)?.find((s) => s.name === container)?.state;
  if (!rc || !state?.running) throw badRequest(`unable to upgrade connection: container not found ("${container}")`);
  const argv = q.getAll('command');
  if (argv.length === 0) throw badRequest('you must specify at least 1 command');
  const flag = (k: string) => q.get(k) === 'true' || q.get(k) === '1';
  const [stdin, stdout, stderr] = [flag('stdin'), flag('stdout'), flag('stderr')];
  if (!stdin && !stdout && !stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw badRequest(`this emulated server speaks WebSocket (${PROTOCOLS.join(', ')}), not ${req.headers.upgrade}`);
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const protocol = offered.find((p) => PROTOCOLS.includes(p));
  if (!protocol) throw badRequest(`requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${PROTOCOLS.join(' ')}]`);
  return { rc, argv, stdin, stdout, stderr, protocol };
}

function statusFrame(status: Obj): Buffer {
  return Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]);
}

export function serveExec(ctx: RouterContext, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, x: ExecRequest, openSockets: Set<WebSocket>): void {
  wss.handleUpgrade(req, socket, head, (ws) => {
    openSockets.add(ws);
    ws.once('close', () => openSockets.delete(ws));
    session(ctx, ws, x);
  });
}

function session(ctx: RouterContext, ws: WebSocket, x: ExecRequest): void {
  // the kubelet announces the stream with an empty frame on its lowest writable channel
  ws.send(Buffer.from([x.stdout ? 1 : x.stderr ? 2 : 3]));
  const sw = ctx.switches();
  let child;
  try {
    child = ctx.runtime.exec(x.rc, x.argv, x.stdin);
  } catch (e) {
    if (!(e instanceof NotFoundInPath)) throw e;
    const message = `Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "${x.rc.id.slice(0, 12)}": OCI runtime exec failed: exec failed: unable to start container process: ${e.message}: unknown`;
    ws.send(statusFrame({ metadata: {}, status: 'Failure', message, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 }));
    ws.close(1000);
    return;
  }
  const proc = child;
  let dropped = false;
  let finished = false;
  const dropAfter = sw.execDropAfterBytes;
  const rate = sw.execBytesPerSecond;
  const fault = sw.execStderrFault;
  let stderrTail = '';
  let sentStdout = 0;
  const outputs = [proc.stdout!, proc.stderr!];
  /** The socket dies without a close frame or status; the command goes on without its streams,
   * as under containerd: its stdin ends, and what it writes is read and thrown away (the shim
   * keeps reading; closing the pipes would kill runc exec with SIGPIPE, which no shim does). */
  const drop = () => {
    dropped = true;
    ws.terminate();
    proc.stdin?.destroy();
    outputs.forEach((o) => {
      o.resume();
    });
  };
  const send = (channel: number, data: Buffer) => {
    if (dropped || ws.readyState !== ws.OPEN) return;
    ws.send(Buffer.concat([Buffer.from([channel]), data]), () => {
      if (ws.bufferedAmount < HIGH_WATER / 4) outputs.forEach((o) => o.resume());
    });
    if (ws.bufferedAmount > HIGH_WATER) outputs.forEach((o) => o.pause());
  };
  proc.stdout!.on('data', (d: Buffer) => {
    if (!x.stdout || dropped) return;
    if (dropAfter !== null && sentStdout + d.length >= dropAfter) {
      // the "connection reset" switch: exactly dropAfter bytes, then the socket dies without a
      // close frame or status; the command goes on without its streams, as under containerd
      send(1, d.subarray(0, dropAfter - sentStdout));
      return drop();
    }
    sentStdout += d.length;
    send(1, d);
    if (rate) {
      // a slow link: hold the stream for as long as these bytes take at this rate
      proc.stdout!.pause();
      setTimeout(
        () => {
          if (!dropped) proc.stdout!.resume();
        },
        (d.length / rate) * 1000,
      );
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    if (x.stderr) send(2, d);
    if (!fault || dropped) return;
    stderrTail = (stderrTail + d.toString()).slice(-4096);
    if (!stderrTail.includes(fault.text)) return;
    if (fault.action === 'drop') drop();
    else void ctx.kubelet.evict(x.rc.plan.podUid);
  });
  proc.stdin?.on('error', () => {
    /* the command stopped reading: EPIPE is its business */
  });
  ws.on('message', (data: Buffer) => {
    if (data.length === 0) return;
    const channel = data[0]!;
    if (channel === 0 && proc.stdin && !proc.stdin.writableEnded) {
      if (!proc.stdin.write(data.subarray(1))) {
        ws.pause();
        proc.stdin.once('drain', () => ws.resume());
      }
    } else if (channel === 255 && x.protocol.startsWith('v5') && data[1] === 0) proc.stdin?.end();
    // channel 4 (resize) only matters to a TTY, which this emulator does not allocate
  });
  ws.once('close', () => {
    // a client that goes away ends its command, as a real exec stream does
    if (!finished && !dropped) ctx.runtime.killExec(x.rc, proc);
  });
  proc.once('close', (code, signal) => {
    finished = true;
    if (dropped || ws.readyState !== ws.OPEN) return;
    const exit = code ?? 128 + (signal ? constants.signals[signal] : 0);
    const cmd = `[${x.argv.join(' ')}]`;
    ws.send(
      statusFrame(
        exit === 0
          ? { metadata: {}, status: 'Success' }
          : {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: error executing command ${cmd}, exit code ${exit}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(exit) }] },
            },
      ),
    );
    ws.close(1000);
  });
}
