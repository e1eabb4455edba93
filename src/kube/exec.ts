// Exec in a pod over WebSocket, written on `ws` directly: v5.channel.k8s.io then v4, the exit
// code from the status frame (channel 3), the server's Status when the upgrade is refused,
// backpressure both ways, pings, and a session that ends without a status frame reported as
// dropped (never as success). stdin is never half-closed (v4 cannot): callers frame it.
import { Readable } from 'node:stream';
import WebSocket from 'ws';
import { ApiRefusal, ApiUnreachable, networkError, parseStatus, queryString, type Api, type Status } from './api.js';

export const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const CHUNK = 256 * 1024;
const PING_MS = 20_000;

export interface ExecTarget {
  namespace: string;
  pod: string;
  container: string;
}

export interface ExecExit {
  /** The command's exit code; null when there is none (dropped, or the runtime could not start it). */
  code: number | null;
  status?: Status;
  /** The socket closed without a status frame. */
  dropped: boolean;
  stdoutBytes: number;
}

export interface ExecSession {
  protocol: string;
  stdout: Readable;
  stderr: Readable;
  /** Sends on channel 0; resolves once the bytes are handed to the socket. */
  write(data: Buffer): Promise<void>;
  done: Promise<ExecExit>;
  /** Closes the socket: on a real cluster the command then sees the end of its stdin. */
  close(): void;
}

/** The exit code a status frame carries: 0 for Success, the ExitCode cause for NonZeroExitCode. */
export function exitCodeOf(s: Status): number | null {
  if (s.status === 'Success') return 0;
  const cause = (s.details?.causes as { reason?: string; message?: string }[] | undefined)?.find((c) => c.reason === 'ExitCode');
  const n = Number(cause?.message);
  return s.reason === 'NonZeroExitCode' && Number.isInteger(n) ? n : null;
}

export async function openExec(api: Api, t: ExecTarget, command: string[], o: { openTimeoutMs?: number; protocols?: string[] } = {}): Promise<ExecSession> {
  const path = `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/exec`;
  const url = `${api.server.replace(/^http/, 'ws')}${path}${queryString({ command, container: t.container, stdin: 'true', stdout: 'true', stderr: 'true', tty: 'false' })}`;
  const opts = await api.connectOptions();
  const openTimeoutMs = o.openTimeoutMs ?? (api.requestTimeoutMs || 60_000);
  const ws = new WebSocket(url, o.protocols ?? PROTOCOLS, { ...(opts as unknown as WebSocket.ClientOptions), handshakeTimeout: openTimeoutMs, perMessageDeflate: false });

  const stdout = new Readable({
    highWaterMark: 1 << 20,
    read: () => {
      if (ws.isPaused) ws.resume();
    },
  });
  const stderr = new Readable({ read: () => {} });
  let status: Status | undefined;
  let stdoutBytes = 0;
  let lastPong = Date.now();

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    const channel = data[0]!;
    const payload = data.subarray(1);
    if (payload.length === 0) return; // the stream's opening frame
    if (channel === 1) {
      stdoutBytes += payload.length;
      if (!stdout.destroyed && !stdout.push(payload)) ws.pause();
    } else if (channel === 2) stderr.push(payload);
    else if (channel === 3) status = parseStatus(payload.toString('utf8'), 0);
  });
  stdout.on('close', () => {
    if (ws.isPaused) ws.resume();
  }); // a reader that gave up must not stall the status frame
  ws.on('pong', () => {
    lastPong = Date.now();
  });
  ws.on('error', () => {
    /* the close that follows says what happened */
  });
  const ping = setInterval(() => {
    // a paused socket cannot read its pong: only a flowing one that stays silent is dead
    if (!ws.isPaused && Date.now() - lastPong > 3 * PING_MS) ws.terminate();
    else if (ws.readyState === WebSocket.OPEN) ws.ping();
  }, PING_MS);
  ping.unref();

  const done = new Promise<ExecExit>((resolve) => {
    ws.once('close', () => {
      clearInterval(ping);
      stdout.push(null);
      stderr.push(null);
      resolve({ code: status ? exitCodeOf(status) : null, ...(status ? { status } : {}), dropped: !status, stdoutBytes });
    });
  });

  try {
    await opened(ws, api, path, t.pod, openTimeoutMs);
  } catch (e) {
    clearInterval(ping);
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
    throw e;
  }
  if (!PROTOCOLS.includes(ws.protocol)) {
    ws.terminate();
    throw new ApiUnreachable(`the API server answered exec with subprotocol "${ws.protocol}", not ${PROTOCOLS.join(' or ')}`, api.server);
  }

  return {
    protocol: ws.protocol,
    stdout,
    stderr,
    async write(data: Buffer) {
      for (let i = 0; i < data.length; i += CHUNK) {
        if (ws.readyState !== WebSocket.OPEN) throw new ApiUnreachable(`the exec session with pod ${t.pod} closed while sending`, api.server);
        const frame = Buffer.concat([Buffer.from([0]), data.subarray(i, i + CHUNK)]);
        // the callback fires once the frame is in the socket: one chunk in flight at a time
        await new Promise<void>((resolve, reject) => ws.send(frame, (e) => (e ? reject(new ApiUnreachable(`sending to pod ${t.pod} failed: ${e.message}`, api.server, { cause: e })) : resolve())));
      }
    },
    done,
    close() {
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      // a server that never answers the close is cut off
      setTimeout(() => ws.terminate(), 5000).unref();
    },
  };
}

function opened(ws: WebSocket, api: Api, path: string, pod: string, openTimeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => reject(new ApiRefusal(res.statusCode ?? 0, parseStatus(Buffer.concat(chunks).toString('utf8'), res.statusCode ?? 0), 'GET', path)));
      res.on('error', (e) => reject(networkError(e as NodeJS.ErrnoException, api.server)));
    });
    ws.once('error', (e) =>
      reject(
        /handshake has timed out/.test(e.message)
          ? new ApiUnreachable(`exec in pod ${pod} was not accepted within ${Math.round(openTimeoutMs / 1000)}s`, api.server, { cause: e })
          : networkError(e as NodeJS.ErrnoException, api.server),
      ),
    );
  });
}
