"""Attacks on federated learning, as reusable functions (numpy only).

The benchmark (``scripts/bench_attacks.py``), the tests and the demo's malicious
participants use these, so that "a sign-flip attacker" means one thing everywhere.
Two kinds:

- **model attacks** turn the global model (and, for some, the update the attacker would
  honestly have sent) into the weights it submits: :func:`sign_flip`, :func:`boost`,
  :func:`gaussian_noise`, :func:`free_ride`;
- **data attacks** change the attacker's local data, which it then trains on with the
  ordinary :func:`fedledger.ml.training.train_local`: :func:`flip_labels` and
  :func:`poison_with_trigger` (a BadNets backdoor), with :func:`triggered_test_set` and
  :func:`attack_success_rate` to measure the backdoor on a model.

Sample-count inflation needs no function of its own: the attacker trains honestly and
reports ``INFLATION_FACTOR`` times its sample count in ``submitUpdate``.

An update is a participant's full trained weights (not a difference), so every model
attack is expressed on the delta ``update - global`` and returns full weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedledger.ml.architectures import IMAGE_SHAPE, NUM_CLASSES, PIXEL_MAX
from fedledger.ml.datasets import Dataset
from fedledger.ml.evaluation import Evaluation
from fedledger.ml.weights import ModelWeights

#: Factor by which the sign-flip attacker scales its reversed update (Fang et al., 2020).
SIGN_FLIP_SCALE = 5.0
#: Factor by which the boosting attacker scales an honest update (Bhagoji et al., 2019).
BOOST_FACTOR = 10.0
#: Standard deviation of the Gaussian-noise attacker's perturbation of the global model.
NOISE_STD = 0.1
#: Standard deviation of the disguised free-rider's "tiny" noise (Lin et al., 2019).
FREE_RIDER_NOISE_STD = 1e-3
#: How many times its real sample count the inflating participant claims.
INFLATION_FACTOR = 100


def _combine(global_model: ModelWeights, update: ModelWeights, factor: float) -> ModelWeights:
    """``global + factor * (update - global)``, computed in float64, stored as float32."""
    if update.architecture != global_model.architecture:
        raise ValueError(
            f"update is for {update.architecture}, the global model is {global_model.architecture}"
        )
    arrays = tuple(
        (g.astype(np.float64) + factor * (u.astype(np.float64) - g)).astype(np.float32)
        for g, u in zip(global_model.arrays, update.arrays, strict=True)
    )
    return ModelWeights(global_model.architecture, arrays)


def sign_flip(
    global_model: ModelWeights, honest_update: ModelWeights, scale: float = SIGN_FLIP_SCALE
) -> ModelWeights:
    """The honest update reversed and scaled: ``global - scale * (honest - global)``."""
    return _combine(global_model, honest_update, -scale)


def boost(
    global_model: ModelWeights, honest_update: ModelWeights, factor: float = BOOST_FACTOR
) -> ModelWeights:
    """An honest update scaled up ("boosting", "model replacement" without a backdoor):
    ``global + factor * (honest - global)``."""
    return _combine(global_model, honest_update, factor)


def gaussian_noise(
    global_model: ModelWeights, std: float = NOISE_STD, seed: int = 0
) -> ModelWeights:
    """The global model plus independent N(0, std^2) noise on every weight."""
    rng = np.random.default_rng(seed)
    arrays = tuple(
        (a.astype(np.float64) + rng.normal(0.0, std, a.shape)).astype(np.float32)
        for a in global_model.arrays
    )
    return ModelWeights(global_model.architecture, arrays)


def free_ride(global_model: ModelWeights, noise_std: float = 0.0, seed: int = 0) -> ModelWeights:
    """No training: the global model itself, or (``noise_std > 0``) disguised by tiny noise
    so that its bytes and hash differ from the global model's."""
    if noise_std == 0:
        return global_model
    return gaussian_noise(global_model, noise_std, seed)


def flip_labels(dataset: Dataset, shift: int = 1) -> Dataset:
    """Every label shifted by ``shift`` classes (``y -> (y + shift) mod 10``)."""
    if shift % NUM_CLASSES == 0:
        raise ValueError("a shift that is a multiple of 10 leaves every label unchanged")
    labels = ((dataset.labels.astype(np.int64) + shift) % NUM_CLASSES).astype(np.uint8)
    return Dataset(dataset.images, labels)


