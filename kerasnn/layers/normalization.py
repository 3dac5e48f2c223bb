"""Batch normalization written from scratch in ``keras.ops``, and two variants of it.

Course notes, section "Batch Normalization" (Algorithm 1, the batch-normalizing transform). For a
mini-batch ``B = {x_1..x_m}`` of one unit (after ``Dense``) or one filter (after ``Conv``)::

    mu_B      = 1/m * sum_i x_i
    sigma2_B  = 1/m * sum_i (x_i - mu_B)**2
    x_hat_i   = (x_i - mu_B) / sqrt(sigma2_B + epsilon)
    y_i       = gamma * x_hat_i + beta

In training the batch statistics are used and folded into moving averages,
``moving = moving * momentum + batch * (1 - momentum)``; at inference ("test time, the global
mean / stddev are used") the moving averages replace ``mu_B`` and ``sigma2_B``.

- ``BatchNormalization``: the transform above, with the argument names, defaults, weight layout
  (``gamma, beta, moving_mean, moving_variance``) and update rule of
  ``keras.layers.BatchNormalization``.
- ``GhostBatchNormalization``: the statistics of each *virtual* sub-batch of
  ``virtual_batch_size`` examples normalize that sub-batch (Hoffer et al., 2017).
- ``TimeStepBatchNormalization``: for sequences, "in RNN the values are found for each time step":
  one set of statistics per time step (Cooijmans et al., 2016), padded steps masked out.
"""

import keras
from keras import ops

from kerasnn import arguments

_MASK_EPSILON = 1e-7  # keras.backend.epsilon(): keeps the masked mean defined for empty masks


def _check_renorm_clipping(value):
    """``renorm_clipping`` as a dict of bounds (Keras' checks; their phrases kept in messages)."""
    clipping = dict(value or {})
    keys = ("rmax", "rmin", "dmax")
    invalid = sorted(set(clipping) - set(keys))
    if invalid:
        raise ValueError(
            "Argument `renorm_clipping` must be a dict with keys among 'rmax', 'rmin', 'dmax' "
            f"(Received invalid keys {invalid}). Received: renorm_clipping={value!r}"
        )
    rmax, rmin, dmax = (clipping.get(k) for k in keys)
    if rmax is not None and rmin is not None and rmax < rmin:
        raise ValueError(
            "Argument `renorm_clipping` must have rmax >= rmin (rmax should be greater than "
            f"rmin). Received: renorm_clipping={value!r}"
        )
    if dmax is not None and dmax < 0:
        raise ValueError(
            "Argument `renorm_clipping` must have dmax >= 0 (dmax should be non-negative). "
            f"Received: renorm_clipping={value!r}"
        )
    return clipping


