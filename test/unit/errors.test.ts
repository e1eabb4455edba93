// Errors carry a reason, not a text to match: the code that must tell failures apart reads
// PyheapError.reason (and ApiUnreachable.why), and -v shows the stage.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { EXIT, PyheapError, refusedByApi } from '../../src/core/errors.js';
import { Printer } from '../../src/core/printer.js';
import { agentError } from '../../src/inject/protocol.js';
import { ApiRefusal, ApiUnreachable, networkError } from '../../src/kube/api.js';
import { apiError, rbacError } from '../../src/kube/apiErrors.js';

const refusal = (code: number, message: string, path = '/api/v1/namespaces/ns/pods') => new ApiRefusal(code, { kind: 'Status', message, code }, 'POST', path);

describe('reasons', () => {
  it('RBAC: rbac-refused, which is a refusal by the API (nothing changed)', () => {
    const e = apiError(refusal(403, 'pods is forbidden: User "dev" cannot create resource "pods" in API group "" in the namespace "ns"'), 'agent', 'create the agent pod');
    assert.equal(e.reason, 'rbac-refused');
    assert.equal(refusedByApi(e), true);
    assert.equal(rbacError('agent', { verb: 'get', resource: 'pods/exec', group: '' }).reason, 'rbac-refused');
  });
  it('Pod Security, a 404, a conflict: api-refused; a server error may have done half: none', () => {
    const psa = apiError(refusal(403, 'pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged (container "agent" must not set securityContext.privileged=true)'), 'agent', 'create');
    assert.equal(psa.reason, 'api-refused');
    assert.equal(apiError(refusal(404, 'not found'), 'resolve', 'get').reason, 'api-refused');
    assert.equal(apiError(refusal(409, 'conflict'), 'agent', 'create').reason, 'api-refused');
    const e500 = apiError(refusal(500, 'etcd timed out'), 'agent', 'create');
    assert.equal(e500.reason, undefined);
    assert.equal(refusedByApi(e500), false);
    assert.equal(refusedByApi(new Error('RBAC refuses it')), false, 'the text decides nothing');
  });
  it('an unreachable server: why it is, from the error code, not from the message', () => {
    const cert = networkError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'https://h:6443');
    assert.equal(cert.why, 'certificate');
    assert.equal(apiError(cert, 'connect', 'list pods').reason, 'certificate');
    assert.match(apiError(cert, 'connect', 'list pods').hint ?? '', /certificate-authority/);
    const refused = networkError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'https://h:6443');
    assert.equal(refused.why, 'network');
    assert.equal(apiError(refused, 'connect', 'list pods').reason, undefined);
    // a message that happens to say "certificate" is still a network failure
    const plain = new ApiUnreachable('the certificate office is closed', 'https://h');
    assert.match(apiError(plain, 'connect', 'x').hint ?? '', /cluster-info/);
    const creds = apiError(new ApiUnreachable('cannot get credentials for https://h: exec plugin failed', 'https://h', { why: 'credentials' }), 'connect', 'x');
    assert.equal(creds.reason, 'credentials');
    assert.match(creds.hint ?? '', /kubeconfig user/);
  });
  it("the agent's gdb-missing error carries its reason", () => {
    assert.equal(agentError('18 gdb-missing gdb is not installed where the agent runs').reason, 'gdb-missing');
    assert.equal(agentError('12 ptrace-refused no').reason, undefined);
  });
});

describe('the stage', () => {
  const print = (e: unknown, verbose: boolean) => {
    let err = '';
    const w = new Writable({
      write(c: Buffer, _e, cb) {
        err += c.toString();
        cb();
      },
    });
    new Printer({ out: w, err: w, errIsTTY: false, color: false }).error(e, verbose);
    return err;
  };
  it('-v shows it (and the reason) after the one line; without -v the line alone', () => {
    const e = new PyheapError('inject', 'the kernel refused ptrace access', { hint: 'run as root', exitCode: EXIT.permission });
    assert.equal(print(e, false), 'error: the kernel refused ptrace access; run as root\n');
    const v = print(new PyheapError('agent', 'cannot create pods', { reason: 'rbac-refused' }), true).split('\n');
    assert.equal(v[0], 'error: cannot create pods');
    assert.equal(v[1], 'stage: agent (rbac-refused)');
    assert.match(v[2]!, /^PyheapError: cannot create pods/);
  });
});
