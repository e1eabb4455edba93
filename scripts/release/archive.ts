// Release archives, byte for byte reproducible: fixed order, owner, modes and time (the
// SOURCE_DATE_EPOCH convention), no host names or user ids. tar.gz for Unix, zip for Windows.
import { createWriteStream, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { crc32, createGzip, deflateRawSync, inflateRawSync } from 'node:zlib';
import tar from 'tar-stream';

export interface Member {
  /** Name in the archive (no directories). */
  name: string;
  /** The file on disk. */
  file: string;
  mode: number;
}

export async function writeTarGz(out: string, members: Member[], mtime: Date): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createGzip({ level: 6 }), createWriteStream(out));
  for (const m of members) {
    const data = await fs.readFile(m.file);
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name: m.name, size: data.length, mode: m.mode, mtime, uid: 0, gid: 0, uname: 'root', gname: 'root', type: 'file' }, data, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
}

function dosTime(d: Date): { time: number; date: number } {
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** A plain zip (deflate, no zip64: members stay far below 4 GiB). */
export async function writeZip(out: string, members: Member[], mtime: Date): Promise<void> {
  const { time, date } = dosTime(mtime < new Date('1980-01-02T00:00:00Z') ? new Date('1980-01-02T00:00:00Z') : mtime);
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const data = await fs.readFile(m.file);
    const packed = deflateRawSync(data, { level: 6 });
    const name = Buffer.from(m.name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: deflate
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4); // made by Unix: the high half of the external attributes is the mode
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt16LE(time, 12);
    cd.writeUInt16LE(date, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(packed.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(((0o100000 | m.mode) << 16) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    chunks.push(local, name, packed);
    central.push(cd, name);
    offset += local.length + name.length + packed.length;
  }
  const cdSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  await fs.writeFile(out, Buffer.concat([...chunks, ...central, end]));
}

/** Members of a zip written by writeZip (or any plain zip): name, mode and contents. */
export async function readZip(file: string): Promise<{ name: string; mode: number; data: Buffer }[]> {
  const buf = await fs.readFile(file);
  const endAt = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0) throw new Error(`${file} is not a zip`);
  const count = buf.readUInt16LE(endAt + 10);
  let at = buf.readUInt32LE(endAt + 16);
  const out: { name: string; mode: number; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(at + 10);
    const crc = buf.readUInt32LE(at + 16);
    const csize = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const mode = buf.readUInt32LE(at + 38) >>> 16;
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataAt, dataAt + csize);
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
    if (crc32(data) !== crc) throw new Error(`${name}: CRC mismatch`);
    out.push({ name, mode: mode & 0o7777, data });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
