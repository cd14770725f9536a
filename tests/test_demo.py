"""The gradio demo on a tiny random bundle: its API through gradio_client, 20 clients at once, the
queue bound, and a real headless browser (Debian's chromium through playwright)."""

import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from diflow_tts.audio import audio_info, save_audio
from tests.conftest import speech_like

gr = pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")
gradio_client = pytest.importorskip("gradio_client")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def tts(random_bundle):
    from diflow_tts.api import DiFlowTTS

    return DiFlowTTS.from_pretrained(random_bundle, device="cpu")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "reference.wav"
    save_audio(path, speech_like(4.0), 24_000)
    return path


def _serve(tts, limits):
    from diflow_tts.demo.app import build_demo

    demo = build_demo(tts, limits)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size=limits.max_file_size)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def served(tts):
    from diflow_tts.demo.app import DemoLimits

    demo, url = _serve(tts, DemoLimits(queue_size=32))
    yield url
    demo.close()


def _request(reference, text="Hello there, this is a test.", seed=7, steps=2):
    return (gradio_client.handle_file(str(reference)), "", text, None, steps, "teacher", seed, 1.0, 0.3)


def test_the_demo_answers_through_its_api(served, reference):
    client = gradio_client.Client(served, verbose=False)
    audio, used, seed, info = client.predict(*_request(reference), api_name="/synthesize")
    assert seed == 7 and "real-time factor" in info
    rate, frames = audio_info(audio)
    assert rate == 24_000 and frames > 0
    assert audio_info(used)[1] > 3 * 24_000  # the reference as used, about 4 s
    with pytest.raises(Exception, match="upload or record a reference"):
        client.predict(None, "", "Hello.", None, 2, "teacher", 1, 1.0, 0.3, api_name="/synthesize")
    with pytest.raises(Exception, match="type a text"):
        client.predict(*_request(reference, text="   "), api_name="/synthesize")


def test_twenty_clients_at_once_get_their_own_results(served, reference):
    texts = [f"Request number {n} asks for this sentence." for n in range(20)]

    def one(n):
        client = gradio_client.Client(served, verbose=False)
        return client.predict(*_request(reference, text=texts[n], seed=100 + n), api_name="/synthesize")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert [seed for _, _, seed, _ in results] == [100 + n for n in range(20)], "none lost, none mixed up"
    assert all(audio_info(audio)[1] > 0 for audio, *_ in results)


def test_the_queue_turns_visitors_away_beyond_its_bound(tts, reference):
    from diflow_tts.demo.app import DemoLimits

    demo, url = _serve(tts, DemoLimits(queue_size=2))
    try:
        client = gradio_client.Client(url, verbose=False)
        jobs = [client.submit(*_request(reference, seed=n, steps=8), api_name="/synthesize")
                for n in range(10)]
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(job.result(timeout=120)[2])
            except Exception as error:  # the client raises what the queue answered
                outcomes.append(str(error))
    finally:
        demo.close()
    served_seeds = [outcome for outcome in outcomes if isinstance(outcome, (int, float))]
    refused = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert refused and all("queue" in message.lower() for message in refused)
    assert served_seeds and set(served_seeds) <= set(range(10))


def test_a_real_browser_clones_a_voice(served, reference, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (tools/setup_env.sh installs it with the dev "
                    "extra)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(served)
            page.locator("#reference input[type=file]").set_input_files(str(reference))
            page.locator("#text textarea").fill("A browser asked for this sentence.")
            page.locator("#synthesize").click()
            try:  # the result has arrived when its summary and the seed used are shown
                page.get_by_text("real-time factor").wait_for(timeout=90_000)
                assert page.locator("#seed-used input").input_value() == "0"
                # the player shows a length once it has loaded the audio
                page.wait_for_function("/0:0[1-9]|0:[1-5][0-9]|[1-9]:[0-5][0-9]/.test("
                                       "document.querySelector('#output').innerText)", timeout=30_000)
            finally:
                page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "demo.png").stat().st_size > 10_000


@pytest.mark.parametrize("change, message", [
    ({"reference": "silent"}, "is silent"),
    ({"text": "word " * 500}, "speaks up to 2000"),
    ({"speed": 0.0}, "less than minimum value 0.5"),  # the slider's own bound, checked by gradio
])
def test_visitor_mistakes_are_one_clear_error(served, reference, tmp_path, change, message):
    silent = tmp_path / "silent.wav"
    save_audio(silent, speech_like(4.0) * 0, 24_000)
    request = list(_request(reference))
    if change.get("reference") == "silent":
        request[0] = gradio_client.handle_file(str(silent))
    if "text" in change:
        request[2] = change["text"]
    if "speed" in change:
        request[7] = change["speed"]
    with pytest.raises(Exception, match=message):
        gradio_client.Client(served, verbose=False).predict(*request, api_name="/synthesize")


def test_uploads_over_the_size_limit_are_refused(tts, reference):
    from diflow_tts.demo.app import DemoLimits

    demo, url = _serve(tts, DemoLimits(max_file_size="50kb"))  # the 4 s reference is 192 kB
    try:
        with pytest.raises(Exception, match="exceeds the maximum file size of 51200 bytes"):
            gradio_client.Client(url, verbose=False).predict(*_request(reference), api_name="/synthesize")
    finally:
        demo.close()
