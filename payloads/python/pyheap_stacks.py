# Thread stacks, run inside the target by pyheap_boot.py: every thread's Python stack (name,
# file:line, function), like py-spy dump but from inside. Runs in the same namespace as
# pyheap_census.py. Names come from threading's own bookkeeping, never from user code.
import sys


def thread_stacks(own_thread):
    threading = sys.modules.get('threading')
    active = dict(getattr(threading, '_active', {})) if threading is not None else {}
    main_ident = None
    if threading is not None:
        main = getattr(threading, '_main_thread', None)
        main_ident = getattr(main, '_ident', None)
    threads = []
    for ident, frame in list(sys._current_frames().items()):
        if ident == own_thread:
            continue
        t = active.get(ident)
        name = getattr(t, '_name', None) if t is not None else None
        if not isinstance(name, str):
            name = 'MainThread' if ident == main_ident else 'thread-%d' % ident
        frames = []
        while frame is not None:
            code = frame.f_code
            frames.append({'file': code.co_filename, 'line': frame.f_lineno, 'function': code.co_name})
            frame = frame.f_back
        frames.reverse()  # outermost first, the running frame last, as in a traceback
        daemon = getattr(t, '_daemonic', None) if t is not None else None
        threads.append({'name': name, 'ident': ident, 'daemon': daemon if isinstance(daemon, bool) else None,
                        'frames': frames})
    threads.sort(key=_main_first)
    return threads


def _main_first(t):
    return (t['name'] != 'MainThread', t['name'])
