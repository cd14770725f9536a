#!/usr/bin/env python3
"""Log-mel spectrograms of wav files stacked in one PNG, one panel each, on a shared time axis:
how a synthesized sentence compares with its recording.

    python tools/spectrogram.py REC.wav SYNTH.wav --titles "recording" "teacher, 32 steps" --out fig.png
"""

import argparse

import torch
import torchaudio

from diflow_tts.audio import load_audio

RATE = 24_000


def log_mel(path: str) -> torch.Tensor:
    mel = torchaudio.transforms.MelSpectrogram(RATE, n_fft=1024, hop_length=240, n_mels=80)
    return (mel(load_audio(path, RATE)) + 1e-6).log10() * 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wavs", nargs="+")
    parser.add_argument("--titles", nargs="+", help="one per wav (default: the file names)")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args()
    titles = args.titles or args.wavs
    if len(titles) != len(args.wavs):
        parser.error(f"{len(args.wavs)} wavs need {len(args.wavs)} --titles, got {len(titles)}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spectra = [log_mel(path) for path in args.wavs]
    seconds = max(spectrum.shape[1] for spectrum in spectra) * 240 / RATE
    figure, axes = plt.subplots(len(spectra), 1, figsize=(10, 2.4 * len(spectra)), squeeze=False)
    top = max(float(spectrum.max()) for spectrum in spectra)
    for axis, spectrum, title in zip(axes[:, 0], spectra, titles, strict=True):
        axis.imshow(spectrum.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=top - 80,
                    vmax=top, extent=(0, spectrum.shape[1] * 240 / RATE, 0, 80))
        axis.set_xlim(0, seconds)
        axis.set_title(title, fontsize=10)
        axis.set_ylabel("mel bin")
    axes[-1, 0].set_xlabel("seconds")
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
