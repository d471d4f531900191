"""Write a file so that readers see the old one or the new one, never half of one."""

import contextlib
import errno
import os
import tempfile


def _umask():
    """The process umask, read without changing it (Linux), else the usual 022."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _temporary_beside(path, directory):
    """(fd, name) of a new temporary file in ``directory`` for ``path``; errors name ``path``."""
    try:
        return tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except PermissionError:
        raise PermissionError(errno.EACCES, f"cannot write {path!r}: no permission to create files in "
                                            f"{directory!r}", path) from None
    except OSError as error:
        raise type(error)(error.errno, f"cannot write {path!r}: cannot create files in {directory!r} "
                                       f"({error.strerror})", path) from None


def check_creatable(path, directory):
    """Raise now what ``atomic_write(path)`` would when ``directory`` (path's, existing) takes no new
    file: a fit with a checkpoint checks this before training, not after its first epoch."""
    fd, tmp = _temporary_beside(path, directory)
    os.close(fd)
    os.remove(tmp)


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """Yield a file open on a temporary file beside ``path``; on success it is
    flushed to disk, given the permissions of the file it replaces (or 0666
    less the umask, as ``open`` would) and renamed over ``path``. On any
    error, Ctrl-C included, the temporary file is removed and ``path`` is
    untouched."""
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)       # replace the file the link names, not the link
    directory = os.path.dirname(os.path.abspath(path))
    # The errors name the user's path (mkstemp and rename would name the temporary file).
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"cannot write {path!r}: the directory {directory!r} does not exist",
                                path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"cannot write {path!r}: it is a directory", path)
    fd, tmp = _temporary_beside(path, directory)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
