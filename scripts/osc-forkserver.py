"""A fork server for the `openstack` command, used by scripts/osc-functional.sh.

python-openstackclient's functional tests run `openstack …` as a new process for every step,
and most of each such process is Python importing the client (about a second of CPU each,
some 2,500 times in a run). `serve` imports the client once and forks a child per command;
`client` (the `openstack` the tests find first on PATH, started with `python -S -E -s` so it
imports almost nothing) hands the child its argv, environment, working folder and its stdin,
stdout and stderr, and exits with the child's exit status. Every command is still the real
client's `openstackclient.shell.main` run in a process of its own, on its own file
descriptors; only the imports are shared. When the server is not reachable the client runs
the real `openstack` itself.

Usage:
  python osc-forkserver.py serve SOCKET     (runs until killed)
  python -S -E -s osc-forkserver.py client SOCKET REAL_OPENSTACK [ARG…]
"""

import json
import os
import socket
import struct
import sys


def _recv_exact(conn, n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError('the peer closed the connection')
        data += chunk
    return data


def client(sock_path, real, args):
    request = json.dumps(
        {'argv': args, 'env': dict(os.environ), 'cwd': os.getcwd()}
    ).encode()
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(sock_path)
        # The header and the three standard descriptors travel in one message; the request
        # follows as plain bytes.
        socket.send_fds(conn, [struct.pack('!I', len(request))], [0, 1, 2])
        conn.sendall(request)
        status = struct.unpack('!i', _recv_exact(conn, 4))[0]
    except (OSError, EOFError):
        os.execv(real, [real, *args])
    sys.exit(status)


def _preload():
    """Imports the client and every command module its entry points name."""
    import importlib.metadata

    import openstackclient.shell  # noqa: F401

    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group.startswith('openstack.') or ep.group.startswith(
                'keystoneauth1.'
            ):
                try:
                    ep.load()
                except Exception:  # a plugin whose deps are absent loads lazily later
                    pass


def _child(conn):
    import random

    random.seed()
    msg, fds, _flags, _addr = socket.recv_fds(conn, 4, 3)
    if len(msg) != 4 or len(fds) != 3:
        os._exit(70)
    length = struct.unpack('!I', msg)[0]
    request = json.loads(_recv_exact(conn, length))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request['env'])
    os.chdir(request['cwd'])
    sys.argv = ['openstack', *request['argv']]
    status = 1
    try:
        from openstackclient.shell import main

        status = main(request['argv'])
    except SystemExit as e:
        if e.code is None:
            status = 0
        elif isinstance(e.code, int):
            status = e.code
        else:
            print(e.code, file=sys.stderr)
            status = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    try:
        conn.sendall(struct.pack('!i', int(status or 0)))
    except OSError:
        pass
    os._exit(0)


def serve(sock_path):
    import signal

    # cliff names the program after sys.argv[0] when it is imported.
    sys.argv = ['openstack']
    _preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(64)
    print('osc-forkserver: ready', flush=True)
    while True:
        conn, _ = listener.accept()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                _child(conn)
            finally:
                os._exit(1)
        conn.close()


if __name__ == '__main__':
    if sys.argv[1] == 'serve':
        serve(sys.argv[2])
    else:
        client(sys.argv[2], sys.argv[3], sys.argv[4:])
