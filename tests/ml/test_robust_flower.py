"""The baseline aggregators of :mod:`fedledger.ml.robust` against Flower 1.41.0's on the
same inputs.

Flower runs in its own environment (``.venv-flower``, ``make setup-flower``; its pins
conflict with ours, docs/verification.md) through ``scripts/flower_reference.py``: this
process writes the inputs to a .npz, the Flower environment's python writes Flower's
outputs back, and this process never imports ``flwr``. Without that environment the tests
fail and say to run ``make setup-flower``.

What is compared, and to what precision (``flwr/server/strategy/aggregate.py``; the
reasons are in docs/verification.md):

- ``krum`` vs ``aggregate_krum(results, num_malicious=f, to_keep=0)``: the same update,
  bit for bit. Flower's squared distances are float32 (``np.linalg.norm`` of the float32
  difference, then squared), ours float64; the choice differs only where two scores tie
  to within float32 rounding, pinned by one test below.
- ``coordinate_median`` vs ``aggregate_median``: bit for bit; the one difference (Flower
  averages the two middle values in float32, which overflows to inf when they add up past
  float32's maximum, 3.4e38) is pinned.
- ``trimmed_mean`` vs ``aggregate_trimmed_avg(results, proportiontocut)`` and
  ``weighted_fedavg`` vs ``aggregate`` / ``aggregate_inplace`` (FedAvg's default path):
  the same formula, but Flower sums in the arrays' dtype (float32) where ours sums in
  float64 and rounds once. So: given float64 copies of the inputs, Flower agrees with ours
  to one float32 rounding; given the float32 inputs, to within the error bound of its
  float32 sum.

Flower's median, Krum and trimmed mean ignore ``num_examples``; every case still passes
the claimed sample counts (with inflated ones among them), as a Flower server would.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fedledger.ml import MNIST_CNN, MNIST_MLP, ModelWeights, attacks, robust
from fedledger.ml.weights import initial_weights
from scripts.flower_reference import Case, Outcome, Results, load_results, save_cases

ROOT = Path(__file__).resolve().parents[2]
FLOWER_VENV = ROOT / ".venv-flower"
FLOWER_PYTHON = FLOWER_VENV / "bin" / "python"
FLOWER_SCRIPT = ROOT / "scripts" / "flower_reference.py"
FLOWER_REQUIREMENTS = ROOT / "scripts" / "flower-requirements.txt"

#: Unit roundoff of float32 and float64: one rounding moves a value by at most u * |value|.
U32 = 2.0**-24
U64 = 2.0**-53

#: The benchmark's setting (scripts/bench_attacks.py): 20 clients, 6 of them malicious,
#: Krum with f = 6, trimmed mean cutting 30 % at each end.
CLIENTS = 20
MALICIOUS = (1, 4, 7, 10, 13, 16)
KRUM_F = 6
TRIM = 0.3


@dataclass(frozen=True)
class Inputs:
    """One round's submissions: the updates and the sample counts their clients claim."""

    updates: tuple[ModelWeights, ...]
    counts: tuple[int, ...]

    def arrays(self, dtype: type[np.floating]) -> tuple[tuple[np.ndarray, ...], ...]:
        return tuple(tuple(a.astype(dtype) for a in u.arrays) for u in self.updates)


def _random(count: int, seed: int = 0) -> Inputs:
    """Standard normal weights, each client at its own scale (log-normal, about 0.1x to
    10x), and random claimed sample counts."""
    rng = np.random.default_rng(seed)
    updates = []
    for _ in range(count):
        scale = float(np.exp(rng.normal(0.0, 1.0)))
        arrays = tuple(scale * rng.standard_normal(s) for s in MNIST_CNN.weight_shapes)
        updates.append(ModelWeights(MNIST_CNN.id, arrays))
    return Inputs(tuple(updates), tuple(int(n) for n in rng.integers(1, 5000, count)))