@keras.saving.register_keras_serializable(package="kerasnn")
class BatchNormalization(keras.layers.Layer):
    """Batch normalization (course notes, "Batch Normalization", Algorithm 1).

    Normalizes each feature (the ``axis`` dimension: a unit after ``Dense``, a filter after
    ``Conv2D``) with the mean and variance over all the other axes of the batch::

        y = gamma * (x - mu_B) / sqrt(sigma2_B + epsilon) + beta

    In training (``training=True`` and ``trainable``), ``mu_B`` and ``sigma2_B`` (biased variance)
    come from the batch and update the moving statistics::

        moving_mean     = moving_mean * momentum + mu_B * (1 - momentum)
        moving_variance = moving_variance * momentum + sigma2_B * (1 - momentum)

    At inference the moving statistics replace the batch ones. A frozen layer
    (``trainable=False``) always runs in inference mode, as in Keras.

    Drop-in compatible with ``keras.layers.BatchNormalization``: same arguments and defaults, same
    weights in the same order (``gamma``, ``beta``, ``moving_mean``, ``moving_variance``; gamma or
    beta absent when ``scale``/``center`` is False), so ``set_weights(keras_bn.get_weights())``
    gives the same outputs. Statistics are computed in float32, also under ``mixed_float16``.

    Batch renormalization (``renorm=True``; Ioffe, 2017) keeps the training-time output close to
    the inference-time one by correcting the batch statistics towards moving ones ``mu_r``,
    ``sigma_r`` (the ``renorm_mean`` and ``renorm_stddev`` weights)::

        sigma_B = sqrt(sigma2_B + epsilon)
        r = clip(sigma_B / sigma_r, rmin, rmax)            (no gradient)
        d = clip((mu_B - mu_r) / sigma_r, -dmax, dmax)     (no gradient)
        y = gamma * ((x - mu_B) / sigma_B * r + d) + beta
        mu_r    = mu_r * renorm_momentum + mu_B * (1 - renorm_momentum)
        sigma_r = sigma_r * renorm_momentum + sigma_B * (1 - renorm_momentum)

    and the inference statistics are then tracked as a moving mean and a moving *standard
    deviation* (``moving_stddev``, updated like ``sigma_r`` with ``momentum``), with
    ``moving_variance = max(moving_stddev**2 - epsilon, 0)``. With ``r = 1, d = 0`` this is the
    transform above; inference is unchanged.

    Synchronized statistics (``synchronized=True``, TensorFlow backend): under a
    ``tf.distribute`` strategy the unmasked mean and variance are those of the *global* batch
    (``keras.ops.moments(..., synchronized=True)`` all-reduces the per-replica sums over the
    replicas; tested with a two-replica ``MirroredStrategy``); masked inputs use per-replica
    statistics. Outside a strategy it changes nothing. Unsynchronized (the default), under a
    strategy each replica normalizes its share of the batch with that share's statistics and
    updates its own moving averages, which drift apart between replicas (the first replica's
    are the ones saved); with ``synchronized=True`` two replicas train to within 1.2e-7 of one
    device (``tests/test_distribute.py``, ``kerasnn.distribute``).

    Args:
        axis: integer, the feature axis (``-1`` channels-last, ``1`` after a channels-first conv).
            Must not be the batch axis.
        momentum: momentum of the moving averages, in ``[0, 1]``.
        epsilon: positive float added to the variance.
        center: if True, add the learned offset ``beta``.
        scale: if True, multiply by the learned scale ``gamma``.
        beta_initializer, gamma_initializer: initializers of ``beta`` and ``gamma``.
        moving_mean_initializer, moving_variance_initializer: initializers of the moving stats.
        beta_regularizer, gamma_regularizer: optional regularizers.
        beta_constraint, gamma_constraint: optional constraints.
        synchronized: statistics of the global batch under a ``tf.distribute`` strategy
            (TensorFlow backend only).
        renorm: use batch renormalization in training.
        renorm_clipping: dict with optional keys ``"rmax"``, ``"rmin"``, ``"dmax"`` bounding
            ``r`` and ``|d|`` (no bound when absent).
        renorm_momentum: momentum of ``renorm_mean`` and ``renorm_stddev``, in ``[0, 1]``.
        **kwargs: base layer arguments (``name``, ``dtype``, ``trainable``).

    Call arguments:
        inputs: tensor of rank >= 2.
        training: Python boolean; batch statistics (True) or moving statistics (False/None).
        mask: optional boolean tensor of rank ``rank(inputs) - 1`` broadcastable to the input's
            shape without its *last* axis (Keras' convention, whatever ``axis`` is: a
            ``keras.layers.Masking`` mask); masked-out entries do not contribute to the batch
            statistics. A fully masked batch has mean and variance 0.

    Returns:
        A tensor of the input's shape.

    Example:

    >>> x = keras.random.normal((8, 4, 4, 3))
    >>> y = BatchNormalization(momentum=0.9)(x, training=True)   # per-filter statistics
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = arguments.integer("axis", axis)
        self.momentum = arguments.number_in("momentum", momentum, 0.0, 1.0)
        self.epsilon = arguments.positive_number("epsilon", epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.moving_mean_initializer = keras.initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = keras.initializers.get(moving_variance_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.supports_masking = True
        if synchronized and keras.backend.backend() != "tensorflow":
            raise ValueError(
                "Argument `synchronized` must be False on the "
                f"{keras.backend.backend()} backend (synchronized=True is only supported with "
                f"the TensorFlow backend). Received: synchronized={synchronized!r}"
            )
        self.synchronized = bool(synchronized)
        self.renorm = bool(renorm)
        if self.renorm and not self._supports_renorm:
            raise ValueError(
                f"Argument `renorm` must be False for {type(self).__name__} (batch "
                "renormalization corrects whole-batch statistics). Received: renorm=True"
            )
        self.renorm_clipping = (
            _check_renorm_clipping(renorm_clipping) if self.renorm else renorm_clipping
        )
        self.renorm_momentum = arguments.number_in("renorm_momentum", renorm_momentum, 0.0, 1.0)
        self.gamma = None
        self.beta = None

    # ---------------------------------------------------------------- shapes and validation

    _min_rank = 2
    _supports_renorm = True

    def _feature_axis(self, input_shape):
        """The feature axis as a positive index; ValueError on a bad rank or axis."""
        rank = len(input_shape)
        name = type(self).__name__
        if rank < self._min_rank:
            raise ValueError(
                f"{name} expects an input of rank >= {self._min_rank}. "
                f"Received: input shape {tuple(input_shape)} (rank {rank})"
            )
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"{name}: `axis` is out of range for an input of rank {rank}; expected "
                f"{-rank} <= axis < {rank}. Received: axis={self.axis}, "
                f"input shape {tuple(input_shape)}"
            )
        axis = self.axis % rank
        if axis == 0:
            raise ValueError(
                f"{name}: `axis` must not be the batch axis 0. Received: axis={self.axis} "
                f"for input shape {tuple(input_shape)}"
            )
        return axis

    def _statistics_axes(self, input_shape, feature_axis):
        """Axes the statistics are kept along (not reduced over); the feature axis here."""
        return (feature_axis,)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        feature_axis = self._feature_axis(input_shape)
        channels = input_shape[feature_axis]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} needs a known size along `axis`={self.axis}. "
                f"Received: input shape {input_shape}"
            )
        rank = len(input_shape)
        kept_axes = self._statistics_axes(input_shape, feature_axis)
        statistics_shape = tuple(input_shape[a] for a in kept_axes)
        self._feature_axis_index = feature_axis
        self._reduction_axes = tuple(a for a in range(rank) if a not in kept_axes)
        self._parameter_broadcast = tuple(channels if a == feature_axis else 1 for a in range(rank))
        self._statistics_broadcast = tuple(
            input_shape[a] if a in kept_axes else 1 for a in range(rank)
        )
        if self.scale:
            self.gamma = self.add_weight(
                shape=(channels,),
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                trainable=True,
                autocast=False,
            )
        if self.center:
            self.beta = self.add_weight(
                shape=(channels,),
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                trainable=True,
                autocast=False,
            )
        self.moving_mean = self.add_weight(
            shape=statistics_shape,
            name="moving_mean",
            initializer=self.moving_mean_initializer,
            trainable=False,
            autocast=False,
        )
        self.moving_variance = self.add_weight(
            shape=statistics_shape,
            name="moving_variance",
            initializer=self.moving_variance_initializer,
            trainable=False,
            autocast=False,
        )
        if self.renorm:
            # The inference statistics are tracked as a moving stddev, and the renorm ones as a
            # mean and a stddev; each stddev starts at sqrt(moving_variance_initializer).
            variance_initializer = self.moving_variance_initializer

            def stddev_initializer(shape, dtype=None):
                return ops.sqrt(variance_initializer(shape, dtype=dtype))

            for name, initializer in (
                ("moving_stddev", stddev_initializer),
                ("renorm_mean", self.moving_mean_initializer),
                ("renorm_stddev", stddev_initializer),
            ):
                weight = self.add_weight(
                    shape=statistics_shape,
                    name=name,
                    initializer=initializer,
                    trainable=False,
                    autocast=False,
                )
                setattr(self, name, weight)
        self.input_spec = keras.layers.InputSpec(
            ndim=rank, axes={a: input_shape[a] for a in kept_axes}
        )

    def compute_output_shape(self, input_shape):
        self._feature_axis(input_shape)
        return tuple(input_shape)

    # ---------------------------------------------------------------- the transform

    def _moments(self, inputs, mask, axes):
        """Batch mean and (biased) variance over ``axes``, keeping dims; ``mask`` selects entries.

        Returns ``(mean, variance, count)``; ``count`` (entries per statistic) is None unmasked.
        """
        if mask is None and self.synchronized:
            return (*ops.moments(inputs, axes, keepdims=True, synchronized=True), None)
        if mask is None:
            mean = ops.mean(inputs, axis=axes, keepdims=True)
            # d(variance)/d(mean) is zero, so the mean needs no gradient path through the variance.
            deviation = inputs - ops.stop_gradient(mean)
            variance = ops.mean(ops.square(deviation), axis=axes, keepdims=True)
            return mean, variance, None
        weights = ops.cast(mask, inputs.dtype)
        count = ops.sum(weights, axis=axes, keepdims=True)
        mean = ops.sum(inputs * weights, axis=axes, keepdims=True) / (count + _MASK_EPSILON)
        deviation = (inputs - ops.stop_gradient(mean)) * weights
        variance = ops.sum(ops.square(deviation), axis=axes, keepdims=True) / (
            count + _MASK_EPSILON
        )
        return mean, variance, count

    def _normalize(self, inputs, mean, variance, parameter_shape=None, correction=None):
        """``gamma * ((x - mean) / sqrt(variance + epsilon) * r + d) + beta``, one multiply-add.

        ``correction`` is batch renormalization's ``(r, d)``; None means ``r = 1, d = 0``.
        """
        parameter_shape = parameter_shape or self._parameter_broadcast
        gamma = (
            ops.reshape(ops.cast(self.gamma, inputs.dtype), parameter_shape)
            if self.scale
            else None
        )
        multiplier = ops.rsqrt(variance + self.epsilon)
        if correction is not None:
            multiplier = multiplier * correction[0]
        if gamma is not None:
            multiplier = multiplier * gamma
        offset = -mean * multiplier
        if correction is not None:
            offset = offset + (correction[1] * gamma if gamma is not None else correction[1])
        if self.center:
            offset = offset + ops.reshape(ops.cast(self.beta, inputs.dtype), parameter_shape)
        return inputs * multiplier + offset

    def _expand_mask(self, mask, inputs):
        """The mask (Keras' convention: the input's shape without its last axis, or broadcastable
        to it) broadcast to the input's shape."""
        if mask is None:
            return None
        if len(mask.shape) != len(inputs.shape) - 1:
            raise ValueError(
                f"{type(self).__name__}: the mask must have one dimension less than the inputs "
                f"(Keras' convention: no last axis). Received: mask.shape={tuple(mask.shape)}, "
                f"inputs.shape={tuple(inputs.shape)}"
            )
        return ops.broadcast_to(ops.expand_dims(ops.cast(mask, "bool"), -1), ops.shape(inputs))

    def _moving_statistics(self, dtype):
        mean = ops.reshape(ops.cast(self.moving_mean, dtype), self._statistics_broadcast)
        variance = ops.reshape(ops.cast(self.moving_variance, dtype), self._statistics_broadcast)
        return mean, variance

    def _update_moving_statistics(self, mean, variance):
        mean = ops.reshape(mean, self.moving_mean.shape)
        variance = ops.reshape(variance, self.moving_variance.shape)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
        )

    def _training_transform(self, inputs, mask):
        """Normalizes with batch statistics; returns (outputs, mean, variance) for the update."""
        mean, variance, _ = self._moments(inputs, mask, self._reduction_axes)
        return self._normalize(inputs, mean, variance), mean, variance

    def _renorm_transform(self, inputs, mask):
        """Batch renormalization (see the class docstring); updates every moving statistic."""
        mean, variance, _ = self._moments(inputs, mask, self._reduction_axes)
        stddev = ops.sqrt(variance + self.epsilon)
        shape = self._statistics_broadcast
        renorm_mean = ops.reshape(ops.cast(self.renorm_mean, inputs.dtype), shape)
        renorm_stddev = ops.reshape(ops.cast(self.renorm_stddev, inputs.dtype), shape)
        # A zero-initialized sigma_r would divide by zero early in training.
        safe_stddev = ops.maximum(renorm_stddev, self.epsilon**0.5)
        r = stddev / safe_stddev
        d = (mean - renorm_mean) / safe_stddev
        clipping = self.renorm_clipping
        if clipping.get("rmin") is not None:
            r = ops.maximum(r, clipping["rmin"])
        if clipping.get("rmax") is not None:
            r = ops.minimum(r, clipping["rmax"])
        if clipping.get("dmax") is not None:
            d = ops.clip(d, -clipping["dmax"], clipping["dmax"])
        correction = (ops.stop_gradient(r), ops.stop_gradient(d))
        outputs = self._normalize(inputs, mean, variance, correction=correction)

        def moving_average(weight, value, momentum):
            value = ops.reshape(value, weight.shape)
            weight.assign(weight * momentum + value * (1.0 - momentum))

        moving_average(self.renorm_mean, mean, self.renorm_momentum)
        moving_average(self.renorm_stddev, stddev, self.renorm_momentum)
        moving_average(self.moving_mean, mean, self.momentum)
        moving_average(self.moving_stddev, stddev, self.momentum)
        self.moving_variance.assign(ops.relu(ops.square(self.moving_stddev) - self.epsilon))
        return outputs

    def call(self, inputs, training=None, mask=None):
        # Statistics in float32 at least: float16 overflows on sums of squares.
        inputs = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mask = self._expand_mask(mask, inputs)
        if training and self.trainable and self.renorm:
            outputs = self._renorm_transform(inputs, mask)
        elif training and self.trainable:
            outputs, mean, variance = self._training_transform(inputs, mask)
            self._update_moving_statistics(mean, variance)
        else:
            mean, variance = self._moving_statistics(inputs.dtype)
            outputs = self._normalize(inputs, mean, variance)
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        config = {
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": serialize(self.beta_initializer),
            "gamma_initializer": serialize(self.gamma_initializer),
            "moving_mean_initializer": serialize(self.moving_mean_initializer),
            "moving_variance_initializer": serialize(self.moving_variance_initializer),
            "beta_regularizer": serialize(self.beta_regularizer),
            "gamma_regularizer": serialize(self.gamma_regularizer),
            "beta_constraint": serialize(self.beta_constraint),
            "gamma_constraint": serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasnn")
class GhostBatchNormalization(BatchNormalization):
    """Ghost batch normalization: batch normalization over virtual sub-batches.

    The batch of ``n`` examples is split, in order, into ``n / virtual_batch_size`` virtual
    ("ghost") batches; in training each one is normalized with its own mean and variance (the
    "Batch Normalization" transform of the course notes applied to a smaller mini-batch, which
    adds regularizing noise when training with large batches; Hoffer et al., 2017). The moving
    statistics are updated with the average over the virtual batches of their means and
    variances. At inference the layer is exactly ``BatchNormalization``. With
    ``virtual_batch_size`` equal to the batch size (or None) it equals ``BatchNormalization``.

    Args:
        virtual_batch_size: positive integer dividing the training batch size, or None
            (the whole batch).
        All other arguments as ``BatchNormalization``.

    Call arguments:
        inputs, training, mask: as ``BatchNormalization``. In training, the batch size must be a
            multiple of ``virtual_batch_size`` (ValueError when the batch size is known when
            tracing; an error from the reshape otherwise).

    Returns:
        A tensor of the input's shape.

    Example:

    >>> x = keras.random.normal((32, 10))
    >>> y = GhostBatchNormalization(virtual_batch_size=8)(x, training=True)   # 4 ghost batches
    """

    _supports_renorm = False

    def __init__(self, virtual_batch_size=None, **kwargs):
        super().__init__(**kwargs)
        self.virtual_batch_size = arguments.positive_int(
            "virtual_batch_size", virtual_batch_size, allow_none=True
        )

    def _training_transform(self, inputs, mask):
        if self.virtual_batch_size is None:
            return super()._training_transform(inputs, mask)
        size = self.virtual_batch_size
        batch = inputs.shape[0]
        if batch is not None and batch % size:
            raise ValueError(
                f"GhostBatchNormalization: `virtual_batch_size` must divide the batch size. "
                f"Received: virtual_batch_size={size}, batch size {batch}"
            )
        shape = ops.shape(inputs)
        ghost_shape = (-1, size) + tuple(shape[1:])
        grouped = ops.reshape(inputs, ghost_shape)
        if mask is not None:
            mask = ops.reshape(mask, (-1, size) + tuple(ops.shape(mask)[1:]))
        # Axis k of the input is axis k + 1 of the grouped tensor; axis 0 indexes ghost batches.
        axes = tuple(a + 1 for a in self._reduction_axes)
        mean, variance, _ = self._moments(grouped, mask, axes)
        outputs = self._normalize(grouped, mean, variance, (1,) + self._parameter_broadcast)
        outputs = ops.reshape(outputs, shape)
        return outputs, ops.mean(mean, axis=0), ops.mean(variance, axis=0)

    def get_config(self):
        return {**super().get_config(), "virtual_batch_size": self.virtual_batch_size}


@keras.saving.register_keras_serializable(package="kerasnn")
class TimeStepBatchNormalization(BatchNormalization):
    """Batch normalization with separate statistics for each time step of a sequence.

    Course notes, "Batch Normalization": "In RNN the values are found for each time step". For an
    input ``x[b, t, ..., c]`` (batch, time, features), the statistics of time step ``t`` are the
    mean and variance over the batch (and any axes other than time and ``axis``)::

        mu_t    = mean_b x[b, t]          sigma2_t = mean_b (x[b, t] - mu_t)**2
        y[b, t] = gamma * (x[b, t] - mu_t) / sqrt(sigma2_t + epsilon) + beta

    ``gamma`` and ``beta`` (one per feature) are shared by all steps, as in recurrent batch
    normalization (Cooijmans et al., 2016); ``moving_mean`` and ``moving_variance`` have shape
    ``(time_steps, features)``, so the number of time steps must be known when the layer is built.

    Masking: padded steps (mask False, e.g. from ``Embedding(mask_zero=True)`` or ``Masking``) do
    not count in the statistics. A time step padded in every sequence of the batch is normalized
    with, and leaves unchanged, its moving statistics. The mask is passed on to the next layer.

    Args:
        axis: the feature axis (default -1); must not be the batch axis 0 or the time axis 1.
        All other arguments as ``BatchNormalization``.

    Call arguments:
        inputs: tensor ``(batch, time_steps, ..., features)`` of rank >= 3.
        training: Python boolean, batch statistics (True) or moving statistics.
        mask: optional boolean tensor, the input's shape without the last axis (Keras'
            convention), typically ``(batch, time_steps)``.

    Returns:
        A tensor of the input's shape.

    Example:

    >>> x = keras.random.normal((16, 5, 8))            # 16 sequences of 5 steps
    >>> y = TimeStepBatchNormalization()(x, training=True)
    """

    _min_rank = 3
    _supports_renorm = False

    def _feature_axis(self, input_shape):
        axis = super()._feature_axis(input_shape)
        if axis == 1:
            raise ValueError(
                f"TimeStepBatchNormalization: `axis` must not be the time axis 1. "
                f"Received: axis={self.axis} for input shape {tuple(input_shape)}"
            )
        return axis

    def _statistics_axes(self, input_shape, feature_axis):
        if input_shape[1] is None:
            raise ValueError(
                "TimeStepBatchNormalization needs a known number of time steps (axis 1) to "
                f"create its per-step statistics. Received: input shape {tuple(input_shape)}"
            )
        return (1, feature_axis)

    def _training_transform(self, inputs, mask):
        mean, variance, count = self._moments(inputs, mask, self._reduction_axes)
        if count is not None:
            # A step padded everywhere has no batch statistics: keep the moving ones.
            has_data = count > 0
            moving_mean, moving_variance = self._moving_statistics(inputs.dtype)
            mean = ops.where(has_data, mean, moving_mean)
            variance = ops.where(has_data, variance, moving_variance)
        return self._normalize(inputs, mean, variance), mean, variance
