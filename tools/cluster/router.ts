// REST routes for resources: /api/v1/..., /apis/apps/v1/..., with or without a namespace, a
// name and a subresource; get, list, watch, create and delete, selectors, Tables, dry-run, and
// authorization: the forbidden switch, then the RBAC policy if one is loaded (rbac.ts). Exec (an
// upgrade) is in exec.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiServer } from './apiserver.js';
import { byResource, type ResourceType, apiVersionOf } from './resources.js';
import { fieldSelector, labelSelector } from './selectors.js';
import { ApiError, badRequest, methodNotAllowed, notFound } from './status.js';
import { decodeProtobuf } from './protobuf.js';
import { denied, type Switches } from './switches.js';
import { table, wantsTable } from './tables.js';
import type { Kubelet } from './kubelet.js';
import type { Rbac } from './rbac.js';
import type { Runtime } from './runtime.js';

type Obj = Record<string, any>;

export interface Target {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  sub?: string;
}

export interface RouterContext {
  api: ApiServer;
  kubelet: Kubelet;
  runtime: Runtime;
  switches(): Switches;
  /** Who sent the request (server.ts sets it per request from the bearer token). */
  user: string;
  groups?: string[];
  /** Roles and bindings, enforced when loaded (POST /__emulator/rbac). */
  rbac?: Rbac;
  /** Open watch responses, ended when the cluster stops. */
  watches: Set<ServerResponse>;
}

/** /api/v1/namespaces/NS/pods/NAME/exec -> {pods, NS, NAME, exec}; undefined: not a resource path. */
export function parseTarget(pathname: string): Target | undefined {
  const s = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let rest: string[];
  if (s[0] === 'api' && s[1] === 'v1') rest = s.slice(2);
  else if (s[0] === 'apis' && s.length >= 3) {
    group = s[1]!;
    rest = s.slice(3);
    if (s[2] !== 'v1') return undefined;
  } else return undefined;
  if (rest.length === 0) return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const rt = byResource(group, rest[0]!);
  if (!rt || rest.length > 3) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (namespace && !rt.namespaced) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  return { rt, ...(namespace ? { namespace } : {}), ...(rest[1] ? { name: rest[1] } : {}), ...(rest[2] ? { sub: rest[2] } : {}) };
}

export function authorize(ctx: RouterContext, verb: string, t: Target): void {
  const access = { verb, resource: t.rt.resource, group: t.rt.group, ...(t.sub ? { sub: t.sub } : {}), ...(t.namespace ? { namespace: t.namespace } : {}), ...(t.name ? { name: t.name } : {}) };
  const err = denied(ctx.switches(), ctx.user, access) ?? ctx.rbac?.check({ user: ctx.user, groups: ctx.groups ?? ['system:authenticated'] }, access);
  if (err) throw err;
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

export async function readBody(req: IncomingMessage): Promise<Obj | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  if (String(req.headers['content-type'] ?? '').includes('application/vnd.kubernetes.protobuf')) {
    try {
      return decodeProtobuf(raw);
    } catch (e) {
      throw new ApiError(415, 'UnsupportedMediaType', `the request body cannot be read: ${(e as Error).message}`);
    }
  }
  const text = raw.toString();
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as Obj;
  } catch (e) {
    throw badRequest(`the request body is not JSON: ${(e as Error).message}`);
  }
}

function dryRunOf(q: URLSearchParams, body?: Obj): boolean {
  const values = [...q.getAll('dryRun'), ...((body?.dryRun as string[] | undefined) ?? [])];
  for (const v of values) if (v !== 'All') throw badRequest(`Invalid dryRun value: "${v}": valid values are "All"`);
  return values.length > 0;
}

const bare = (o: Obj) => {
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest;
};