def _attacked_round(attack: str) -> Inputs:
    """A benchmark round on the MLP: 14 honest updates (the global model plus N(0, 0.01²)
    on every weight) and 6 attackers built with :mod:`fedledger.ml.attacks`."""
    rng = np.random.default_rng(1)
    global_model = initial_weights(MNIST_MLP.id, 0)

    def honest() -> ModelWeights:
        arrays = tuple(a + rng.normal(0.0, 0.01, a.shape) for a in global_model.arrays)
        return ModelWeights(MNIST_MLP.id, arrays)

    updates = [honest() for _ in range(CLIENTS)]
    counts = [int(n) for n in rng.integers(1294, 4705, CLIENTS)]
    for k, client in enumerate(MALICIOUS):
        if attack == "mixed":  # two each of sign-flip, boosting and noise
            if k < 2:
                updates[client] = attacks.sign_flip(global_model, updates[client])
            elif k < 4:
                updates[client] = attacks.boost(global_model, updates[client])
            else:
                updates[client] = attacks.gaussian_noise(global_model, seed=k)
        elif attack == "free_riders":  # four return the global model, two disguise it
            noise = 0.0 if k < 4 else attacks.FREE_RIDER_NOISE_STD
            updates[client] = attacks.free_ride(global_model, noise, seed=k)
        elif attack == "inflation":
            counts[client] *= attacks.INFLATION_FACTOR
        else:
            raise ValueError(attack)
    return Inputs(tuple(updates), tuple(counts))


def _points(points: Sequence[Sequence[int]]) -> Inputs:
    """CNN-shaped updates that are zero except for their first coordinates, set to small
    integers: every distance and score is then an exact integer in float32 and float64."""
    updates = []
    for point in points:
        first = np.zeros(MNIST_CNN.weight_shapes[0], np.float32)
        first.flat[: len(point)] = point
        rest = (np.zeros(s, np.float32) for s in MNIST_CNN.weight_shapes[1:])
        updates.append(ModelWeights(MNIST_CNN.id, (first, *rest)))
    return Inputs(tuple(updates), (1,) * len(points))


def _huge(count: int) -> Inputs:
    """Attacker-sized values: normal weights times 1e30 (a pairwise sum stays finite)."""
    base = _random(count, seed=3)
    updates = tuple(
        ModelWeights(MNIST_CNN.id, tuple(a * np.float32(1e30) for a in u.arrays))
        for u in base.updates
    )
    return Inputs(updates, base.counts)


def _overflowing_pair() -> Inputs:
    """Two updates whose first weight is 3e38: their float32 sum overflows."""
    base = _random(2, seed=4)
    updates = []
    for update in base.updates:
        first = update.arrays[0].copy()
        first.flat[0] = 3e38
        updates.append(ModelWeights(MNIST_CNN.id, (first, *update.arrays[1:])))
    return Inputs(tuple(updates), base.counts)


def _clusters() -> Inputs:
    """Three clusters 100 apart: 4 points at squared distance 18 from each other, 3 at 8,
    2 at 2 (each point offset along its own axis). Krum with 1 neighbour (f = 6 of 9)
    picks the pair, with 2 (f = 5) the triple, with 3 (f = 4) the four: a neighbour
    count off by one picks another cluster."""
    points = []
    axis = 1
    for center, size, offset in ((0, 4, 3), (100, 3, 2), (200, 2, 1)):
        for _ in range(size):
            point = [0] * 10
            point[0], point[axis] = center, offset
            points.append(point)
            axis += 1
    return _points(points)


#: Krum's scores on these points (f = 0, so n - 2 = 3 neighbours) tie exactly, 13, 11, 11,
#: 25, 15: ours takes the first of the tied (1); Flower's float32 distances break the tie.
FLOAT32_TIE = ((1, 1, 2), (0, 2, 3), (0, 3, 2), (3, 1, 1), (2, 3, 2))

INPUTS: dict[str, Callable[[], Inputs]] = {
    "random-1": lambda: _random(1, seed=10),
    "random-2": lambda: _random(2, seed=11),
    "random-4": lambda: _random(4, seed=12),
    "random-7": lambda: _random(7, seed=13),
    "random-10": lambda: _random(10, seed=14),
    "random-20": lambda: _random(20, seed=15),
    "random-100": lambda: _random(100, seed=16),
    "huge-8": lambda: _huge(8),
    "attacks-mixed": lambda: _attacked_round("mixed"),
    "attacks-free-riders": lambda: _attacked_round("free_riders"),
    "attacks-inflation": lambda: _attacked_round("inflation"),
    # a far point, then the corners of a square: the four corners' scores tie (9 + 9)
    "square-tie": lambda: _points([(10, 10), (0, 0), (0, 3), (3, 0), (3, 3)]),
    "float32-tie": lambda: _points(FLOAT32_TIE),
    "clusters-9": _clusters,
    "overflow-2": _overflowing_pair,
}


