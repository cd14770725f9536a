"""The WORLD vocoder (`pyworld`) on the toolkit's frame grid: waveform <-> F0 + coded envelope +
coded aperiodicity, one row per codec frame.

WORLD splits speech along the lines of our factorization: F0 is prosody, the spectral envelope
(CheapTrick) carries content and timbre, band aperiodicity (D4C, or our faster periodicity
measure) carries voicing detail, or all of voicing with ``voicing: aperiodicity`` (continuous
F0: no frame is unvoiced, each band is as noisy as its aperiodicity says). Frame i of every
stream is centred on sample ``i * hop + hop / 2`` and an utterance of N samples has
``ceil(N / hop)`` frames, so these rows line up one to one with the prosody codes and with any
other codec's frames:
- The F0 tracker runs on a grid ``f0_steps_per_frame`` times finer than ours (DIO's voicing
  decisions are tuned for about 5 ms steps: at our 13.3 ms it leaves voiced frames unvoiced, and
  WORLD speech suffers most from exactly that); it places step k at ``k * step``, so with an
  even number of steps per frame our centre i is its step ``i * steps + steps / 2`` (with an odd
  number it analyses the signal from sample ``step / 2`` on). StoneMask, CheapTrick and D4C take
  explicit times and get our centres directly.
- CheapTrick and D4C are WORLD's, batched over frames with torch (`codec/world_cheaptrick.py`,
  `codec/world_d4c.py`: pyworld's values, analysis 2.5x faster); F0 is pyworld's DIO and StoneMask.
- Synthesis (`codec/world_synthesis.py`, ours, vectorized) centres frame k's filter on the same
  sample as the analysis did.
The envelope is reduced by WORLD's own coding (a mel-warped cepstrum-like vector of a few dozen
values) and the aperiodicity to WORLD's bands; those vectors are what the codebooks quantize.
pyworld and torch release the GIL, so callers run utterances in threads.
"""

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from diflow_tts.codec.world_aperiodicity import band_aperiodicity
from diflow_tts.codec.world_cheaptrick import spectral_envelope
from diflow_tts.codec.world_d4c import coded_d4c
from diflow_tts.codec.world_decoding import all_noise_frames, decode_aperiodicity, decode_log_envelope
from diflow_tts.codec.world_synthesis import continuous_f0, synthesize_waveform


@dataclass(frozen=True)
class WorldAnalysisConfig:
    """How speech is analysed and resynthesized (all at ``sample_rate`` with hop ``hop_length``)."""

    sample_rate: int = 24_000
    hop_length: int = 320
    f0_method: Literal["dio", "harvest"] = "dio"
    f0_steps_per_frame: int = 4  # F0 tracker steps per codec frame (3.3 ms at 24 kHz / 320)
    dio_speed: int = 4           # DIO's decimation: 1 is the most accurate, higher is faster
    dio_allowed_range: float = 0.2  # DIO's F0 continuity tolerance: higher marks more frames voiced
    # The F0 tracker's floor: WORLD's own 71 Hz, which is also the lowest F0 CheapTrick resolves
    # with fft_size 1024 at 24 kHz (70.5 Hz). With a 50 Hz floor DIO marked a tenth more frames
    # of real voices voiced, at pitches CheapTrick cannot resolve, and the copies lost 0.17
    # PESQ-WB and 0.018 STOI (docs/RESULTS.md, "The F0 floor").
    f0_floor: float = 71.0
    f0_ceil: float = 600.0
    fft_size: int = 1024         # CheapTrick's analysis window (sets its lowest F0, above)
    # Band aperiodicity: WORLD's "d4c" (world_d4c.py: pyworld's values, 3x faster), or
    # "periodicity" (ours, world_aperiodicity.py: 2.4x faster again, copies about as good;
    # docs/RESULTS.md)
    aperiodicity: Literal["d4c", "periodicity"] = "d4c"
    envelope_dims: int = 40      # coded spectral envelope dimensions (40 measured as good as 60)
    # Where voicing lives. "tracker": frames the F0 tracker finds unvoiced get F0 0 and are
    # synthesized as noise alone, and D4C unvoices more frames by its own test. "aperiodicity":
    # continuous F0, as in continuous-F0 parametric synthesis: F0 interpolated through the
    # tracker's unvoiced stretches, every frame analysed and synthesized as voiced, and the band
    # aperiodicity alone saying how much of each band is noise. Voicing is then graded per band
    # instead of a yes/no per frame that loses onsets, offsets and voiced consonants: the codec's
    # copies' PESQ-WB +0.34 on espeak-ng voices, +0.25 on real ones; analysis a third slower, as
    # D4C then runs on every frame (docs/RESULTS.md, "Continuous F0").
    voicing: Literal["tracker", "aperiodicity"] = "tracker"
    # D4C's own voiced/unvoiced test: a frame whose periodicity score falls under this is made
    # all noise. 0.85 is WORLD's default; with continuous F0 it is the only voicing decision
    # left, and lower keeps more periodicity (copies' PESQ-WB up, DistillMOS down; 0 turns it
    # off). Our "periodicity" estimator has no such test.
    d4c_threshold: float = 0.85
    synthesis_fft_size: int = 1024
    # Added at synthesis to the coded aperiodicity (dB, every band) of voiced frames: frames with
    # a pitch that are not all noise. Unvoiced frames stay all noise, whether the tracker gave
    # them F0 0 or, with continuous F0, D4C's test made them all noise. -6 dB sharpens the
    # codec's copies (PESQ-WB +0.07 on espeak-ng voices, PER -0.006, DistillMOS -0.01) but costs
    # the teacher's outputs 0.07-0.08 DistillMOS (docs/RESULTS.md, "An Intel Xeon"); so 0 by
    # default.
    voiced_aperiodicity_db: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.voiced_aperiodicity_db) and self.voiced_aperiodicity_db <= 0):
            raise ValueError(f"voiced_aperiodicity_db must be a finite number <= 0 (dB of noise taken "
                             f"from voiced frames), got {self.voiced_aperiodicity_db}")
        if not 0.0 <= self.d4c_threshold <= 1.0:
            raise ValueError(f"d4c_threshold must lie in [0, 1] (D4C's periodicity score), "
                             f"got {self.d4c_threshold}")
        if self.hop_length % self.f0_steps_per_frame:
            raise ValueError(f"f0_steps_per_frame ({self.f0_steps_per_frame}) must divide hop_length "
                             f"({self.hop_length})")

    @property
    def frame_period_ms(self) -> float:
        return 1000.0 * self.hop_length / self.sample_rate

    @property
    def aperiodicity_dims(self) -> int:
        import pyworld

        return pyworld.get_num_aperiodicities(self.sample_rate)


