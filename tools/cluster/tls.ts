// A throw-away certificate authority and serving certificate for 127.0.0.1 (made with openssl
// at start-up, in the cluster's temp dir), and the kubeconfig that trusts it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Tls {
  ca: string;
  cert: string;
  key: string;
}

export function makeTls(dir: string): Tls {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  // EC keys: generating them takes milliseconds, RSA keys can take a second on this machine
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=pyheap-emulator-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=kube-apiserver');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('server.ext'));
  return { ca: readFileSync(f('ca.crt'), 'utf8'), cert: readFileSync(f('server.crt'), 'utf8'), key: readFileSync(f('server.key'), 'utf8') };
}

export interface KubeconfigOptions {
  server: string;
  ca: string;
  token: string;
  user: string;
  context: string;
  namespace?: string;
}

/** kubeconfig as kubectl writes it (JSON is valid YAML, and every client reads it). */
export function kubeconfig(o: KubeconfigOptions): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: o.context, cluster: { server: o.server, 'certificate-authority-data': Buffer.from(o.ca).toString('base64') } }],
    users: [{ name: o.user, user: { token: o.token } }],
    contexts: [{ name: o.context, context: { cluster: o.context, user: o.user, namespace: o.namespace ?? 'default' } }],
    'current-context': o.context,
    preferences: {},
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