@dataclass(frozen=True)
class Check:
    """One Flower call to compare with ours: ``function`` on ``inputs`` in ``dtype``."""

    function: str
    inputs: str
    dtype: str = "float32"
    num_malicious: int = 0
    proportiontocut: float = 0.0

    @property
    def name(self) -> str:
        parameter = {
            "aggregate_krum": f"f={self.num_malicious}",
            "aggregate_trimmed_avg": f"cut={self.proportiontocut}",
        }.get(self.function, "")
        return "/".join(p for p in (self.function, self.inputs, parameter, self.dtype) if p)


FEDAVG_CHECKS = [
    Check(function, inputs, dtype)
    for function in ("aggregate", "aggregate_inplace")
    for inputs in ("random-1", "random-7", "attacks-mixed", "attacks-inflation")
    for dtype in ("float32", "float64")
]
KRUM_CHECKS = [
    Check("aggregate_krum", inputs, num_malicious=f)
    for inputs, f in (
        ("random-7", 2),
        ("random-7", 0),  # n - 2 neighbours
        ("random-7", 5),  # n - f - 2 = 0: Flower (and ours) use 1 neighbour
        ("random-7", 9),  # n - f - 2 < 0: the same
        ("random-1", 0),  # a single update is chosen
        ("attacks-mixed", KRUM_F),
        ("attacks-free-riders", KRUM_F),  # four identical updates: exact ties
        ("attacks-inflation", KRUM_F),
        ("square-tie", 1),  # exact ties among different updates: the first is chosen
        ("clusters-9", 6),  # 1 neighbour: the pair
        ("clusters-9", 5),  # 2: the triple
        ("clusters-9", 4),  # 3: the four
    )
]
#: The update Krum must choose where the inputs were built for it, by (inputs, f): the
#: first of the four tied corners; the pair, the triple, the four of the clusters.
KRUM_CHOICES = {
    ("square-tie", 1): 1,
    ("clusters-9", 6): 7,
    ("clusters-9", 5): 4,
    ("clusters-9", 4): 0,
}
MEDIAN_CHECKS = [
    Check("aggregate_median", inputs)
    for inputs in (
        "random-1",
        "random-2",  # even: the mean of the two middle values
        "random-7",
        "random-20",
        "huge-8",
        "attacks-mixed",
        "attacks-free-riders",
    )
]
TRIMMED_CHECKS = [
    Check("aggregate_trimmed_avg", inputs, dtype, proportiontocut=cut)
    for inputs, cut in (
        ("random-7", TRIM),  # 0.3 * 7 = 2.1: cut 2 at each end
        ("random-20", TRIM),  # 6, the benchmark's
        ("random-100", 0.29),  # 0.29 * 100 = 28.999999999999996 in floats: cut 28
        ("random-10", 0.25),  # 2.5: cut 2
        ("random-4", 0.49),  # 1.96: cut 1
        ("random-7", 0.0),  # no cut: the plain mean
        ("attacks-mixed", TRIM),
        ("attacks-free-riders", TRIM),
    )
    for dtype in ("float32", "float64")
]
#: Trim fractions both refuse (a cut must be in [0, 0.5)).
REFUSED_CUTS = [0.5, 0.7, -0.1]
DIFFERENCES = [
    Check("aggregate_krum", "float32-tie", num_malicious=0),
    Check("aggregate_median", "overflow-2"),
]
REFUSALS = [Check("aggregate_trimmed_avg", "random-7", proportiontocut=c) for c in REFUSED_CUTS]
ALL_CHECKS = FEDAVG_CHECKS + KRUM_CHECKS + MEDIAN_CHECKS + TRIMMED_CHECKS + DIFFERENCES + REFUSALS


@dataclass(frozen=True)
class Reference:
    """Every check's inputs and what Flower returned for it."""

    inputs: dict[str, Inputs]
    results: Results

    def __call__(self, check: Check) -> tuple[Inputs, Outcome]:
        return self.inputs[check.inputs], self.results[check.name]


def _pinned_versions() -> dict[str, str]:
    pins = {}
    for line in FLOWER_REQUIREMENTS.read_text().splitlines():
        name, sep, pinned = line.partition("==")
        if sep and not line.startswith("#"):
            pins[name.strip().lower()] = pinned.strip()
    return pins


