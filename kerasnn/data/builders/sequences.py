"""`kerasnn_sequences`: embedded sequence problems for "Recurrent Neural Networks" and "LSTM".

Configurations (each example is a ``"sequence"`` of shape ``(T, channels)`` and a ``"target"``):

- ``adding_50``, ``adding_100``, ``adding_200`` -- the adding problem at length ``T``: channel 0
  holds values drawn from ``U(0, 1)``, channel 1 marks two positions (one in the first half of
  the sequence, one in the second); the target is the sum of the two marked values. The
  target's variance is ``2 / 12 = 1/6``, so predicting the constant mean 1 gives ``MSE = 1/6``:
  the floor no memory-less model beats (``ADDING_CONSTANT_MSE``).
- ``future_tagging`` -- one-hot symbols from an alphabet of ``K`` (``TAGGING.num_symbols``);
  the label at step ``t`` is the symbol at step ``t + d`` (``TAGGING.delay``). Symbols are
  independent, so a unidirectional model (which has seen only steps ``<= t``) is at chance
  ``1/K``; a bidirectional one can be exact. The labels of the last ``d`` steps are symbols
  beyond the end of the sequence (unknowable for both): score the first ``T - d`` steps.
- ``ar_process`` -- a stationary autoregressive process AR(2) (``AR_COEFFICIENTS``, Gaussian
  noise of variance ``AR_NOISE_VARIANCE``), "Autoregressive Models";
- ``linear_dynamics`` -- a linear-Gaussian dynamic system (a damped rotation of a hidden 2-D
  state seen through a noisy projection), "Dynamic Systems" / "Linear Dynamic Systems".

For the last two, the sequence is ``y_1 .. y_T`` (one channel) and the target at step ``t`` is
the next value ``y_{t+1}``. Both are linear-Gaussian state-space models ``z_{t+1} = A z_t + w``,
``y_t = C z_t + v`` started from their stationary distribution, so the Kalman filter
(``kalman_predictions``) gives the optimal one-step predictions and ``optimal_mse`` their
expected squared error: the best achievable error of the "memoryless vs dynamic" comparison.
For the AR process the Kalman prediction is exactly ``phi_1 y_t + phi_2 y_{t-1}`` once two
values are seen.

Every split is drawn from its own seed ``(config seed, split)``, so every machine builds the same
data; nothing is downloaded.
"""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

SPLITS = ("train", "validation", "test")
SPLIT_SIZES = (2000, 500, 500)

# Variance of a sum of two independent U(0, 1) values: the MSE of the constant predictor.
ADDING_CONSTANT_MSE = 1.0 / 6.0

AR_COEFFICIENTS = (1.5, -0.75)  # roots of z^2 - 1.5 z + 0.75 have modulus 0.87: stable, oscillating
AR_NOISE_VARIANCE = 0.1
DYNAMICS_LENGTH = 64


@dataclasses.dataclass(frozen=True)
class TaggingSpec:
    length: int = 24
    num_symbols: int = 4
    delay: int = 3


TAGGING = TaggingSpec()


@dataclasses.dataclass(frozen=True)
class LinearGaussianSystem:
    """``z_{t+1} = A z_t + w_t``, ``w ~ N(0, Q)``; ``y_t = C z_t + v_t``, ``v ~ N(0, R)``."""

    transition: np.ndarray  # A, (n, n)
    observation: np.ndarray  # C, (1, n)
    process_noise: np.ndarray  # Q, (n, n)
    observation_noise: float  # R (scalar observations)

    def stationary_covariance(self):
        """``P`` with ``P = A P A^T + Q`` (the discrete Lyapunov equation, solved exactly)."""
        a, q = self.transition, self.process_noise
        n = a.shape[0]
        vec = np.linalg.solve(np.eye(n * n) - np.kron(a, a), q.reshape(-1))
        return vec.reshape(n, n)


def ar_system(coefficients=AR_COEFFICIENTS, noise_variance=AR_NOISE_VARIANCE):
    """AR(p) ``y_t = sum_k phi_k y_{t-k} + e_t`` as a state space over ``(y_t, .., y_{t-p+1})``."""
    p = len(coefficients)
    transition = np.zeros((p, p))
    transition[0] = coefficients
    transition[1:, :-1] = np.eye(p - 1)
    process_noise = np.zeros((p, p))
    process_noise[0, 0] = noise_variance
    observation = np.eye(1, p)
    return LinearGaussianSystem(transition, observation, process_noise, 0.0)


def dynamics_system(radius=0.95, angle=0.3, process_variance=0.05, observation_variance=0.1):
    """A damped rotation of a hidden 2-D state, observed through its first coordinate plus noise."""
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return LinearGaussianSystem(
        radius * rotation, np.array([[1.0, 0.0]]), process_variance * np.eye(2),
        observation_variance,
    )


SYSTEMS = {"ar_process": ar_system(), "linear_dynamics": dynamics_system()}


def simulate(system, num_examples, length, rng):
    """``num_examples`` observation series ``y_1 .. y_length`` from the stationary distribution."""
    n = system.transition.shape[0]
    state = rng.multivariate_normal(np.zeros(n), system.stationary_covariance(), num_examples)
    observations = np.empty((num_examples, length))
    for t in range(length):
        noise = rng.normal(0.0, np.sqrt(system.observation_noise), num_examples)
        observations[:, t] = state @ system.observation[0] + noise
        state = state @ system.transition.T + rng.multivariate_normal(
            np.zeros(n), system.process_noise, num_examples
        )
    return observations