@dataclass
class WorldFeatures:
    """One utterance's analysis: F0 [T] in Hz (0 = unvoiced), coded envelope [T, envelope_dims]
    and coded aperiodicity [T, aperiodicity_dims], all float64."""

    f0: np.ndarray
    envelope: np.ndarray
    aperiodicity: np.ndarray


def _fit_frames(values: np.ndarray, num_frames: int) -> np.ndarray:
    """Cut or extend (repeating the last value) an F0 track to ``num_frames`` steps."""
    if len(values) >= num_frames:
        return values[:num_frames]
    return np.concatenate([values, np.full(num_frames - len(values), values[-1] if len(values) else 0.0)])


def analyse(wav: np.ndarray, config: WorldAnalysisConfig) -> WorldFeatures:
    """WORLD analysis of a mono waveform at ``config.sample_rate`` on the codec frame grid."""
    import pyworld

    x = np.ascontiguousarray(wav, dtype=np.float64)
    rate, hop, steps = config.sample_rate, config.hop_length, config.f0_steps_per_frame
    num_frames = math.ceil(len(x) / hop)
    step = hop // steps
    tracked = x[step // 2:] if steps % 2 and len(x) > step else x
    period = 1000.0 * step / rate
    if config.f0_method == "harvest":
        raw, _ = pyworld.harvest(tracked, rate, f0_floor=config.f0_floor, f0_ceil=config.f0_ceil,
                                 frame_period=period)
    else:
        raw, _ = pyworld.dio(tracked, rate, f0_floor=config.f0_floor, f0_ceil=config.f0_ceil,
                             frame_period=period, speed=config.dio_speed,
                             allowed_range=config.dio_allowed_range)
    centres = _fit_frames(raw, (num_frames - 1) * steps + steps // 2 + 1)[steps // 2:: steps]
    times = (np.arange(num_frames) * hop + hop / 2) / rate
    f0 = pyworld.stonemask(x, np.ascontiguousarray(centres), times, rate)
    if config.voicing == "aperiodicity":
        f0 = continuous_f0(f0)
    envelope = spectral_envelope(x, f0, times, rate, config.fft_size)
    if config.aperiodicity == "periodicity":
        aperiodicity = band_aperiodicity(x, f0, times * rate, rate, config.aperiodicity_dims)
    else:
        aperiodicity = coded_d4c(x, f0, times, rate, config.aperiodicity_dims, config.d4c_threshold)
    coded_envelope = pyworld.code_spectral_envelope(envelope, rate, config.envelope_dims)
    return WorldFeatures(f0, coded_envelope, aperiodicity)


def synthesize(f0: np.ndarray, envelope: np.ndarray, aperiodicity: np.ndarray,
               config: WorldAnalysisConfig) -> np.ndarray:
    """Waveform of ``len(f0) * hop`` samples from per-frame F0 (Hz, 0 = unvoiced), coded
    envelope and coded aperiodicity on the codec frame grid (`codec/world_synthesis.py`); voiced
    frames' aperiodicity is offset by ``config.voiced_aperiodicity_db`` first. A frame that is all
    noise stays so: with continuous F0 every frame has a pitch, and an offset there would put
    pulses into silences and unvoiced consonants."""
    rate, fft = config.sample_rate, config.synthesis_fft_size
    f0 = torch.from_numpy(np.asarray(f0, dtype=np.float64))
    aperiodicity = torch.from_numpy(aperiodicity)
    voiced = (f0 > 0) & ~all_noise_frames(aperiodicity)
    aperiodicity = torch.where(voiced[:, None], aperiodicity + config.voiced_aperiodicity_db, aperiodicity)
    wav = synthesize_waveform(f0, decode_log_envelope(torch.from_numpy(envelope), rate, fft),
                              decode_aperiodicity(aperiodicity, rate, fft),
                              config.hop_length, rate)
    return wav.numpy()
