"""Reading and writing the files keras_nlg keeps, so that none is lost.

Reading: model directories, checkpoints, exports and their metadata are
JSON files a user can damage or hand us damaged (empty, truncated, not
UTF-8, a list where an object belongs). Every reader goes through
`read_json_file`, so each of those faults is one `ValueError` naming the
file, never a `JSONDecodeError`, `UnicodeDecodeError` or `KeyError` from
deep inside.

Writing: a process can be killed at any instant (`kill -9`, out of memory,
a pre-empted machine). Each file is written under a temporary name and
renamed into place (`write_file_atomically`; a rename within a directory
is atomic on POSIX), and a set of files that belong together (a model
directory) is staged in `.incoming/` and committed by a manifest
(`commit_staged`): a kill leaves either the old complete set or, once the
manifest exists, a commit that `finish_interrupted_commit` completes. A
whole new directory (an import, an export) is written in a sibling and
renamed into place (`staged_directory`).
"""

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable

STAGING_DIR = ".incoming"
LOCK_FILE = ".lock"
_MANIFEST = ".manifest.json"  # written last: the staged set is complete


def read_json_file(path: str | os.PathLike, expected_type: type | None = dict):
    """The parsed JSON file at `path`.

    Args:
        path: the file (UTF-8 JSON).
        expected_type: the type the top-level value must have (default: an
            object, `dict`); None accepts any JSON value.

    Raises:
        ValueError: naming the file when it can't be read, is not UTF-8 or
            not JSON, or holds another type than `expected_type`.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError) as error:  # ValueError: JSON and UTF-8 errors
        raise ValueError(f"Cannot read {path}: {error}") from None
    if expected_type is not None and not isinstance(value, expected_type):
        kind = "a JSON object" if expected_type is dict else expected_type.__name__
        raise ValueError(f"{path} must hold {kind}. Received: {value!r:.80}")
    return value


def read_text_file(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of the file at `path`, which must not be blank.

    `what` names the file's role in messages ("the GPT-2 merges").

    Raises:
        ValueError: naming `what` and the file when it can't be read, is not
            UTF-8 (with the offset of the first bad byte) or is empty.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        raise ValueError(f"Cannot read {what} {path}: {error}") from None
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{what[0].upper()}{what[1:]} {path} is not UTF-8 text (byte {error.start})"
        ) from None
    if not text.strip():
        raise ValueError(f"{what[0].upper()}{what[1:]} {path} is empty")
    return text


def _fsync(path: str) -> None:
    """Flushes a file (or a directory's entries) to disk; best effort for
    directories, which some file systems can't open."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_file_atomically(path: str | os.PathLike, write: Callable[[str], None]):
    """Calls `write(temporary_path)`, then renames the file to `path`.

    The temporary name is `.partial.<name>` beside `path` (it keeps the
    name's ending: Keras checks for `.keras` and `.weights.h5`). A kill
    before the rename leaves `path` as it was; `write` raising leaves it
    too, and removes the partial file.
    """
    path = os.fspath(path)
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".partial.{name}")
    try:
        write(temporary)
        _fsync(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    _fsync(directory or ".")


def write_json_file(path: str | os.PathLike, value) -> None:
    """Writes `value` as indented JSON (keys sorted), atomically."""

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2, sort_keys=True)
            f.write("\n")

    write_file_atomically(path, write)


@contextlib.contextmanager
def directory_lock(directory: str, exclusive: bool):
    """Holds `flock` on `directory/.lock`: exclusive while a set is staged
    and committed (or an interrupted commit finished), shared while it is
    read, so a reader in another process never sees half a commit and never
    finishes or clears a commit still in progress. A directory we can't
    write to has no writer to wait for: no lock."""
    try:
        descriptor = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT)
    except OSError:
        descriptor = None
    try:
        if descriptor is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if descriptor is not None:
            os.close(descriptor)  # releases the lock


def has_interrupted_commit(directory: str) -> bool:
    """Whether a committed set waits to be moved into `directory`."""
    return os.path.isfile(os.path.join(directory, STAGING_DIR, _MANIFEST))


def staging_directory(directory: str) -> str:
    """An empty `directory/.incoming/` to write a new set of files into.

    An earlier committed-but-unfinished set is completed first; an
    uncommitted one (a write that was killed) is discarded.
    """
    finish_interrupted_commit(directory)
    staging = os.path.join(directory, STAGING_DIR)
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    return staging


def commit_staged(directory: str, replaces=()) -> None:
    """Moves the files staged in `directory/.incoming/` into `directory`.

    `replaces`: other names of the set (files of the old set that the new
    one lacks, e.g. a vocabulary file of another tokenizer); they are
    removed. The manifest written first is the commit point.
    """
    staging = os.path.join(directory, STAGING_DIR)
    names = sorted(os.listdir(staging))
    for name in names:
        _fsync(os.path.join(staging, name))
    manifest = {"files": names, "remove": sorted(set(replaces) - set(names))}
    write_json_file(os.path.join(staging, _MANIFEST), manifest)
    _finish_commit(directory)


def finish_interrupted_commit(directory: str) -> bool:
    """Completes a commit that a kill interrupted; True if there was one.

    Call it under `directory_lock(directory, exclusive=True)` when other
    processes may use the directory. A staged set without its manifest is
    left alone here; `staging_directory` clears it.
    """
    if not has_interrupted_commit(directory):
        return False
    _finish_commit(directory)
    return True


def _plain_names(names) -> list[str]:
    """`names` if each is a file name inside the directory (no separator,
    not `.`/`..`), else `[]`: a crafted manifest in a downloaded model
    directory must not move or delete files elsewhere."""
    if not isinstance(names, list) or not all(
        isinstance(n, str) and n not in ("", ".", "..") and os.path.basename(n) == n
        for n in names
    ):
        return []
    return names


def _finish_commit(directory: str) -> None:
    staging = os.path.join(directory, STAGING_DIR)
    manifest = read_json_file(os.path.join(staging, _MANIFEST))
    for name in _plain_names(manifest.get("files")):
        try:  # a name already moved (a commit finished twice) is skipped
            os.replace(os.path.join(staging, name), os.path.join(directory, name))
        except FileNotFoundError:
            pass
    for name in _plain_names(manifest.get("remove")):
        try:
            os.remove(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    _fsync(directory)
    shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def staged_directory(out_dir: str | os.PathLike, replace: bool = False):
    """Yields a new sibling directory of `out_dir` to write into; when the
    block ends without an error it is renamed to `out_dir`.

    An empty `out_dir` is replaced by the rename. With `replace`, an earlier
    `out_dir` is moved aside first, deleted only once the new one is in
    place, and put back if the rename fails. On any error (a kill leaves the
    sibling, a hidden `.<name>.<id>.partial`) the staging directory is
    removed and `out_dir` is as it was.
    """
    out_dir = os.path.abspath(os.fspath(out_dir))
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    # Not tempfile.mkdtemp: its 0700 mode would stay on the renamed directory.
    staging = os.path.join(
        parent, f".{os.path.basename(out_dir)}.{uuid.uuid4().hex[:8]}.partial"
    )
    aside = staging.removesuffix(".partial") + ".replaced"
    os.mkdir(staging)
    try:
        yield staging
        if replace and os.path.lexists(out_dir):
            os.replace(out_dir, aside)  # the old one goes once the new is whole
        os.replace(staging, out_dir)
    except BaseException:
        if os.path.lexists(aside) and not os.path.lexists(out_dir):
            os.replace(aside, out_dir)  # put the earlier directory back
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)
