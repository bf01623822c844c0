"""Log-mel spectrograms in torch (CPU or CUDA, one code path) and their on-disk cache.

The numbers are the official DCASE baseline's: power mel spectrogram as
``librosa.feature.melspectrogram`` computes it (periodic Hann window, centred frames with zero
padding, Slaney mel filters), then ``20 / power * log10(max(S, eps))`` with
``eps = sys.float_info.epsilon``. The seed system's 200 Hz high-pass is applied as a weighting of
the spectrum rather than as a time-domain filter (see `highpass_weights`).

`extract` is the batch entry point: it decodes clips in a thread pool (soundfile releases the
GIL) while the main thread computes batches, and keeps one cache entry per clip under
``cache_dir()/features/<config.key()>/``, keyed by the file's bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import librosa
import numpy as np
import scipy.signal
import torch

from asdcore import audio, checksum
from asdcore.atomic import write_bytes
from asdcore.device import torch_threads
from asdcore.errors import ASDError, DiskFull
from asdcore.paths import cache_dir
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report

log = logging.getLogger(__name__)

# Bump when the computation changes in a way the config does not capture: old cache entries
# then live under another key and are never returned.
ALGORITHM_VERSION = 1
EPS = sys.float_info.epsilon  # the official baseline's floor before the log
HIGHPASS_ORDER = 4
# On CPU a batch is computed a few clips at a time: intermediate tensors above glibc's mmap
# threshold (32 MiB) are fresh mmaps that page-fault on every call, which made a 32-clip batch
# 2-3x slower than the same clips in chunks of this many bytes of complex STFT.
_CPU_CHUNK_BYTES = 4 << 20
# Mel filters per block of the block-sparse mel product (see `_mel_blocks`).
_MEL_BLOCK_FILTERS = 8


@dataclasses.dataclass(frozen=True)
class LogMelConfig:
    """Log-mel front end; the defaults are the seed system's (DCASE.md section 5)."""

    sr: int = audio.SAMPLE_RATE
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 200.0
    fmax: float = 8000.0
    highpass_hz: float | None = 200.0  # None = no high-pass
    seconds: float = 10.0  # clips are repeated or cropped to this length
    power: float = 2.0

    @property
    def n_samples(self) -> int:
        return round(self.seconds * self.sr)

    @property
    def n_frames(self) -> int:
        """Frames of a ``seconds``-long clip (centred framing): 313 for the defaults."""
        return 1 + self.n_samples // self.hop_length

    def key(self) -> str:
        """A stable short hash of the parameters (and the algorithm version), for cache paths."""
        fields = dict(dataclasses.asdict(self), algorithm_version=ALGORITHM_VERSION)
        text = json.dumps(fields, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def highpass_weights(config: LogMelConfig) -> np.ndarray:
    """Per-FFT-bin weights of the power spectrum that apply the configured high-pass.

    ``|H(f)|**power`` of a digital Butterworth high-pass (order 4, cutoff ``highpass_hz``): the
    magnitude effect of running that filter over the waveform, without its phase distortion, at
    no cost (it is folded into the mel filterbank matrix) and with identical numbers on CPU and
    CUDA. All ones when the high-pass is off.
    """
    freqs = np.fft.rfftfreq(config.n_fft, 1.0 / config.sr)
    if config.highpass_hz is None:
        return np.ones_like(freqs)
    sos = scipy.signal.butter(HIGHPASS_ORDER, config.highpass_hz, btype="highpass",
                              fs=config.sr, output="sos")
    _, response = scipy.signal.sosfreqz(sos, worN=freqs, fs=config.sr)
    return np.abs(response) ** config.power


def _mel_blocks(mel_basis: np.ndarray) -> list[tuple[int, int, int, int]]:
    """``(first filter, end filter, first bin, end bin)`` of groups of consecutive mel filters.

    Each triangular filter touches only a few FFT bins, so multiplying each group by just the
    bins it touches gives the dense product's result with an eighth of its work (the dense
    product was about half of the log-mel's CPU time).
    """
    blocks = []
    for first in range(0, len(mel_basis), _MEL_BLOCK_FILTERS):
        end = min(first + _MEL_BLOCK_FILTERS, len(mel_basis))
        bins = np.flatnonzero(mel_basis[first:end].any(axis=0))
        lo, hi = (int(bins[0]), int(bins[-1]) + 1) if bins.size else (0, 0)  # 0 bins: zeros
        blocks.append((first, end, lo, hi))
    return blocks


class LogMel(torch.nn.Module):
    """``forward(wave [B, T] float32) -> log-mel [B, n_mels, frames]`` on the wave's device.

    The high-pass weights are multiplied into the mel filterbank (exactly equivalent, since both
    scale FFT bins), so the mel step is one block-sparse product on the one-sided power
    spectrum (`_mel_blocks`).
    """

    def __init__(self, config: LogMelConfig = LogMelConfig()):
        super().__init__()
        self.config = config
        mel_basis = librosa.filters.mel(sr=config.sr, n_fft=config.n_fft, n_mels=config.n_mels,
                                        fmin=config.fmin, fmax=config.fmax)
        weighted = mel_basis * highpass_weights(config)[None, :]
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.register_buffer("mel_basis", torch.from_numpy(weighted.astype(np.float32)),
                             persistent=False)
        self.mel_blocks = _mel_blocks(weighted)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.device.type == "cpu":
            n_freqs = self.config.n_fft // 2 + 1
            clip_bytes = 8 * n_freqs * (1 + wave.shape[-1] // self.config.hop_length)
            chunk = max(1, _CPU_CHUNK_BYTES // clip_bytes)
            if wave.shape[0] > chunk:
                return torch.cat([self._logmel(part) for part in wave.split(chunk)])
        return self._logmel(wave)

    def _logmel(self, wave: torch.Tensor) -> torch.Tensor:
        c = self.config
        spec = torch.stft(wave, c.n_fft, c.hop_length, window=self.window, center=True,
                          pad_mode="constant", return_complex=True)
        power = spec.real.square() + spec.imag.square()  # |X|^2 without a sqrt
        if c.power != 2.0:
            power = power.pow(c.power / 2.0)
        mel = torch.cat([torch.matmul(self.mel_basis[first:end, lo:hi], power[..., lo:hi, :])
                         for first, end, lo, hi in self.mel_blocks], dim=-2)
        return mel.clamp_(min=EPS).log10_().mul_(20.0 / c.power)


@functools.lru_cache(maxsize=8)
def _module(config: LogMelConfig, device: torch.device) -> LogMel:
    return LogMel(config).to(device).eval()


def logmel(y: np.ndarray, sr: int, config: LogMelConfig = LogMelConfig()) -> np.ndarray:
    """Log-mel [n_mels, frames] of one clip (resampled to ``config.sr`` if needed), on CPU.

    The clip is used at its own length; `extract` fits clips to ``config.seconds`` first.
    """
    y = audio.resample(np.asarray(y, dtype=np.float32), sr, config.sr)
    with torch.inference_mode():
        return _module(config, torch.device("cpu"))(torch.from_numpy(y)[None])[0].numpy()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as torch names it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ASDError("CUDA was asked for, but no CUDA GPU is available.")
    return resolved


class FeatureCache:
    """One file per clip: ``<root>/<hh>/<content hash>.f32``, float32 bytes + SHA-256 digest.

    The folder is keyed by the config, the file by the audio file's bytes, so a renamed or
    copied clip still hits and an edited one misses. A truncated or corrupt entry fails its
    digest check and is deleted; writes are atomic, so deleting the folder is always safe.
    """

    WRITER_THREADS = 4  # each write waits on an fsync (atomic_path); several overlap well
    MAX_PENDING_WRITES = 256

    def __init__(self, config: LogMelConfig):
        self.root = cache_dir() / "features" / config.key()
        self.shape = (config.n_mels, config.n_frames)
        self.entry_size = 4 * self.shape[0] * self.shape[1] + checksum.DIGEST_SIZE
        self._writer = self._new_writer()  # its threads start with the first write
        self._write_slots = threading.BoundedSemaphore(self.MAX_PENDING_WRITES)
        self._disk_full = False

    @staticmethod
    def content_key(path: str | os.PathLike) -> str:
        """SHA-256 of the file's bytes, read in chunks (bounded memory), as 32 hex digits.

        SHA-256 rather than blake2b: with the CPU's SHA extensions it hashes twice as fast here.
        """
        try:
            with open(path, "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256")
        except OSError as exc:
            raise ASDError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        return digest.hexdigest()[:32]

    def entry_path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.f32"

    def get(self, key: str) -> np.ndarray | None:
        path = self.entry_path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        payload = checksum.unseal(data)
        if len(data) != self.entry_size or payload is None:
            log.warning("Deleting corrupt feature cache entry %s", path)
            path.unlink(missing_ok=True)
            return None
        return np.frombuffer(payload, dtype=np.float32).reshape(self.shape)

    def put(self, key: str, features: np.ndarray) -> None:
        """Store an entry; a failed write only costs a recomputation later, so it is logged.
        After a full disk, this cache writes (and warns) no more."""
        if self._disk_full:
            return
        payload = np.ascontiguousarray(features, dtype=np.float32).tobytes()
        try:
            write_bytes(self.entry_path(key), checksum.seal(payload))
        except DiskFull as exc:
            self._disk_full = True
            log.warning("Not caching features any more: %s", exc)
        except OSError as exc:
            log.warning("Could not write feature cache entry %s: %s", self.entry_path(key), exc)

    def put_soon(self, key: str, features: np.ndarray) -> None:
        """`put` in a background thread, so the fsync does not stall the caller.

        Blocks while ``MAX_PENDING_WRITES`` entries are already waiting (bounded memory). Call
        `wait` once the last one is submitted.
        """
        self._write_slots.acquire()
        future = self._writer.submit(self.put, key, features)
        future.add_done_callback(lambda _: self._write_slots.release())

    def wait(self) -> None:
        """Wait until every `put_soon` write has finished."""
        self._writer.shutdown(wait=True)
        self._writer = self._new_writer()

    def _new_writer(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self.WRITER_THREADS, thread_name_prefix="feature-cache")


def extract(paths: Sequence[str | os.PathLike], config: LogMelConfig = LogMelConfig(),
            device: str | torch.device = "auto", batch_size: int = 32, num_workers: int = 2,
            cache: bool = True, progress: ProgressFn | None = None,
            cancel: CancelFn | None = None) -> np.ndarray:
    """Log-mel features of every clip: float32 ``[N, n_mels, n_frames]``, row i for ``paths[i]``.

    Clips are cut or repeated to ``config.seconds`` (`audio.load_clip`). Each of ``num_workers``
    threads takes a whole batch: cache look-ups, decoding of the misses, one batched log-mel on
    ``device``; cache writes go on in background threads. Decoding and torch both release the
    GIL, so the threads run in parallel, and on CUDA the GPU waits for decoding rather than the
    reverse. Cache hits skip decoding entirely. ``progress`` is called after every batch and
    ``cancel`` polled before each one (raising `Cancelled`).
    """
    paths = [Path(p) for p in paths]
    out = np.empty((len(paths), config.n_mels, config.n_frames), dtype=np.float32)
    dev = resolve_device(device)
    module = _module(config, dev)
    store = FeatureCache(config) if cache else None
    batches = [slice(start, min(start + batch_size, len(paths)))
               for start in range(0, len(paths), batch_size)]
    workers = max(1, num_workers)
    pending: deque[Future] = deque()
    with torch_threads(1), ThreadPoolExecutor(workers, thread_name_prefix="logmel") as pool:
        try:
            for b, batch in enumerate(batches):
                # Keep every worker busy plus one batch queued, without decoding far ahead.
                while b + len(pending) < min(len(batches), b + workers + 1):
                    ahead = batches[b + len(pending)]
                    pending.append(pool.submit(_extract_batch, paths[ahead], config, module,
                                               dev, store))
                check_cancel(cancel)
                out[batch] = pending.popleft().result()
                report(progress, batch.stop, len(paths), "log-mel features")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            if store is not None:
                store.wait()
    return out


def _extract_batch(paths: list[Path], config: LogMelConfig, module: LogMel, device: torch.device,
                   store: FeatureCache | None) -> np.ndarray:
    out = np.empty((len(paths), config.n_mels, config.n_frames), dtype=np.float32)
    keys = [store.content_key(path) for path in paths] if store is not None else []
    misses = []
    for i in range(len(paths)):
        cached = store.get(keys[i]) if store is not None else None
        if cached is None:
            misses.append(i)
        else:
            out[i] = cached
    if misses:
        waves = np.stack([audio.load_clip(paths[i], config.sr, config.seconds) for i in misses])
        batch = torch.from_numpy(waves)
        if device.type == "cuda":  # from pinned memory the host-to-device copy is asynchronous
            batch = batch.pin_memory().to(device, non_blocking=True)
        with torch.inference_mode():
            out[misses] = module(batch).cpu().numpy()
        if store is not None:
            for i in misses:
                store.put_soon(keys[i], out[i])
    return out
