# The safe wrapper: every piece of code kubectl-pyheap injects runs inside this, in a thread of
# its own that the injector started in the target (never on one of the target's threads).
#
# The injector runs `exec(compile(open(P).read(), P, 'exec'), {'__name__': '__pyheap__',
# '__file__': P})` for this file P. It must never end or disturb the target:
# - every exception is caught, BaseException included (sys.exit() must not end the target);
# - it imports nothing that is not built in, and removes every module its thread imported;
# - it defines no class and leaves no reference cycle, and clears its namespace at the end,
#   so that nothing of it survives, not even as garbage waiting for the GC;
# - it removes its files: its own files once read, everything else once the agent has
#   collected the results, or by itself after `collect_seconds` if the agent never comes back;
# - user code gets its stdout/stderr captured (writes from other threads pass through), a fresh
#   PYHEAP_OUT directory, and a deadline enforced by a trace function on this thread only.
# The job file written by the agent is `key=value` lines: run_id, mode (census|script),
# deadline (epoch seconds), largest, collect_seconds, script (file name of the user code).


def _pyheap_main(boot_path):
    import sys
    import os
    import time
    import _thread

    clock = time.monotonic
    started = clock()
    own_thread = _thread.get_ident()
    stage = os.path.dirname(boot_path)
    modules_before = set(sys.modules)
    imported = set()

    def find_spec(name, path=None, target=None):
        if _thread.get_ident() == own_thread:
            imported.add(name)
        return None

    watch = _pyheap_attrs(lambda: None, find_spec=find_spec)  # records this thread's imports
    sys.meta_path.insert(0, watch)

    def path(name):
        return os.path.join(stage, name)

    def read_bytes(name):
        fd = os.open(path(name), os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        with os.fdopen(fd, 'rb') as f:
            return f.read()

    def write_new(name, text):
        fd = os.open(path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
        with os.fdopen(fd, 'wb') as f:
            f.write(text.encode('utf-8', 'backslashreplace'))

    status = {'status': 'error', 'run_id': None}
    job = {}
    own_files = ['job'] + [f for f in os.listdir(stage) if f.startswith('pyheap_') and f.endswith('.py')]
    capture = None
    previous_trace = sys.gettrace()
    deadline_error = SystemExit('the injected code ran past --timeout and was stopped')
    try:
        os.close(os.open(path('started'), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for line in read_bytes('job').decode('utf-8').splitlines():
            key, sep, value = line.partition('=')
            if sep:
                job[key.strip()] = value.strip()
        status['run_id'] = job.get('run_id')
        if job.get('script'):
            own_files.append(job['script'])
        # The agent's deadline is absolute: time spent waiting for the GIL counts against it.
        deadline = started + float(job.get('deadline', '0')) - time.time()
        if deadline <= started:
            raise TimeoutError('the payload started after the agent had given up')
        status['python'] = {
            'version': '%d.%d.%d' % sys.version_info[:3],
            'implementation': sys.implementation.name,
            'pid': os.getpid(),
            'executable': sys.executable,
        }
        mode = job.get('mode', 'census')
        out_dir = path('out')
        os.mkdir(out_dir, 0o700)
        tasks = ('referrers', 'stacks', 'trace', 'snapshot')
        sources = {}
        if mode == 'census':  # the census module, and those of the other tasks asked for
            for name in ('census',) + tasks:
                if name == 'census' or job.get(name) or (name == 'referrers' and job.get('growth')):
                    sources[name] = read_bytes('pyheap_%s.py' % name)
        script_source = read_bytes(job['script']) if mode == 'script' else None
        for name in own_files:  # the agent's copies are gone from the target from here on
            try:
                os.unlink(path(name))
            except OSError:
                pass

        if mode == 'census':
            ns = {'__name__': '__pyheap_census__'}
            try:
                for name, source in sources.items():  # one namespace: they share helpers
                    exec(compile(source, '<pyheap-%s>' % name, 'exec'), ns)
                sources.clear()
                result = _pyheap_analyse(ns, job, deadline, clock, time.sleep, own_thread, path,
                                         skip=(ns, status, job, watch, modules_before,
                                               imported, own_files, globals()))
            finally:
                ns.clear()
            write_new(os.path.join('out', 'census.json'), _pyheap_json(result))
            status['status'] = 'ok'
        elif mode == 'script':
            capture = _pyheap_capture(sys, _thread.get_ident, own_thread, path)
            code = compile(script_source, '<%s>' % job.get('script_name', 'script'), 'exec')
            user_globals = {'__name__': '__pyheap__', 'PYHEAP_OUT': out_dir}
            tracer, tracer_ref = _pyheap_tracer(clock, deadline, deadline_error)
            sys.settrace(tracer)
            try:
                exec(code, user_globals)
            finally:
                sys.settrace(previous_trace)
                del tracer_ref[:]
                user_globals.clear()
            status['status'] = 'ok'
        else:
            raise ValueError('unknown mode %r' % (mode,))
    except BaseException as e:  # SystemExit and KeyboardInterrupt must not end the target
        sys.settrace(previous_trace)
        timed_out = e is deadline_error or isinstance(e, TimeoutError)
        status['status'] = 'timeout' if timed_out else 'error'
        status['exception'] = _pyheap_describe(e)
        e = None  # the traceback refers to our frames: drop it, no cycle
    finally:
        if capture is not None:
            capture()
        status['elapsed_seconds'] = clock() - started
        try:
            write_new('.status.tmp', _pyheap_json(status))
            os.rename(path('.status.tmp'), path('status.json'))
        except BaseException:
            pass
        try:
            sys.meta_path.remove(watch)
        except ValueError:
            pass
        for name in imported:
            if name not in modules_before:
                sys.modules.pop(name, None)
    return stage, clock() + float(job.get('collect_seconds', '120') or 120)


def _pyheap_analyse(ns, job, deadline, clock, sleep, own_thread, path, skip):
    """The census, and what else the job asks for: stacks (first, as the target was), growth
    and/or an allocation trace over a window, referrer chains (for the types asked for and the
    top growers), and a snapshot streamed to the agent's FIFO."""
    largest = int(job.get('largest', '20'))
    extra = {}
    if job.get('stacks'):
        extra['threads'] = ns['thread_stacks'](own_thread)
    growth = float(job.get('growth') or 0)
    trace = float(job.get('trace') or 0)
    window = max(growth, trace)
    tracing = ns['trace_start']() if trace else None
    before = None
    if growth:
        before = ns['run_census'](deadline, clock, own_thread, largest=largest, skip=skip + (tracing,), results=(extra,))
    if tracing is not None:
        ns['trace_mark'](tracing)
    end = min(clock() + window, deadline)
    while clock() < end:  # the target runs on meanwhile; this thread only sleeps
        sleep(min(0.2, max(0.0, end - clock())))
    if tracing is not None:
        extra['trace'] = ns['trace_finish'](tracing, window, own_files=('<pyheap-*>', '*/.pyheap-*'))
    result = ns['run_census'](deadline, clock, own_thread, largest=largest, skip=skip, results=(extra, before))
    if before is not None:
        then = dict((t['name'], t) for t in before['types'])
        rows = []
        for t in result['types']:
            b = then.pop(t['name'], {'count': 0, 'size': 0})
            rows.append({'name': t['name'], 'count_delta': t['count'] - b['count'],
                         'size_delta': t['size'] - b['size'], 'count': t['count'], 'size': t['size']})
        for name, b in then.items():  # types that disappeared
            rows.append({'name': name, 'count_delta': -b['count'], 'size_delta': -b['size'], 'count': 0, 'size': 0})
        rows.sort(key=_pyheap_growth_order)
        result['growth'] = rows
        result['growth_seconds'] = growth
        result['growth_total'] = {'count_delta': result['total']['count'] - before['total']['count'],
                                  'size_delta': result['total']['size'] - before['total']['size']}
    wanted = [t for t in (job.get('referrers') or '').split(',') if t]
    if before is not None:  # the top growers get their chains too
        wanted += [r['name'] for r in result['growth'][:3] if r['size_delta'] > 0 and r['name'] not in wanted]
    if wanted and 'find_chains' in ns:
        chains = ns['find_chains'](wanted, own_thread, samples=int(job.get('samples', '3')),
                                   deadline=deadline, clock=clock)
        result['referrers'] = [{'type': t, 'chains': chains.get(t, [])} for t in wanted]
    if job.get('snapshot'):
        result['snapshot'] = ns['write_snapshot'](path(job['snapshot']), own_thread, deadline, clock,
                                                  skip=skip, results=(extra, result, before))
    result.update(extra)
    return result


def _pyheap_growth_order(row):
    return (-row['size_delta'], -row['count_delta'], row['name'])


def _pyheap_linger(stage, until):
    """Wait for the agent to take the results (it removes the directory), then make sure
    nothing stays behind even if the agent never came back."""
    import os
    import time
    while time.monotonic() < until and os.path.exists(stage):
        time.sleep(0.1)
    dirs = [stage]
    while dirs:  # depth-first removal, without recursion and without following links
        top = dirs[-1]
        try:
            names = os.listdir(top)
        except OSError:
            names = []
        subdirs = []
        for name in names:
            p = os.path.join(top, name)
            if os.path.isdir(p) and not os.path.islink(p):
                subdirs.append(p)
            else:
                try:
                    os.unlink(p)
                except OSError:
                    pass
        if subdirs:
            dirs.extend(subdirs)
            continue
        try:
            os.rmdir(top)
        except OSError:
            pass
        dirs.pop()


def _pyheap_attrs(obj, **attrs):
    for k, v in attrs.items():
        setattr(obj, k, v)
    return obj


def _pyheap_tracer(clock, deadline, error):
    """A trace function that stops the injected code at its deadline. It must hand itself back
    as the local tracer (so that `line` events of long loops come here too) without referring
    to itself through a closure cell (a reference cycle): it finds itself in `me`, which the
    caller empties when done."""
    budget = [0]
    me = []

    def tracer(frame, event, arg):
        budget[0] += 1
        if budget[0] & 255 == 0 and clock() > deadline:
            raise error
        return me[0] if me else None

    me.append(tracer)
    return tracer, me


def _pyheap_capture(sys, get_ident, own_thread, path):
    """Routes sys.stdout/sys.stderr writes of the injected thread into files, and lets every
    other thread of the target write where it always did. Returns the function that undoes it.
    The stand-in streams are module objects, not instances of a class of ours: no class, no
    reference cycle left behind."""
    import io
    files = {}
    saved = {}
    for name in ('stdout', 'stderr'):
        raw = open(path(name + '.txt'), 'xb')
        files[name] = io.TextIOWrapper(raw, encoding='utf-8', errors='backslashreplace', line_buffering=True)
    for name, mine in files.items():
        original = getattr(sys, name)
        saved[name] = original
        setattr(sys, name, _pyheap_routed(type(sys), name, original, mine, get_ident, own_thread))

    def undo():
        for name, original in saved.items():
            if getattr(getattr(sys, name), '__pyheap_routed__', False):
                setattr(sys, name, original)
        for f in files.values():
            try:
                f.close()
            except BaseException:
                pass
        files.clear()
        saved.clear()

    return undo


def _pyheap_routed(module_type, name, original, mine, get_ident, own_thread):
    def pick():
        return mine if get_ident() == own_thread else original

    def write(s):
        return pick().write(s)

    def flush():
        return pick().flush()

    def __getattr__(attr):
        return getattr(pick(), attr)

    return _pyheap_attrs(module_type('pyheap_' + name), write=write, flush=flush, __getattr__=__getattr__,
                         __pyheap_routed__=True, encoding=getattr(original, 'encoding', 'utf-8'),
                         errors=getattr(original, 'errors', 'strict'))


def _pyheap_describe(e):
    """Exception type, message and a traceback formatted without the traceback module."""
    tb = e.__traceback__
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if not code.co_filename.endswith('pyheap_boot.py'):  # the wrapper itself is noise
            frames.append('  File "%s", line %s, in %s' % (code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    etype = type(e)
    name = etype.__qualname__ if etype.__module__ in ('builtins', '__pyheap__') else etype.__module__ + '.' + etype.__qualname__
    try:
        message = str(e)  # the user's own exception, raised by the user's own code
    except BaseException:
        message = '<unprintable %s>' % etype.__name__
    if isinstance(e, SyntaxError):
        frames.append('  File "%s", line %s' % (e.filename, e.lineno))
    lines = ['Traceback (most recent call last):'] + frames + ['%s: %s' % (name, message) if message else name]
    return {'type': name, 'message': message, 'traceback': '\n'.join(lines)}


def _pyheap_json(v):
    """A small JSON encoder: the json module may not be loaded in the target. Iterative, with
    (is_raw, value) pairs on a stack, so that no nested function refers to itself."""
    parts = []
    stack = [(False, v)]
    escapes = {'"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t'}

    def string(s):
        out = ['"']
        for ch in s:
            e = escapes.get(ch)
            if e is not None:
                out.append(e)
            elif ch < ' ' or '\ud800' <= ch <= '\udfff':
                out.append('\\u%04x' % ord(ch))
            else:
                out.append(ch)
        out.append('"')
        return ''.join(out)

    while stack:
        raw, x = stack.pop()
        if raw:
            parts.append(x)
        elif x is None:
            parts.append('null')
        elif x is True:
            parts.append('true')
        elif x is False:
            parts.append('false')
        elif isinstance(x, int):
            parts.append(str(int(x)))
        elif isinstance(x, float):
            parts.append(repr(x) if x == x and abs(x) != float('inf') else 'null')
        elif isinstance(x, str):
            parts.append(string(x))
        elif isinstance(x, dict):
            items = list(x.items())
            stack.append((True, '}'))
            for i in range(len(items) - 1, -1, -1):
                stack.append((False, items[i][1]))
                stack.append((True, ('' if i == 0 else ',') + string(str(items[i][0])) + ':'))
            stack.append((True, '{'))
        elif isinstance(x, (list, tuple)):
            stack.append((True, ']'))
            for i in range(len(x) - 1, -1, -1):
                stack.append((False, x[i]))
                if i:
                    stack.append((True, ','))
            stack.append((True, '['))
        else:
            parts.append(string('<%s>' % type(x).__name__))
    return ''.join(parts)


try:
    _pyheap_linger(*_pyheap_main(__file__))
except BaseException:
    pass
globals().clear()  # functions refer to this namespace: clearing it frees everything now