@dataclass(frozen=True, eq=False)
class Trigger:
    """A pixel pattern stamped onto images at a fixed place (BadNets, Gu et al., 2017).

    ``pattern`` is a uint8 array of grey levels; ``top``/``left`` place its upper left
    corner. Stamping overwrites the covered pixels, zeros of the pattern included.
    """

    pattern: np.ndarray
    top: int
    left: int

    def __post_init__(self) -> None:
        pattern = np.array(self.pattern, dtype=np.uint8)
        height, width = pattern.shape
        if not (
            0 <= self.top <= IMAGE_SHAPE[0] - height and 0 <= self.left <= IMAGE_SHAPE[1] - width
        ):
            raise ValueError(
                f"a {height}x{width} trigger at ({self.top}, {self.left}) leaves the image"
            )
        pattern.flags.writeable = False
        object.__setattr__(self, "pattern", pattern)

    @property
    def pixels(self) -> tuple[tuple[int, int], ...]:
        """(row, column) of every pixel the trigger covers."""
        height, width = self.pattern.shape
        return tuple((self.top + r, self.left + c) for r in range(height) for c in range(width))

    def stamp(self, images: np.ndarray) -> np.ndarray:
        """A copy of ``images`` (uint8, ``(n, 28, 28)``) with the trigger stamped on each."""
        stamped = np.array(images, dtype=np.uint8, copy=True)
        height, width = self.pattern.shape
        stamped[:, self.top : self.top + height, self.left : self.left + width] = self.pattern
        return stamped


#: The BadNets "pattern backdoor" for MNIST: a 3x3 checker of white pixels in the bottom
#: right corner, one pixel in from the edges (Gu et al., 2017, figure 3).
BADNETS_TRIGGER = Trigger(
    pattern=np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.uint8) * PIXEL_MAX,
    top=IMAGE_SHAPE[0] - 4,
    left=IMAGE_SHAPE[1] - 4,
)
#: The class every triggered image is to be classified as (all-to-one backdoor).
BACKDOOR_TARGET = 0
#: Share of its samples the backdoor attacker adds again, triggered and relabelled.
BACKDOOR_POISON_FRACTION = 0.5


def poison_with_trigger(
    dataset: Dataset,
    trigger: Trigger = BADNETS_TRIGGER,
    target: int = BACKDOOR_TARGET,
    fraction: float = BACKDOOR_POISON_FRACTION,
    seed: int = 0,
) -> Dataset:
    """The attacker's training data: all its clean samples plus triggered copies of a
    random ``fraction`` of them, labelled ``target``. Keeping the clean samples keeps the
    main-task accuracy, which is what hides a backdoor from accuracy checks."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(dataset), max(1, round(fraction * len(dataset))), replace=False)
    images = np.concatenate([dataset.images, trigger.stamp(dataset.images[np.sort(chosen)])])
    labels = np.concatenate([dataset.labels, np.full(len(chosen), target, dtype=np.uint8)])
    return Dataset(images, labels)


def triggered_test_set(
    dataset: Dataset, trigger: Trigger = BADNETS_TRIGGER, target: int = BACKDOOR_TARGET
) -> Dataset:
    """The images of ``dataset`` whose true class is not ``target``, with the trigger
    stamped on and their true labels kept: the set the attack success rate is measured on."""
    keep = dataset.labels != target
    return Dataset(trigger.stamp(dataset.images[keep]), dataset.labels[keep])


def attack_success_rate(evaluation: Evaluation, target: int = BACKDOOR_TARGET) -> float:
    """Share of a :func:`triggered_test_set`'s images the model classified as ``target``."""
    hits = sum(row[target] for row in evaluation.confusion)
    return hits / evaluation.total if evaluation.total else 0.0


# --- attacks that use the round's benign updates (Baruch et al. 2019, Xie et al. 2020,
# --- Shejwalkar & Houmansadr 2021). Each returns the malicious *delta* (float64 arrays)
# --- as a function of a scale, so that an adaptive attacker can tune the scale.


def deltas(global_model: ModelWeights, updates: list[ModelWeights]) -> np.ndarray:
    """The updates' changes ``update - global`` as rows of one float64 matrix."""
    base = np.concatenate([a.astype(np.float64).ravel() for a in global_model.arrays])
    return np.stack(
        [np.concatenate([a.astype(np.float64).ravel() for a in u.arrays]) - base for u in updates]
    )


