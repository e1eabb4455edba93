// A small Kubernetes REST client: JSON over HTTPS with the kubeconfig's TLS and auth (applied by
// client-node's KubeConfig), a bound on every request, and refusals turned into ApiRefusal
// errors carrying the parsed metav1.Status. Exec (a WebSocket upgrade) shares connect().
import https from 'node:https';
import http from 'node:http';
import type { KubeSettings } from './kubeconfig.js';

type Obj = Record<string, any>;

export interface Status {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: Obj;
}

/** The API server said no: the HTTP code and its Status (or the raw text if it sent none). */
export class ApiRefusal extends Error {
  constructor(
    readonly code: number,
    readonly status: Status,
    readonly method: string,
    readonly path: string,
  ) {
    super(status.message || `${method} ${path}: HTTP ${code}`);
    this.name = 'ApiRefusal';
  }
}

/** Why the API server could not be used: the network (no route, no answer in time, a broken
 * connection), a certificate this machine does not trust, or no credentials to send. */
export type Unreachable = 'network' | 'certificate' | 'credentials';

/** The API server could not be reached, or did not answer in time. */
export class ApiUnreachable extends Error {
  readonly why: Unreachable;

  constructor(
    message: string,
    readonly server: string,
    options?: { cause?: unknown; why?: Unreachable },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiUnreachable';
    this.why = options?.why ?? 'network';
  }
}

export function parseStatus(text: string, code: number): Status {
  try {
    const s = JSON.parse(text) as Status;
    if (s && typeof s === 'object') return s;
  } catch {
    /* not JSON: an ingress, a proxy, a load balancer */
  }
  return { code, message: text.trim().split('\n')[0]?.slice(0, 300) || `HTTP ${code}` };
}

export interface RequestOptions {
  query?: Record<string, string | string[] | undefined>;
  body?: unknown;
  timeoutMs?: number;
}

export interface Api {
  readonly server: string;
  request<T = Obj>(method: string, path: string, o?: RequestOptions): Promise<T>;
  /** Options for https.request / ws with TLS, auth and impersonation applied. */
  connectOptions(): Promise<https.RequestOptions>;
  readonly requestTimeoutMs: number;
}

export function queryString(q: RequestOptions['query'] = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) p.append(k, one);
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

export class KubeApi implements Api {
  readonly server: string;
  readonly requestTimeoutMs: number;

  constructor(private settings: KubeSettings) {
    this.server = settings.server;
    this.requestTimeoutMs = settings.requestTimeoutMs;
  }

  async connectOptions(): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = { headers: {} };
    try {
      await this.settings.kc.applyToHTTPSOptions(opts);
    } catch (e) {
      throw new ApiUnreachable(`cannot get credentials for ${this.server}: ${(e as Error).message.trim().split('\n')[0]}`, this.server, { cause: e, why: 'credentials' });
    }
    opts.headers = { ...opts.headers, ...this.settings.headers };
    return opts;
  }

  async request<T = Obj>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const opts = await this.connectOptions();
    const url = new URL(`${this.server}${path}${queryString(o.query)}`);
    const data = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
    const timeoutMs = o.timeoutMs ?? this.requestTimeoutMs;
    const lib = url.protocol === 'http:' ? http : https;
    return new Promise<T>((resolve, reject) => {
      const req = lib.request(
        url,
        {
          ...opts,
          method,
          headers: {
            ...opts.headers,
            Accept: 'application/json',
            ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('error', (e) => reject(new ApiUnreachable(`the connection to ${this.server} broke: ${e.message}`, this.server, { cause: e })));
          res.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) {
              try {
                resolve((text ? JSON.parse(text) : {}) as T);
              } catch (e) {
                reject(new ApiUnreachable(`${method} ${path} answered something that is not JSON`, this.server, { cause: e }));
              }
            } else reject(new ApiRefusal(code, parseStatus(text, code), method, path));
          });
        },
      );
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              req.destroy(new ApiUnreachable(`${method} ${path} got no answer from ${this.server} within ${Math.round(timeoutMs / 1000)}s`, this.server));
            }, timeoutMs)
          : undefined;
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e instanceof ApiUnreachable ? e : networkError(e as NodeJS.ErrnoException, this.server));
      });
      req.end(data);
    });
  }
}

/** A failed connection as an ApiUnreachable: one line for people, and why for the code. */
export function networkError(e: NodeJS.ErrnoException, server: string): ApiUnreachable {
  return new ApiUnreachable(describeNetworkError(e, server), server, { cause: e, why: /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(e.code ?? '') ? 'certificate' : 'network' });
}

export function describeNetworkError(e: NodeJS.ErrnoException, server: string): string {
  const code = e.code ?? '';
  if (code === 'ECONNREFUSED') return `cannot reach the API server at ${server} (connection refused)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the API server's host name in ${server}`;
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `cannot reach the API server at ${server} (${code})`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return `the API server at ${server} has a certificate this machine does not trust (${code})`;
  return `cannot talk to the API server at ${server}: ${e.message}`;
}