def kalman_predictions(system, observations):
    """The optimal one-step predictions ``E[y_{t+1} | y_1 .. y_t]`` for every ``t`` (Kalman filter).

    Args:
        system: a ``LinearGaussianSystem`` started from its stationary distribution.
        observations: ``(batch, T)`` series ``y_1 .. y_T``.

    Returns:
        ``(predictions, variances)``: ``(batch, T)`` predictions of ``y_2 .. y_{T+1}`` and the
        ``(T,)`` variances of their errors (the innovation variances ``C P C^T + R``; the same
        for every series).
    """
    a, c, q, r = (system.transition, system.observation, system.process_noise,
                  system.observation_noise)
    batch, length = observations.shape
    mean = np.zeros((batch, a.shape[0]))  # predicted state z_{t|t-1}
    covariance = system.stationary_covariance()
    predictions, variances = np.empty((batch, length)), np.empty(length)
    for t in range(length):
        innovation_variance = (c @ covariance @ c.T).item() + r
        gain = covariance @ c.T / innovation_variance  # (n, 1)
        mean = mean + (observations[:, t : t + 1] - mean @ c.T) @ gain.T  # filtered z_{t|t}
        covariance = covariance - gain @ c @ covariance
        mean = mean @ a.T  # predicted z_{t+1|t}
        covariance = a @ covariance @ a.T + q
        predictions[:, t] = mean @ c[0]
        variances[t] = (c @ covariance @ c.T).item() + r
    return predictions, variances


def optimal_mse(name, length=DYNAMICS_LENGTH):
    """Expected MSE of the Kalman predictions over ``length`` steps of ``ar_process`` or
    ``linear_dynamics``: the floor of every predictor of the next value."""
    _, variances = kalman_predictions(SYSTEMS[name], np.zeros((1, length)))
    return float(np.mean(variances))


def adding_problem(num_examples, length, rng):
    """``(sequences (N, T, 2), targets (N,))`` of the adding problem."""
    values = rng.uniform(0.0, 1.0, (num_examples, length))
    first = rng.integers(0, length // 2, num_examples)
    second = rng.integers(length // 2, length, num_examples)
    markers = np.zeros((num_examples, length))
    rows = np.arange(num_examples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), targets


def future_tagging(num_examples, rng, spec=TAGGING):
    """``(one-hot sequences (N, T, K), labels (N, T))``: label ``t`` is the symbol at ``t + d``."""
    symbols = rng.integers(0, spec.num_symbols, (num_examples, spec.length + spec.delay))
    one_hot = np.eye(spec.num_symbols)[symbols[:, : spec.length]]
    return one_hot, symbols[:, spec.delay :]


def next_value(system, num_examples, length, rng):
    """``(sequences (N, T, 1), targets (N, T))``: ``y_1 .. y_T`` and ``y_2 .. y_{T+1}``."""
    series = simulate(system, num_examples, length + 1, rng)
    return series[:, :-1, None], series[:, 1:]


@dataclasses.dataclass(frozen=True)
class SequenceSpec:
    kind: str  # adding, future_tagging, ar_process, linear_dynamics
    length: int
    channels: int
    seed: int


class SequencesConfig(tfds.core.BuilderConfig):
    def __init__(self, *, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec


CONFIGS = tuple(
    SequencesConfig(name=f"adding_{length}", spec=SequenceSpec("adding", length, 2, length),
                    description=f"The adding problem at T = {length}; constant-predictor MSE 1/6.")
    for length in (50, 100, 200)
) + (
    SequencesConfig(name="future_tagging",
                    spec=SequenceSpec("future_tagging", TAGGING.length, TAGGING.num_symbols, 7),
                    description="Label at t = symbol at t + 3 (4 symbols, T = 24)."),
    SequencesConfig(name="ar_process",
                    spec=SequenceSpec("ar_process", DYNAMICS_LENGTH, 1, 11),
                    description="AR(2) series; target: the next value."),
    SequencesConfig(name="linear_dynamics",
                    spec=SequenceSpec("linear_dynamics", DYNAMICS_LENGTH, 1, 13),
                    description="Noisy view of a linear-Gaussian system; target: the next value."),
)


def generate(spec, split):
    """All examples of ``split`` as arrays ``(sequences, targets)``, drawn from (seed, split)."""
    num_examples = SPLIT_SIZES[SPLITS.index(split)]
    rng = np.random.default_rng([spec.seed, SPLITS.index(split)])
    if spec.kind == "adding":
        return adding_problem(num_examples, spec.length, rng)
    if spec.kind == "future_tagging":
        return future_tagging(num_examples, rng)
    return next_value(SYSTEMS[spec.kind], num_examples, spec.length, rng)


class KerasnnSequences(tfds.core.GeneratorBasedBuilder):
    """Embedded sequence problems: the adding problem, future tagging, AR and linear dynamics."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = list(CONFIGS)

    def _info(self):
        spec = self.builder_config.spec
        if spec.kind == "adding":
            target = tfds.features.Tensor(shape=(), dtype=np.float32)
        elif spec.kind == "future_tagging":
            target = tfds.features.Tensor(shape=(spec.length,), dtype=np.int64)
        else:
            target = tfds.features.Tensor(shape=(spec.length,), dtype=np.float32)
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "sequence": tfds.features.Tensor(shape=(spec.length, spec.channels),
                                                 dtype=np.float32),
                "target": target,
            }),
            supervised_keys=("sequence", "target"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # generated locally
        return {split: self._generate_examples(split) for split in SPLITS}

    def _generate_examples(self, split):
        spec = self.builder_config.spec
        sequences, targets = generate(spec, split)
        dtype = np.int64 if spec.kind == "future_tagging" else np.float32
        for index, (sequence, target) in enumerate(zip(sequences, targets)):
            yield index, {"sequence": sequence.astype(np.float32), "target": target.astype(dtype)}
