import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from diflow_tts.data.download import DownloadError, archive_url, download_file, download_subset, safe_extract


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves files from `root`, honouring 'Range: bytes=N-'; counts bytes sent."""

    root: Path
    sent: list[int]
    cut_after: int | None = None  # close the connection after this many bytes (once)

    def do_GET(self):
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if type(self).cut_after is not None:
            body = body[: type(self).cut_after]
            type(self).cut_after = None
        self.sent.append(len(body))  # before writing: the client may finish before we return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = type("Handler", (_RangeHandler,), {"root": root, "sent": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()


def _fake_subset_archive(path: Path, top: str, subset: str) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in ((f"{top}/{subset}/19/198/19_198_000000_000000.normalized.txt", b"hi"),
                              (f"{top}/SPEAKERS.txt", b";ID\n19 | F | x | 1 | A\n")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def test_interrupted_download_resumes_from_its_bytes(server, tmp_path):
    root, url, handler = server
    payload = bytes(range(256)) * 4000
    (root / "big.bin").write_bytes(payload)
    handler.cut_after = 300_000
    with pytest.raises(DownloadError, match="run again to resume"):
        download_file(f"{url}/big.bin", tmp_path / "big.bin")
    assert (tmp_path / "big.bin.part").stat().st_size == 300_000
    download_file(f"{url}/big.bin", tmp_path / "big.bin")
    assert (tmp_path / "big.bin").read_bytes() == payload
    assert handler.sent == [300_000, len(payload) - 300_000], "second request fetched only the rest"
    assert not (tmp_path / "big.bin.part").exists()


def test_subset_download_extracts_marks_done_and_skips_on_rerun(server, tmp_path):
    root, url, handler = server
    _fake_subset_archive(root / "dev-clean.tar.gz", "LibriTTS", "dev-clean")
    corpus = download_subset("libritts", "dev-clean", tmp_path / "dl", base_url=url)
    assert (corpus / "dev-clean" / "19" / "198" / "19_198_000000_000000.normalized.txt").read_text() == "hi"
    assert (corpus / "SPEAKERS.txt").is_file()
    assert not (tmp_path / "dl" / "dev-clean.tar.gz").exists(), "archive removed after extraction"
    requests = len(handler.sent)
    download_subset("libritts", "dev-clean", tmp_path / "dl", base_url=url)
    assert len(handler.sent) == requests, "done marker: nothing fetched again"


def test_file_url_works_too(tmp_path):
    source = tmp_path / "train_clean_100.tar.gz"
    _fake_subset_archive(source, "LibriTTS_R", "train-clean-100")
    corpus = download_subset("libritts_r", "train-clean-100", tmp_path / "dl", base_url=tmp_path.as_uri())
    assert corpus.name == "LibriTTS_R" and (corpus / "train-clean-100" / "19").is_dir()


def test_archive_urls():
    assert archive_url("libritts", "train-clean-100") == "https://www.openslr.org/resources/60/train-clean-100.tar.gz"
    assert archive_url("libritts_r", "dev-clean") == "https://www.openslr.org/resources/141/dev_clean.tar.gz"
    with pytest.raises(ValueError, match="unknown subset"):
        archive_url("libritts", "train-clean-999")


def test_extraction_refuses_paths_outside_the_target(tmp_path):
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(tarfile.TarError):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
