"""2-D maps of clip embeddings (UMAP, or PCA as the instant fallback), cached on disk.

Embeddings are compared by cosine distance (as the scorers do), so rows are scaled to unit
length before either method. A map is cached in ``cache/projections/`` under a key of the
vectors' content, the method and the seed: a map already computed comes back in milliseconds,
in any process. Each entry carries a digest: a damaged one (truncated, a flipped bit, not the
map's size) is detected and the map computed again.

umap-learn compiles numba code when imported and on its first fit (about 30 s each on a busy
2-core machine, a few seconds once numba's cache exists), so it is imported only inside the
functions here; `warm_up` pays that cost ahead of time (the app runs it in a background thread
when the server starts).
"""

from __future__ import annotations

import hashlib
import logging
import threading

import numpy as np
from sklearn.decomposition import PCA

from asdcore import atomic, checksum
from asdcore.errors import ASDError
from asdcore.paths import cache_dir
from asdcore.progress import ProgressFn, report

log = logging.getLogger(__name__)

METHODS = ("umap", "pca")
_VERSION = "1"  # bump when the computation changes, so old maps are not reused
_warmed = threading.Event()


def cache_path(vectors: np.ndarray, method: str, seed: int = 0):
    digest = hashlib.sha256()
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    digest.update(f"{_VERSION}:{method}:{seed}:{array.shape}".encode())
    digest.update(array.tobytes())
    return cache_dir() / "projections" / f"{method}-{digest.hexdigest()[:32]}.f32"


def is_cached(vectors: np.ndarray, method: str, seed: int = 0) -> bool:
    return cache_path(vectors, method, seed).is_file()


def project(vectors: np.ndarray, method: str = "umap", seed: int = 0,
            progress: ProgressFn | None = None) -> np.ndarray:
    """``[n, 2]`` map coordinates of the ``[n, dims]`` embeddings (cached on disk)."""
    if method not in METHODS:
        raise ASDError(f"Unknown projection {method!r}; choose one of {', '.join(METHODS)}.")
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) < 3:
        raise ASDError("A map needs at least three embedding vectors.")
    path = cache_path(vectors, method, seed)
    cached = _read_cached(path, len(vectors))
    if cached is not None:
        return cached
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    if method == "pca":
        points = _pca(unit, 2, seed)
    else:
        report(progress, 0, 2, "loading UMAP" if not _warmed.is_set() else "")
        umap = _import_umap()
        report(progress, 1, 2, f"fitting UMAP on {len(unit)} clips")
        # Neighbourhoods on a 50-D PCA of the vectors: as good and much faster than raw dims.
        reduced = _pca(unit, 50, seed) if unit.shape[1] > 50 else unit
        points = umap.UMAP(n_components=2, n_neighbors=min(15, len(unit) - 1),
                           random_state=seed, n_jobs=1).fit_transform(reduced)
    points = np.ascontiguousarray(points, dtype=np.float32)
    atomic.write_bytes(path, checksum.seal(points.tobytes()))
    report(progress, 2, 2, "map ready")
    return points


def _read_cached(path, n_points: int) -> np.ndarray | None:
    """The cached map at ``path``, or None when there is none; a damaged entry (its digest does
    not match: truncated, a flipped bit, garbage, empty) or one that is not ``n_points`` finite
    points is deleted and rebuilt."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        log.warning("Deleting unreadable projection cache entry %s: %s", path, err)
        path.unlink(missing_ok=True)
        return None
    payload = checksum.unseal(data)
    points = None
    if payload is not None and len(payload) == 8 * n_points:
        points = np.frombuffer(payload, dtype=np.float32).reshape(n_points, 2).copy()
    if points is None or not np.isfinite(points).all():
        log.warning("Deleting damaged projection cache entry %s", path)
        path.unlink(missing_ok=True)
        return None
    return points


def _pca(vectors: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    n = min(n_components, vectors.shape[1], len(vectors))
    points = PCA(n_components=n, random_state=seed).fit_transform(vectors)
    if points.shape[1] < n_components and n_components == 2:  # one-dimensional data: pad
        points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
    return points


def _import_umap():
    try:
        import umap
    except ImportError:
        raise ASDError("UMAP maps need the umap-learn package (pip install -r "
                       "requirements.txt); PCA works without it.") from None
    return umap


def umap_ready() -> bool:
    """True once `warm_up` has finished in this process (UMAP maps then take seconds)."""
    return _warmed.is_set()


def warm_up() -> bool:
    """Import umap-learn and fit a small map, so its numba code is compiled before a user
    asks for a map. Returns False when umap-learn is not installed."""
    try:
        umap = _import_umap()
    except ASDError:
        return False
    points = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    umap.UMAP(n_components=2, n_neighbors=10, random_state=0, n_jobs=1).fit_transform(points)
    _warmed.set()
    return True
