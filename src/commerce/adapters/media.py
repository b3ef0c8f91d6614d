"""MediaFolder: product pictures stored as files named by their content (`<sha256>.<ext>`)."""

import contextlib
import os
import tempfile
from pathlib import Path

from commerce.domain.media import is_media_name, media_name


class MediaFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, data: bytes) -> tuple[str, bool]:
        """Stores the image (checked: type and size) and returns its name, and whether this
        call created the file (False: the same picture was there already). Written to a
        temporary file and renamed, so the folder never holds half a picture."""
        name = media_name(data)
        target = self.root / name
        if target.exists():
            return name, False
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return name, True

    def forget(self, name: str) -> None:
        """Removes a picture this process just stored and nothing uses (a failed add)."""
        if is_media_name(name):
            with contextlib.suppress(OSError):
                (self.root / name).unlink()

    def path(self, name: str) -> Path | None:
        """The file of a stored picture; None for any other name (no path is ever built
        from a name that is not `<sha256>.<ext>`: no traversal)."""
        if not is_media_name(name):
            return None
        found = self.root / name
        return found if found.is_file() else None
