# Allocation sites, run inside the target by pyheap_boot.py: tracemalloc for a window, then the
# sites whose live allocations grew most, by size and by count; tracemalloc is stopped again
# (unless the application had started it itself) so that the target returns to full speed.
# Only allocations made after the start are seen. Same namespace as pyheap_census.py.
import sys


def trace_start():
    """Starts tracemalloc (importing it first: its modules are then there for both censuses of
    a growth window, and not counted as growth). The window's first snapshot is trace_mark's."""
    import tracemalloc
    ours = not tracemalloc.is_tracing()
    if ours:
        tracemalloc.start(1)
    return {'module': tracemalloc, 'ours': ours}


def trace_mark(state):
    """The window starts: its first snapshot, taken after the first census of a growth window
    (a snapshot is hundreds of tuples and strs of ours, which that census would count)."""
    state['first'] = state['module'].take_snapshot()


def trace_finish(state, seconds, top=25, own_files=()):
    tracemalloc = state['module']
    try:
        second = tracemalloc.take_snapshot()
    finally:
        if state['ours']:
            tracemalloc.stop()
    exclude = [tracemalloc.Filter(False, tracemalloc.__file__)]
    exclude += [tracemalloc.Filter(False, f) for f in own_files]
    first = state['first'].filter_traces(exclude)
    second = second.filter_traces(exclude)
    state.clear()
    diffs = second.compare_to(first, 'lineno')
    rows = []
    for d in diffs:
        if d.size_diff <= 0 and d.count_diff <= 0:
            continue
        frame = d.traceback[0]
        rows.append({'file': frame.filename, 'line': frame.lineno, 'size_delta': d.size_diff,
                     'count_delta': d.count_diff, 'size': d.size, 'count': d.count})
    return {
        'seconds': seconds,
        'by_size': sorted(rows, key=_size_delta)[:top],
        'by_count': sorted(rows, key=_count_delta)[:top],
        'note': 'Only allocations made after tracemalloc started (at the beginning of the window) are seen.',
    }


def _size_delta(r):
    return -r['size_delta']


def _count_delta(r):
    return -r['count_delta']
