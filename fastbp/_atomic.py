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
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except PermissionError:
        raise PermissionError(errno.EACCES, f"cannot write {path!r}: no permission to create files in "
                                            f"{directory!r}", path) from None
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
