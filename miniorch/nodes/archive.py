"""Files for a container as the tar stream Docker's archive API takes (`put_archive`), built in memory.

ConfigMap and Secret volumes reach a container this way on every transport (unix, TLS, SSH):
nothing is read from or written to the node's filesystem by miniorch itself. Entries are owned
by root, folders before their files, each with its own mode.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence

from miniorch.nodes.records import ArchiveFile


def tar(files: Sequence[ArchiveFile], mtime: float) -> bytes:
    """One uncompressed tar of `files` (absolute container paths), to extract at `/`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as out:
        for entry in sorted(files, key=lambda f: (f.path.count("/"), not f.is_dir, f.path)):
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mode, info.mtime, info.uid, info.gid = entry.mode, int(mtime), 0, 0
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                out.addfile(info)
            else:
                info.size = len(entry.data)
                out.addfile(info, io.BytesIO(entry.data))
    return buf.getvalue()
