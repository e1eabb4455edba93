# Heap snapshot, run inside the target by pyheap_boot.py: every object (id, type, size,
# referent ids) written in the binary format of SNAPSHOT.md to a FIFO that the agent reads, so
# that nothing is stored in the target (a tmpfs /tmp would count against its memory, a read-only
# root has no room). Same walk as the census (every object once, untracked ones included) and
# the same sizes; memory in the target stays at one chunk of objects plus the ids of shared
# untracked objects. Runs in the same namespace as pyheap_census.py (_type_info, type_name,
# _CHUNK, frame_roots, own_containers come from there). Uses no module beyond those the census uses.
import gc
import os
import sys
from itertools import chain, compress, filterfalse, islice, repeat

_MAGIC = b'PYHEAPSNAP1\n'


def _u(n, width):
    return int.to_bytes(n, width, 'little')


def _pack(values, width):
    return b''.join(map(int.to_bytes, values, repeat(width), repeat('little')))


def _batches(values, size=16384):
    """Slices of an iterable: one object can have a million referents (a big list), and packing
    them at once would cost ~80 bytes each of transient memory in the target."""
    it = iter(values)
    while True:
        batch = list(islice(it, size))
        if not batch:
            return
        yield batch


def _snapshot_single_rc():
    """getrefcount, in the walk below, of an untracked object that has exactly one owner."""
    holder = [float('2.5')]
    refs = [gc.get_referents(holder)]  # alive during the count, as in untracked_of()
    found = list(filterfalse(gc.is_tracked, chain.from_iterable(refs)))
    rc = next(map(sys.getrefcount, found)) if found else -1
    del refs, found
    return rc


def write_snapshot(path, own_thread, deadline, clock, skip=(), results=()):
    was_enabled = gc.isenabled()
    gc.disable()  # no collection may untrack (and so re-show) what was already written
    fd = os.open(path, os.O_WRONLY)
    try:
        return _write(fd, own_thread, deadline, clock, skip, own_containers(results))
    finally:
        os.close(fd)
        if was_enabled:
            gc.enable()


def _write(fd, own_thread, deadline, clock, skip, own_data):
    started = clock()
    out = []
    pending = [0]

    def emit(b):
        out.append(b)
        pending[0] += len(b)
        if pending[0] >= 1 << 20:
            flush()

    def flush():
        data = b''.join(out)
        del out[:]
        pending[0] = 0
        view = memoryview(data)
        while view:
            n = os.write(fd, view)  # releases the GIL; blocks while the agent catches up
            view = view[n:]

    tindex = {}
    info = {}
    get_referents = gc.get_referents
    is_tracked = gc.is_tracked
    seen = set()
    counters = [0, 0]  # objects, references

    def size_of(o):
        tp = type(o)
        e = info.get(tp)
        if e is None:
            e = info[tp] = _type_info(tp, o)
        f, hdr, fixed, per_class = e
        return fixed or f(o) + hdr

    def write_chunk(objs):
        types = list(map(type, objs))
        for tp in set(types) - tindex.keys():
            name = type_name(tp).encode('utf-8', 'backslashreplace')[:65535]
            tindex[tp] = len(tindex)
            emit(b'\x01' + _u(tindex[tp], 4) + _u(len(name), 2) + name)
        refs = list(map(get_referents, objs))
        counts = list(map(len, refs))
        total = sum(counts)
        emit(b'\x02' + _u(len(objs), 4) + _u(total, 4))
        emit(_pack(map(id, objs), 8))
        emit(_pack(map(tindex.__getitem__, types), 4))
        emit(_pack(map(size_of, objs), 8))
        emit(_pack(counts, 4))
        for batch in _batches(map(id, chain.from_iterable(refs))):
            emit(_pack(batch, 8))
            del batch
        counters[0] += len(objs)
        counters[1] += total
        return refs

    def untracked_of(refs):
        """The untracked referents not written yet (single owners need no memory)."""
        found = list(filterfalse(is_tracked, chain.from_iterable(refs)))
        if not found:
            return []
        rcs = list(map(sys.getrefcount, found))
        single = list(compress(found, map(single_rc.__eq__, rcs)))
        shared = list(compress(found, map(single_rc.__ne__, rcs)))
        del found, rcs
        if shared:
            by_id = dict(zip(map(id, shared), shared))
            new_ids = by_id.keys() - seen
            seen.update(new_ids)
            single.extend(map(by_id.__getitem__, new_ids))
        return single

    def drain(work):
        while work:
            refs = write_chunk(work)
            work = untracked_of(refs)
            del refs

    emit(_MAGIC + _u(1, 4))
    single_rc = _snapshot_single_rc()
    roots = [(mod, 'module ' + name) for name, mod in list(sys.modules.items())
             if isinstance(name, str) and type(mod) is type(sys)]
    frame_objs = frame_roots(own_thread)  # frames up to 3.10, local values from 3.13
    for obj in frame_objs:
        roots.append((obj, 'running frame'))
    for obj, label in roots:
        text = label.encode('utf-8', 'backslashreplace')[:65535]
        emit(b'\x03' + _u(id(obj), 8) + _u(len(text), 2) + text)
    own = globals()
    skip_ids = set(map(id, tuple(skip) + (own, roots, frame_objs, seen, tindex, info, out, counters)))
    skip_ids.update(id(v) for v in own.values() if getattr(v, '__globals__', None) is own)
    skip_ids.update(own_data)
    frame = sys._getframe()
    while frame is not None:
        skip_ids.add(id(frame))
        frame = frame.f_back
    del frame
    tracked = [o for o in gc.get_objects() if id(o) not in skip_ids]
    for start in range(0, len(tracked), _CHUNK):
        if clock() > deadline:
            raise TimeoutError('the snapshot reached --timeout after %d objects' % counters[0])
        drain(tracked[start:start + _CHUNK])
    del tracked
    fresh = [o for o, _ in roots if not is_tracked(o) and id(o) not in seen]
    seen.update(map(id, fresh))
    drain(fresh)
    del roots[:], frame_objs[:]
    elapsed = clock() - started
    emit(b'\x04' + _u(counters[0], 8) + _u(counters[1], 8) + _f64(elapsed))
    flush()
    return {'objects': counters[0], 'references': counters[1], 'seconds': elapsed, 'types': len(tindex)}


def _f64(x):
    """A non-negative float as an IEEE 754 little-endian double, without the struct module."""
    h = float(x).hex()  # '0x1.8000000000000p+1' for normal numbers, '0x0.0p+0' for zero
    if h.startswith('0x0.'):
        return b'\x00' * 8
    mantissa, exp = h[4:].split('p')
    bits = ((int(exp) + 1023) << 52) | int(mantissa.ljust(13, '0'), 16)
    return _u(bits, 8)
