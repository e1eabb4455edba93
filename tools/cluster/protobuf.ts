// Request bodies in Kubernetes' protobuf encoding, which kubectl's typed clients send for core
// kinds (`kubectl create configmap` posts application/vnd.kubernetes.protobuf): the "k8s\0"
// envelope (runtime.Unknown: typeMeta, raw) and, inside it, the kinds decoded here (ConfigMap:
// metadata name, generateName, namespace, labels, annotations; data, binaryData, immutable).
// Answers stay JSON, which kubectl accepts too.
type Obj = Record<string, any>;

interface Field {
  no: number;
  wire: number;
  value: bigint | Buffer;
}

function varint(b: Buffer, at: { i: number }): bigint {
  let v = 0n;
  for (let shift = 0n; ; shift += 7n) {
    if (at.i >= b.length) throw new Error('truncated varint');
    const byte = b[at.i++]!;
    v |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
}

function fields(b: Buffer): Field[] {
  const out: Field[] = [];
  for (const at = { i: 0 }; at.i < b.length; ) {
    const tag = Number(varint(b, at));
    const no = tag >> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, value: varint(b, at) });
    else if (wire === 2) {
      const n = Number(varint(b, at));
      out.push({ no, wire, value: b.subarray(at.i, at.i + n) });
      at.i += n;
    } else if (wire === 1 || wire === 5) at.i += wire === 1 ? 8 : 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const str = (f: Field) => (f.value as Buffer).toString('utf8');

function mapEntry(f: Field): [string, Buffer] {
  const kv = fields(f.value as Buffer);
  return [str(kv.find((x) => x.no === 1) ?? { no: 1, wire: 2, value: Buffer.alloc(0) }), (kv.find((x) => x.no === 2)?.value as Buffer | undefined) ?? Buffer.alloc(0)];
}

function objectMeta(b: Buffer): Obj {
  const m: Obj = {};
  for (const f of fields(b)) {
    if (f.no === 1) m.name = str(f);
    else if (f.no === 2) m.generateName = str(f);
    else if (f.no === 3) m.namespace = str(f);
    else if (f.no === 11 || f.no === 12) {
      const [k, v] = mapEntry(f);
      (m[f.no === 11 ? 'labels' : 'annotations'] ??= {})[k] = v.toString('utf8');
    }
  }
  return m;
}

function configMap(b: Buffer): Obj {
  const o: Obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} };
  for (const f of fields(b)) {
    if (f.no === 1) o.metadata = objectMeta(f.value as Buffer);
    else if (f.no === 2) {
      const [k, v] = mapEntry(f);
      (o.data ??= {})[k] = v.toString('utf8');
    } else if (f.no === 3) {
      const [k, v] = mapEntry(f);
      (o.binaryData ??= {})[k] = v.toString('base64');
    } else if (f.no === 4) o.immutable = f.value !== 0n;
  }
  return o;
}

const KINDS: Record<string, (b: Buffer) => Obj> = { 'v1/ConfigMap': configMap };

export const MAGIC = Buffer.from('k8s\0', 'binary');

/** The object in a protobuf body; throws (with the kinds it can read) for any other kind. */
export function decodeProtobuf(body: Buffer): Obj {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new Error('the protobuf body does not start with the k8s envelope');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields((unknown.find((f) => f.no === 1)?.value as Buffer | undefined) ?? Buffer.alloc(0));
  const apiVersion = str(typeMeta.find((f) => f.no === 1) ?? { no: 1, wire: 2, value: Buffer.alloc(0) });
  const kind = str(typeMeta.find((f) => f.no === 2) ?? { no: 2, wire: 2, value: Buffer.alloc(0) });
  const decode = KINDS[`${apiVersion}/${kind}`];
  if (!decode) throw new Error(`the emulator reads protobuf bodies of ${Object.keys(KINDS).join(', ')} only, not ${apiVersion}/${kind}: send JSON`);
  return decode((unknown.find((f) => f.no === 2)?.value as Buffer | undefined) ?? Buffer.alloc(0));
}