export async function handleResource(ctx: RouterContext, t: Target, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const { rt, namespace: ns, name, sub } = t;
  const store = ctx.api.store;
  const method = req.method ?? 'GET';
  if (sub === 'exec') throw badRequest('Upgrade request required');
  if (sub === 'log' && method === 'GET' && rt.resource === 'pods') {
    authorize(ctx, 'get', t);
    const pod = store.mustGet(rt, ns, name!);
    const cname = q.get('container') ?? pod.spec.containers[0].name;
    if (!pod.spec.containers.some((c: Obj) => c.name === cname)) throw badRequest(`container ${cname} is not valid for pod ${name}`);
    const rc = ctx.kubelet.container(pod, cname);
    if (!rc) throw badRequest(`container "${cname}" in pod "${name}" is waiting to start: ${pod.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? 'ContainerCreating'}`);
    let text = Buffer.concat(rc.log).toString();
    const tail = q.get('tailLines');
    if (tail)
      text = text
        .split('\n')
        .slice(-Number(tail) - 1)
        .join('\n');
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(text);
    return;
  }
  if (sub) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (method === 'GET' && name) {
    authorize(ctx, 'get', t);
    const o = store.mustGet(rt, ns, name);
    return sendJson(res, 200, wantsTable(req.headers.accept) ? table(rt.kind, [o], o.metadata.resourceVersion, q.get('includeObject')) : o);
  }
  if (method === 'GET') {
    const watching = q.get('watch') === 'true' || q.get('watch') === '1';
    authorize(ctx, watching ? 'watch' : 'list', t);
    const lp = labelSelector(q.get('labelSelector'));
    const fp = fieldSelector(rt.resource, q.get('fieldSelector'));
    const match = (o: Obj) => lp(o) && fp(o);
    if (watching) return watch(ctx, t, req, res, q, match);
    const items = store.list(rt, ns, match);
    const rv = store.resourceVersion();
    if (wantsTable(req.headers.accept)) return sendJson(res, 200, table(rt.kind, items, rv, q.get('includeObject')));
    return sendJson(res, 200, { kind: `${rt.kind}List`, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: rv }, items: items.map(bare) });
  }
  if (method === 'POST' && !name) {
    authorize(ctx, 'create', t);
    const body = await readBody(req);
    if (!body) throw badRequest('a body is required');
    const created = ctx.api.create(rt, body, { ...(ns ? { namespace: ns } : {}), dryRun: dryRunOf(q) });
    return sendJson(res, 201, created);
  }
  if (method === 'DELETE' && name) {
    authorize(ctx, 'delete', t);
    const body = await readBody(req);
    const g = q.get('gracePeriodSeconds') ?? body?.gracePeriodSeconds;
    if (!store.get(rt, ns, name)) throw notFound(rt.resource, rt.group, name);
    const deleted = await ctx.api.delete(rt, ns, name, { ...(g !== undefined && g !== null ? { gracePeriodSeconds: Number(g) } : {}), dryRun: dryRunOf(q, body) });
    return sendJson(res, 200, deleted);
  }
  throw methodNotAllowed();
}

/** A watch: newline-delimited JSON events until the client goes, timeoutSeconds passes, or the
 * cluster stops. As Table when asked (kubectl get -w). */
function watch(ctx: RouterContext, t: Target, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, match: (o: Obj) => boolean): void {
  const asTable = wantsTable(req.headers.accept);
  let first = true;
  const pending: string[] = [];
  let started = false;
  let expired = false;
  const send = (type: string, obj: Obj) => {
    const object = asTable && type !== 'ERROR' ? table(t.rt.kind, [obj], obj.metadata?.resourceVersion ?? '', q.get('includeObject'), first) : obj;
    first = false;
    const line = `${JSON.stringify({ type, object })}\n`;
    if (started) res.write(line);
    else pending.push(line);
    if (type === 'ERROR') expired = true; // 410 Gone: the watch is over, the client relists
  };
  const stop = ctx.api.store.watch({ rt: t.rt, ...(t.namespace ? { namespace: t.namespace } : {}), match, send }, q.get('resourceVersion'));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  started = true;
  for (const l of pending) res.write(l);
  if (expired) return void res.end();
  ctx.watches.add(res);
  const timeout = Number(q.get('timeoutSeconds') ?? 0);
  const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
  const done = () => {
    stop();
    clearTimeout(timer);
    ctx.watches.delete(res);
  };
  res.once('close', done);
  res.once('finish', done);
}
