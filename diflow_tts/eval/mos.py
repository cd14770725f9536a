"""MOS proxies: predicted naturalness from models bundled in their PyPI wheels.

- DistillMOS (`distillmos`): a small convolutional transformer distilled from an XLS-R MOS
  predictor; one score, 1-5.
- DNSMOS P.835 (`speechmos`, ONNX): signal (SIG), background (BAK) and overall (OVRL) quality,
  plus the P.808 overall score. It rates noise suppression quality, so it is mostly a check that
  synthesized speech carries no codec noise or artifacts.
Both run at 16 kHz; neither has seen this toolkit's outputs, so they are proxies, not listeners.
"""

import contextlib
import io

import torch

from diflow_tts.optional import require

MOS_RATE = 16_000


class DistillMOS:
    name = "distillmos"

    def __init__(self, device: str = "cpu") -> None:
        distillmos = require("distillmos", "distillmos", "the DistillMOS score")
        with contextlib.redirect_stdout(io.StringIO()):  # it prints where its weights came from
            self._model = distillmos.ConvTransformerSQAModel().to(device).eval()
        self._device = device

    @torch.inference_mode()
    def score(self, wav_16k: torch.Tensor) -> dict[str, float]:
        return {"distillmos": float(self._model(wav_16k.float()[None].to(self._device))[0])}


class DNSMOS:
    name = "dnsmos"

    def __init__(self) -> None:
        require("onnxruntime", "onnxruntime", "DNSMOS")
        self._dnsmos = require("speechmos.dnsmos", "speechmos", "DNSMOS")

    def score(self, wav_16k: torch.Tensor) -> dict[str, float]:
        audio = wav_16k.float().clamp(-1.0, 1.0).numpy()
        result = self._dnsmos.run(audio, MOS_RATE)
        return {"dnsmos_ovrl": float(result["ovrl_mos"]), "dnsmos_sig": float(result["sig_mos"]),
                "dnsmos_bak": float(result["bak_mos"]), "dnsmos_p808": float(result["p808_mos"])}
