"""Private keys on disk: one private JWK per file, readable only by its owner.

The file is created with mode 0600 in the same system call that creates it
(``O_CREAT | O_EXCL``), so there is no moment at which another user could open
it, and an existing key is never silently replaced: losing a key means losing
the identity (a did:key) or needing a rotation.  Loading refuses a key file
that group or others can read, as ssh does: such a key may already be copied.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .core import ijson
from .core.errors import KeyMaterialError, NotrainError
from .core.keys import PrivateKey, PublicKey

MAX_KEYFILE_BYTES = 64 * 1024
_CHECK_PERMISSIONS = os.name == "posix"  # Windows has ACLs, not mode bits


class KeyFileError(KeyMaterialError):
    """A key file already exists, is readable by others, or does not hold the expected key."""

    code = "E_KEYFILE"


def save_private_key(path: str | os.PathLike[str], key: PrivateKey, *, overwrite: bool = False) -> None:
    """Write ``key`` as a private JWK file with mode 0600."""
    data = ijson.dumps(key.to_private_jwk(), pretty=True)
    if overwrite:
        _replace_private(Path(path), data)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"{path} already exists; refusing to overwrite a key", code="E_KEYFILE_EXISTS", where=os.fspath(path)
        ) from None
    _write_all(fd, data, cleanup=Path(path))


def _replace_private(path: Path, data: bytes) -> None:
    """Overwrite atomically with a fresh 0600 file (an existing file's looser mode must not carry over)."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".notrain-key-")  # mkstemp creates with 0600
    _write_all(fd, data, cleanup=Path(temp))
    os.replace(temp, path)


def _write_all(fd: int, data: bytes, *, cleanup: Path) -> None:
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    except BaseException:
        cleanup.unlink(missing_ok=True)
        raise


def load_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    """Read a private JWK file, refusing one that others can read."""
    jwk, mode = _read_jwk(path)
    if "d" not in jwk:
        raise KeyFileError(f"{path} holds a public key; signing needs the private key file", code="E_JWK", where=os.fspath(path))
    return _private(path, jwk, mode)


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    """Read the public key from a public or a private JWK file."""
    jwk, mode = _read_jwk(path)
    if "d" in jwk:
        return _private(path, jwk, mode).public
    return _with_path(path, PublicKey.from_jwk, jwk)


def _read_jwk(path: str | os.PathLike[str]) -> tuple[dict, int]:
    """The JSON object in the file, and the file's mode."""
    with open(path, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        data = file.read(MAX_KEYFILE_BYTES + 1)
    jwk = _with_path(path, lambda raw: ijson.loads(raw, max_size=MAX_KEYFILE_BYTES, what="key file"), data)
    if not isinstance(jwk, dict):
        raise KeyFileError(f"{path} does not hold a JWK (a JSON object)", code="E_JWK", where=os.fspath(path))
    return jwk, mode


def _private(path: str | os.PathLike[str], jwk: dict, mode: int) -> PrivateKey:
    if _CHECK_PERMISSIONS and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"permissions {stat.S_IMODE(mode):04o} on {path} are too open: a private key must be accessible "
            f"only by its owner (chmod 600 {path})",
            code="E_KEYFILE_PERMISSIONS",
            where=os.fspath(path),
        )
    return _with_path(path, PrivateKey.from_private_jwk, jwk)


def _with_path(path, parse, value):
    """Run a core parser, naming the file in any error it raises."""
    try:
        return parse(value)
    except NotrainError as exc:
        raise KeyFileError(f"{path}: {exc.message}", code=exc.code, where=exc.where or os.fspath(path)) from None