@pytest.fixture(scope="module")
def flower(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """Every check run once through Flower in its own environment."""
    if not FLOWER_PYTHON.is_file():
        pytest.fail(
            f"Flower's environment {FLOWER_VENV} is missing: run `make setup-flower` "
            f"(a venv with the pins of {FLOWER_REQUIREMENTS.relative_to(ROOT)}; "
            "`make test` does it too)",
            pytrace=False,
        )
    inputs = {name: build() for name, build in INPUTS.items()}
    cases = [
        Case(
            name=check.name,
            function=check.function,
            clients=inputs[check.inputs].arrays(np.dtype(check.dtype).type),
            num_examples=inputs[check.inputs].counts,
            num_malicious=check.num_malicious,
            proportiontocut=check.proportiontocut,
        )
        for check in ALL_CHECKS
    ]
    directory = tmp_path_factory.mktemp("flower")
    save_cases(directory / "cases.npz", cases)
    run = subprocess.run(
        [str(FLOWER_PYTHON), str(FLOWER_SCRIPT), "cases.npz", "results.npz"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0:
        pytest.fail(f"{FLOWER_SCRIPT.name} failed:\n{run.stderr}", pytrace=False)
    results = load_results(directory / "results.npz")
    pins = _pinned_versions()
    stale = [
        f"{k} {v} (pinned: {pins.get(k)})" for k, v in results.versions.items() if pins.get(k) != v
    ]
    if stale:
        pytest.fail(
            f"{FLOWER_VENV.name} is not what {FLOWER_REQUIREMENTS.name} pins: "
            f"{', '.join(stale)}; run `make setup-flower`",
            pytrace=False,
        )
    return Reference(inputs, results)


def _arrays(outcome: Outcome) -> tuple[np.ndarray, ...]:
    assert outcome.error is None, f"Flower refused {outcome.name}: {outcome.error}"
    assert outcome.arrays is not None
    return outcome.arrays


def _flower_weights(outcome: Outcome, architecture: str) -> ModelWeights:
    """Flower's float32 output as weights (compared bit for bit by ``==``)."""
    arrays = _arrays(outcome)
    assert all(a.dtype == np.float32 for a in arrays), [a.dtype for a in arrays]
    return ModelWeights(architecture, arrays)


def _assert_within(
    ours: ModelWeights, theirs: Sequence[np.ndarray], bounds: Iterator[np.ndarray], what: str
) -> None:
    for layer, (mine, other, bound) in enumerate(zip(ours.arrays, theirs, bounds, strict=True)):
        gap = np.abs(mine.astype(np.float64) - other.astype(np.float64))
        worst = int(np.argmax(gap - bound))
        assert np.all(gap <= bound), (
            f"{what}, layer {layer}: |ours - Flower| = {gap.flat[worst]:.3g} at {worst} "
            f"exceeds the bound {bound.flat[worst]:.3g}"
        )


def _rounding_bounds(
    ours: ModelWeights, terms: int, scales: Iterator[np.ndarray], dtype: str
) -> Iterator[np.ndarray]:
    """How far apart Flower's result and ours may be, per coordinate, when both evaluate
    the same sum of ``terms`` terms and divide it; ``scales`` is the sum of the terms'
    magnitudes over the divisor.

    - float32 inputs: Flower rounds each of its ``terms`` products or additions and the
      division in float32, ours rounds once: ``terms + 2`` roundings of at most
      ``U32 * scale`` each, plus 2 more for the second-order terms.
    - float64 inputs: before the final rounding both are within ``(terms + 4) * U64 *
      scale`` of the exact value; ours is then rounded to float32, and two values that
      close round to float32 values at most one float32 spacing apart.
    """
    for mine, scale in zip(ours.arrays, scales, strict=True):
        if dtype == "float32":
            yield (terms + 4) * U32 * scale
        else:
            yield np.spacing(np.abs(mine)).astype(np.float64) + 2 * (terms + 4) * U64 * scale


def test_flower_runs_in_its_own_pinned_environment(flower: Reference) -> None:
    assert flower.results.versions["flwr"] == "1.41.0"
    # Bit-for-bit claims assume both sides run the same numpy (np.median, np.sort...).
    assert flower.results.versions["numpy"] == np.__version__, (
        f"pin numpy=={np.__version__} in {FLOWER_REQUIREMENTS.name}, as in constraints.txt"
    )
    assert "flwr" not in sys.modules


@pytest.mark.parametrize("check", FEDAVG_CHECKS, ids=lambda c: c.name)
def test_weighted_fedavg_matches_flowers_aggregate(flower: Reference, check: Check) -> None:
    inputs, outcome = flower(check)
    ours = robust.weighted_fedavg(inputs.updates, inputs.counts)
    total = sum(inputs.counts)
    stacked = zip(*(u.arrays for u in inputs.updates), strict=True)
    scales = (
        sum(n * np.abs(a.astype(np.float64)) for n, a in zip(inputs.counts, layer, strict=True))
        / total
        for layer in stacked
    )
    theirs = [a.astype(np.float32) for a in _arrays(outcome)]
    bounds = _rounding_bounds(ours, len(inputs.updates), scales, check.dtype)
    _assert_within(ours, theirs, bounds, check.name)
    assert all(a.dtype == np.dtype(check.dtype) for a in _arrays(outcome))


@pytest.mark.parametrize("check", KRUM_CHECKS, ids=lambda c: c.name)
def test_krum_chooses_the_update_flower_chooses(flower: Reference, check: Check) -> None:
    inputs, outcome = flower(check)
    ours = robust.krum(inputs.updates, check.num_malicious)
    theirs = _flower_weights(outcome, ours.architecture)
    chosen = [i for i, u in enumerate(inputs.updates) if u == theirs]
    assert chosen, "Flower returned none of the updates"
    assert ours == theirs, (
        f"ours chose update {inputs.updates.index(ours)}, Flower one equal to {chosen}"
    )
    expected = KRUM_CHOICES.get((check.inputs, check.num_malicious))
    if expected is not None:
        assert inputs.updates.index(ours) == expected


@pytest.mark.parametrize("check", MEDIAN_CHECKS, ids=lambda c: c.name)
def test_median_equals_flowers_bit_for_bit(flower: Reference, check: Check) -> None:
    inputs, outcome = flower(check)
    ours = robust.coordinate_median(inputs.updates)
    assert ours == _flower_weights(outcome, ours.architecture)


@pytest.mark.parametrize("check", TRIMMED_CHECKS, ids=lambda c: c.name)
def test_trimmed_mean_matches_flowers_trimmed_avg(flower: Reference, check: Check) -> None:
    inputs, outcome = flower(check)
    ours = robust.trimmed_mean(inputs.updates, check.proportiontocut)
    count = len(inputs.updates)
    kept = count - 2 * int(check.proportiontocut * count)
    # every kept value is at most the largest magnitude of its coordinate
    scales = (
        np.max(np.abs(np.stack(layer).astype(np.float64)), axis=0)
        for layer in zip(*(u.arrays for u in inputs.updates), strict=True)
    )
    theirs = [a.astype(np.float32) for a in _arrays(outcome)]
    _assert_within(ours, theirs, _rounding_bounds(ours, kept, scales, check.dtype), check.name)


@pytest.mark.parametrize("check", REFUSALS, ids=lambda c: c.name)
def test_trimmed_mean_refuses_the_cuts_flower_refuses(flower: Reference, check: Check) -> None:
    inputs, outcome = flower(check)
    assert outcome.error is not None and "Proportion to cut" in outcome.error
    with pytest.raises(ValueError, match="cannot trim"):
        robust.trimmed_mean(inputs.updates, check.proportiontocut)


def test_krum_ties_flower_breaks_by_float32_rounding(flower: Reference) -> None:
    """The one known difference in Krum: Flower squares ``np.linalg.norm`` of the float32
    difference, so a squared distance that is not a perfect square (2, 3, 5, ...) comes
    back rounded; exactly tied scores made of different distances then differ by that
    rounding. Ours keeps them exact and takes the first, as ``argmin`` on exact scores."""
    inputs, outcome = flower(DIFFERENCES[0])
    points = [np.array(p) for p in FLOAT32_TIE]
    neighbours = len(points) - 2
    scores = [
        sum(sorted(int(np.sum((p - q) ** 2)) for j, q in enumerate(points) if j != i)[:neighbours])
        for i, p in enumerate(points)
    ]
    assert scores == [13, 11, 11, 25, 15]
    assert inputs.updates.index(robust.krum(inputs.updates, 0)) == 1
    assert _flower_weights(outcome, MNIST_CNN.id) == inputs.updates[2]


def test_median_of_values_beyond_half_float32_max_differs_from_flower(flower: Reference) -> None:
    """The one known difference in the median: for an even count Flower averages the two
    middle float32 values in float32, so ``(a + b) / 2`` overflows to inf when ``a + b``
    exceeds float32's maximum (3.4e38); ours averages in float64. Elsewhere: bit for bit."""
    inputs, outcome = flower(DIFFERENCES[1])
    ours = robust.coordinate_median(inputs.updates)
    theirs = [a.copy() for a in _arrays(outcome)]
    assert ours.arrays[0].flat[0] == np.float32(3e38)
    assert np.isinf(theirs[0].flat[0])
    theirs[0].flat[0] = ours.arrays[0].flat[0]
    assert ours == ModelWeights(ours.architecture, tuple(theirs))
