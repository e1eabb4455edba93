// The HTTPS front of the emulated apiserver: bearer-token authentication, discovery and
// /version, the control endpoints for switches and the RBAC policy, SelfSubjectAccessReview,
// resource routes, and exec upgrades. Every refusal is a JSON metav1.Status, as from a real
// apiserver.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { checkExec, PROTOCOLS, serveExec } from './exec.js';
import { coreVersions, group, groupList, resourceList, versionDoc } from './resources.js';
import { Rbac, SSAR_PATH, selfSubjectAccessReview, type Identity } from './rbac.js';
import { handleResource, parseTarget, readBody, sendJson, type RouterContext } from './router.js';
import { ApiError, unauthorized } from './status.js';
import { denied, validateSwitches, type Switches } from './switches.js';

export interface ServerContext extends RouterContext {
  token: string;
  setSwitches(s: Partial<Switches>): void;
  /** Containers with their host PIDs, for tests (GET /__emulator/containers). */
  containers(): unknown[];
}

const PUBLIC = new Set(['/version', '/healthz', '/livez', '/readyz']);

export interface ApiHttpServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** The request's context as its sender: the bearer token's user (the cluster's own, or one the
 * RBAC policy added); undefined when the token is missing or unknown. */
function authenticate(ctx: ServerContext, rbac: Rbac, req: IncomingMessage): ServerContext | undefined {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const id: Identity | undefined = rbac.identify(m?.[1], ctx);
  return id ? { ...ctx, rbac, user: id.user, groups: id.groups } : undefined;
}

async function route(server: ServerContext, rbac: Rbac, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const p = url.pathname.replace(/\/+$/, '') || '/';
  const sender = authenticate(server, rbac, req);
  if (!sender && !PUBLIC.has(p)) throw unauthorized();
  const ctx = sender ?? server;
  if (req.method === 'GET') {
    if (p === '/version') return sendJson(res, 200, versionDoc());
    if (PUBLIC.has(p)) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return void res.end('ok');
    }
    if (p === '/api') return sendJson(res, 200, coreVersions(`${req.socket.localAddress}:${req.socket.localPort}`));
    if (p === '/apis') return sendJson(res, 200, groupList());
    let m = /^\/apis\/([^/]+)$/.exec(p);
    if (m && group(m[1]!)) return sendJson(res, 200, group(m[1]!));
    m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(p);
    if (m) {
      const list = m[1] ? resourceList('', 'v1') : resourceList(m[2]!, m[3]!);
      if (list) return sendJson(res, 200, list);
    }
  }
  if (p === '/__emulator/switches') {
    if (req.method === 'POST') ctx.setSwitches(validateSwitches((await readBody(req)) ?? {}));
    return sendJson(res, 200, ctx.switches());
  }
  if (p === '/__emulator/containers' && req.method === 'GET') return sendJson(res, 200, ctx.containers());
  if (p === '/__emulator/rbac') {
    if (req.method === 'POST') rbac.set((await readBody(req)) ?? null);
    return sendJson(res, 200, rbac.current());
  }
  if (p === SSAR_PATH && req.method === 'POST') {
    // every authenticated user may ask (system:basic-user), unless the forbidden switch says no
    const err = denied(ctx.switches(), ctx.user, { verb: 'create', resource: 'selfsubjectaccessreviews', group: 'authorization.k8s.io' });
    if (err) throw err;
    const id = { user: ctx.user, groups: ctx.groups ?? [] };
    return sendJson(
      res,
      201,
      selfSubjectAccessReview(await readBody(req), (a) => !denied(ctx.switches(), id.user, a) && rbac.allows(id, a)),
    );
  }
  const target = parseTarget(p);
  if (!target) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  return handleResource(ctx, target, req, res, url.searchParams);
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
  if (res.headersSent) return void res.destroy();
  sendJson(res, err.code, err.body());
}

/** A refused upgrade is an ordinary HTTP answer written on the raw socket. */
function refuseUpgrade(socket: Duplex, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
  const body = JSON.stringify(err.body());
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[err.code] ?? 'Error';
  socket.end(`HTTP/1.1 ${err.code} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export async function startServer(ctx: ServerContext, tls: { cert: string; key: string }, port = 0): Promise<ApiHttpServer> {
  const sockets = new Set<WebSocket>();
  const rbac = new Rbac();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => [...offered].find((p) => PROTOCOLS.includes(p)) ?? false });
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://emulator');
    route(ctx, rbac, req, res, url).catch((e) => sendError(res, e));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {
      /* the client went away */
    });
    try {
      const url = new URL(req.url ?? '/', 'https://emulator');
      const sender = authenticate(ctx, rbac, req);
      if (!sender) throw unauthorized();
      const target = parseTarget(url.pathname);
      if (!target) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      serveExec(sender, wss, req, socket, head, checkExec(sender, target, req, url.searchParams), sockets);
    } catch (e) {
      refuseUpgrade(socket, e);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    async close() {
      for (const ws of sockets) ws.terminate();
      for (const w of ctx.watches) w.end();
      const closed = new Promise((r) => server.close(r));
      server.closeAllConnections();
      wss.close();
      await closed;
    },
  };
}
