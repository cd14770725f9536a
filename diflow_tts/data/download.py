"""Downloading LibriTTS (OpenSLR 60) and LibriTTS-R (OpenSLR 141) subsets.

Archives of tens of GB break mid-way: a download continues from the bytes it has (HTTP Range),
the result is checked against the size the server announced, extraction refuses paths that
leave the target folder, and a done marker per subset makes a re-run skip finished work.
"""

import logging
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)

CORPORA = {
    # corpus: (base URL, archive name for a subset, folder the archive extracts to)
    "libritts": ("https://www.openslr.org/resources/60/", "{subset}.tar.gz", "LibriTTS"),
    "libritts_r": ("https://www.openslr.org/resources/141/", "{subset_}.tar.gz", "LibriTTS_R"),
}
SUBSETS = ("dev-clean", "dev-other", "test-clean", "test-other",
           "train-clean-100", "train-clean-360", "train-other-500")
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download that failed or gave a file of the wrong size."""


def _total_size(response, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range")  # 'bytes 100-999/1000'
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) + offset if length is not None else None


def download_file(url: str, destination: str | Path, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``destination``, resuming a partial `<destination>.part`.

    A server that ignores the Range request (answers 200) restarts the file from zero. The
    finished file must have the size the server announced, else `DownloadError`.
    """
    destination = Path(destination)
    if destination.is_file():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except OSError as error:
        if offset and getattr(error, "code", None) == 416:  # nothing left to fetch
            response = None
        else:
            raise DownloadError(f"cannot download {url}: {error}") from error
    if response is not None:
        with response:
            resumed = offset and getattr(response, "status", 200) == 206
            offset = offset if resumed else 0
            total = _total_size(response, offset)
            with part.open("ab" if resumed else "wb") as out, tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True,
                    desc=destination.name, disable=None) as bar:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
            if total is not None and part.stat().st_size != total:
                raise DownloadError(
                    f"{url}: got {part.stat().st_size} bytes of {total}; run again to resume")
    os.replace(part, destination)
    return destination


def safe_extract(archive: str | Path, target: str | Path) -> None:
    """Extract a tar archive, refusing members that would land outside ``target``."""
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")


def archive_url(corpus: str, subset: str, base_url: str | None = None) -> str:
    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}; choose one of {sorted(CORPORA)}")
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}; choose from {SUBSETS}")
    default_base, pattern, _ = CORPORA[corpus]
    name = pattern.format(subset=subset, subset_=subset.replace("-", "_"))
    return (base_url or default_base).rstrip("/") + "/" + name


def download_subset(corpus: str, subset: str, download_dir: str | Path,
                    base_url: str | None = None, keep_archive: bool = False) -> Path:
    """Download and extract one subset; returns the corpus root (holding the subset folder).

    Idempotent: a done marker per subset skips finished work; an interrupted download resumes.
    """
    url = archive_url(corpus, subset, base_url)
    download_dir = Path(download_dir)
    root = download_dir / CORPORA[corpus][2]
    marker = download_dir / f".{corpus}.{subset}.done"
    if marker.is_file():
        log.info("%s %s already downloaded", corpus, subset)
        return root
    archive = download_file(url, download_dir / url.rsplit("/", 1)[1])
    log.info("extracting %s", archive)
    staging = download_dir / f".{corpus}.{subset}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    safe_extract(archive, staging)
    # Move the extracted subset into place only once extraction finished.
    for extracted_root in staging.iterdir():
        for item in extracted_root.iterdir():
            destination = root / item.name
            if item.is_dir() and destination.is_dir():
                shutil.rmtree(destination)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item, destination)
    shutil.rmtree(staging)
    if not keep_archive:
        archive.unlink()
    marker.touch()
    return root
