// Pieces of pod status as kubelets write them: conditions, container states, and the
// scheduler's "0/N nodes are available" message.
import { createHash } from 'node:crypto';
import { normaliseImage } from './images.js';

type Obj = Record<string, any>;

export const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** Sets a condition, keeping its lastTransitionTime while its status does not change. */
export function setCondition(pod: Obj, type: string, status: boolean, reason?: string, message?: string): void {
  const conds: Obj[] = (pod.status.conditions ??= []);
  const s = status ? 'True' : 'False';
  const old = conds.find((c) => c.type === type);
  const c = { type, status: s, lastProbeTime: null, lastTransitionTime: old && old.status === s ? old.lastTransitionTime : now(), ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
  if (old) conds.splice(conds.indexOf(old), 1, c);
  else conds.push(c);
}

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; reason: string; message?: string; startedAt?: string; finishedAt: string; containerID?: string } };

export function containerStatus(spec: Obj, state: ContainerState, id?: string, lastState: Obj = {}): Obj {
  const image = normaliseImage(String(spec.image));
  const running = 'running' in state;
  return {
    name: spec.name,
    image,
    imageID: id ? `${image.replace(/[:@].*$/, '')}@sha256:${createHash('sha256').update(image).digest('hex')}` : '',
    ...(id ? { containerID: `containerd://${id}` } : {}),
    ready: running,
    started: running,
    restartCount: 0,
    state,
    lastState,
  };
}

/** Sets every container of the pod to the same waiting state (image pulls, creation). */
export function allWaiting(pod: Obj, reason: string, message?: (c: Obj) => string | undefined): void {
  pod.status.containerStatuses = (pod.spec.containers as Obj[]).map((c) => {
    const m = message?.(c);
    return containerStatus(c, { waiting: { reason, ...(m ? { message: m } : {}) } });
  });
  notReady(pod, 'ContainersNotReady', `containers with unready status: [${(pod.spec.containers as Obj[]).map((c) => c.name).join(' ')}]`);
}

export function notReady(pod: Obj, reason: string, message?: string): void {
  setCondition(pod, 'Ready', false, reason, message);
  setCondition(pod, 'ContainersReady', false, reason, message);
}

export function unschedulableMessage(nodes: number, why: string): string {
  return `0/${nodes} nodes are available: ${nodes} ${why}. preemption: 0/${nodes} nodes are available: ${nodes} Preemption is not helpful for scheduling.`;
}