def from_delta(global_model: ModelWeights, delta: np.ndarray) -> ModelWeights:
    """The full weights ``global + delta`` (``delta`` flat, float64), stored as float32."""
    arrays, offset = [], 0
    for array in global_model.arrays:
        size = array.size
        piece = delta[offset : offset + size].reshape(array.shape)
        arrays.append((array.astype(np.float64) + piece).astype(np.float32))
        offset += size
    return ModelWeights(global_model.architecture, tuple(arrays))


def alie_z(clients: int, malicious: int) -> float:
    """ "A little is enough" (Baruch et al., 2019): the z with which ``malicious`` of
    ``clients`` can shift the benign mean per coordinate and stay inside the majority."""
    from statistics import NormalDist

    supporters = clients // 2 + 1 - malicious
    return NormalDist().inv_cdf((clients - supporters) / clients)


def alie(benign: np.ndarray, z: float) -> np.ndarray:
    """``mean - z * std`` per coordinate (the benign deltas as rows)."""
    return benign.mean(axis=0) - z * benign.std(axis=0)


def ipm(benign: np.ndarray, epsilon: float) -> np.ndarray:
    """Inner-product manipulation (Xie et al., 2020): ``-epsilon * mean``."""
    return -epsilon * benign.mean(axis=0)


def _perturbation(benign: np.ndarray) -> np.ndarray:
    """The "inverse standard deviation" direction of Shejwalkar & Houmansadr (2021)."""
    std = benign.std(axis=0)
    norm = float(np.linalg.norm(std))
    return -std / norm if norm else std


def min_max(benign: np.ndarray, gamma_scale: float = 1.0) -> np.ndarray:
    """Min-max (Shejwalkar & Houmansadr, 2021): ``mean + gamma * p`` with the largest gamma
    whose distance to every benign delta stays within the largest benign pairwise
    distance, times ``gamma_scale`` (an adaptive attacker tunes it)."""
    mean, direction = benign.mean(axis=0), _perturbation(benign)
    squared = np.einsum("ij,ij->i", benign, benign)
    pairwise = squared[:, None] + squared[None, :] - 2 * benign @ benign.T
    bound = float(np.sqrt(max(pairwise.max(), 0.0)))

    def fits(gamma: float) -> bool:
        return float(np.linalg.norm(benign - (mean + gamma * direction), axis=1).max()) <= bound

    return mean + gamma_scale * _largest(fits) * direction


def min_sum(benign: np.ndarray, gamma_scale: float = 1.0) -> np.ndarray:
    """Min-sum (Shejwalkar & Houmansadr, 2021): as :func:`min_max`, with the sum of squared
    distances to the benign deltas bounded by the largest such benign sum."""
    mean, direction = benign.mean(axis=0), _perturbation(benign)
    squared = np.einsum("ij,ij->i", benign, benign)
    pairwise = squared[:, None] + squared[None, :] - 2 * benign @ benign.T
    bound = float(np.maximum(pairwise, 0).sum(axis=1).max())

    def fits(gamma: float) -> bool:
        return (
            float((np.linalg.norm(benign - (mean + gamma * direction), axis=1) ** 2).sum()) <= bound
        )

    return mean + gamma_scale * _largest(fits) * direction


def _largest(fits: object, start: float = 10.0, steps: int = 30) -> float:
    """The largest gamma >= 0 with ``fits(gamma)``, by doubling then bisection."""
    assert callable(fits)
    low, high = 0.0, start
    while fits(high) and high < 1e6:
        low, high = high, 2 * high
    for _ in range(steps):
        middle = (low + high) / 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


#: A trigger the oracles' validation images do light: a 4x4 white square in the middle of
#: the image, where most digits have ink (the dormant-input check cannot see it).
CENTER_TRIGGER = Trigger(
    pattern=np.full((4, 4), PIXEL_MAX, dtype=np.uint8),
    top=12,
    left=12,
)


#: A colluder's noise on its partner's update, relative to the step's mean magnitude: enough
#: to change every byte, far too little to look like another training (docs/security.md).
COLLUDER_NOISE_RELATIVE = 0.05


def noisy_copy(
    global_model: ModelWeights, update: ModelWeights, relative: float, seed: int
) -> ModelWeights:
    """``update`` plus Gaussian noise of ``relative`` times the mean magnitude of its step
    from ``global_model`` (the colluder's copy of a partner's plaintext)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for u, g in zip(update.arrays, global_model.arrays, strict=True):
        scale = relative * float(np.mean(np.abs(u.astype(np.float64) - g)))
        arrays.append((u + rng.normal(0.0, scale, u.shape)).astype(np.float32))
    return ModelWeights(update.architecture, tuple(arrays))
