"""``tf.distribute`` strategies for ``--distribute``: one model trained on several devices or hosts.

- ``none``: no strategy (one device).
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's GPUs (its logical CPUs
  when it has none): one replica of the model per device; each batch of ``--batch-size``
  examples (the *global* batch) is split among the replicas and their gradients are summed, so
  the run computes what one device computes with the same batch (up to rounding), except batch
  normalization (below).
- ``multi-worker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the hosts ``TF_CONFIG``
  lists (every host runs the same command); the chief (``chief`` task, else worker 0) writes
  the run directory.

``activate(strategy)`` makes the strategy current for the rest of the process: every model built
afterwards (by a recipe, in every tuner trial) is built in its scope, also after
``keras.backend.clear_session()`` (Keras' own resets TensorFlow's default graph, which holds the
strategy: ``activate`` wraps it to set the strategy again).

Batch normalization under a strategy: each replica normalizes its own share of the batch with
that share's statistics and keeps its own moving averages (``moving_mean`` and
``moving_variance`` are not aggregated across replicas), so the replicas' moving statistics
drift apart and the saved ones are the first replica's. ``BatchNormalization(
synchronized=True)`` uses the statistics of the global batch instead (all-reduced across the
replicas), which keeps the replicas identical and equal to one device.

Keras 3.15's ``fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585): its
shape-only build all-reduces the first batch across workers, and its logs are reduced along an
axis 0 that scalars lack. ``make_strategy("multi-worker")`` applies a workaround (the first local
replica's batch for the build; scalars reduced with ``axis=None``) only while the installed Keras
still has that code (``needs_keras_20585_workaround``).
"""

import contextlib
import functools
import inspect

import keras

STRATEGIES = ("none", "mirrored", "multi-worker")

_active = None  # the strategy of ``activate``


def make_strategy(name):
    """The ``tf.distribute`` strategy of ``--distribute name`` (``None`` for ``"none"``).

    Raises:
        ValueError: an unknown name, or a strategy on a backend other than TensorFlow.
    """
    if name not in STRATEGIES:
        from kerasnn import arguments

        arguments.fail("name", "one of " + ", ".join(map(repr, STRATEGIES)), name)
    if name == "none":
        return None
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"--distribute {name} needs the TensorFlow backend (KERAS_BACKEND={backend}); on JAX "
            "use keras.distribution (see the README, 'When one machine is not enough')"
        )
    import tensorflow as tf  # tf.distribute has no keras.ops equivalent

    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if needs_keras_20585_workaround():
        apply_keras_20585_workaround()
    return tf.distribute.MultiWorkerMirroredStrategy()


def activate(strategy):
    """Make ``strategy`` (or ``None``: no strategy) current for the rest of the process."""
    global _active
    if strategy is None and _active is None:
        return  # nothing to undo (and no TensorFlow to load on another backend)
    import tensorflow as tf

    if tf.distribute.has_strategy():
        tf.distribute.experimental_set_strategy(None)
    _active = strategy
    if strategy is not None:
        tf.distribute.experimental_set_strategy(strategy)
        _keep_strategy_across_clear_session()


def _keep_strategy_across_clear_session():
    clear_session = keras.backend.clear_session
    if getattr(clear_session, "keeps_strategy", False):
        return

    @functools.wraps(clear_session)
    def clear_session_keeping_strategy(*args, **kwargs):
        result = clear_session(*args, **kwargs)
        if _active is not None:
            import tensorflow as tf

            if not tf.distribute.has_strategy():
                tf.distribute.experimental_set_strategy(_active)
        return result

    clear_session_keeping_strategy.keeps_strategy = True
    keras.backend.clear_session = clear_session_keeping_strategy
    keras.utils.clear_session = clear_session_keeping_strategy


def scope(strategy):
    """``strategy.scope()``, or a context that does nothing for ``None``."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def is_writer(strategy):
    """Whether this process writes the run's files: always without a strategy or under
    ``mirrored``; under ``multi-worker`` only the chief (``chief`` task, else worker 0)."""
    return strategy is None or bool(strategy.extended.should_checkpoint)


def task_id(strategy):
    """This host's task index under ``multi-worker`` (0 otherwise)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0)


# --- keras-team/keras#20585 -----------------------------------------------------------------------


def _keras_trainer():
    from keras.src.backend.tensorflow import trainer

    return trainer


def needs_keras_20585_workaround():
    """Whether the installed Keras still has the code of keras-team/keras#20585: the symbolic
    build reduces a per-replica batch across workers, and logs are reduced along axis 0."""
    trainer = _keras_trainer()
    build = inspect.getsource(trainer.TensorFlowTrainer._maybe_symbolic_build)
    reduce = inspect.getsource(trainer.reduce_per_replica)
    return ('self.distribute_strategy.reduce(' in build
            and 'strategy.reduce("MEAN", v, axis=0)' in reduce)


def apply_keras_20585_workaround():
    """Patch Keras' TensorFlow trainer so ``fit`` runs under ``MultiWorkerMirroredStrategy``:
    the shape-only build takes the first local replica's batch (no cross-worker reduction), and
    scalar logs are reduced with ``axis=None``. Idempotent."""
    trainer = _keras_trainer()
    if getattr(trainer.reduce_per_replica, "kerasnn_20585", False):
        return
    import tensorflow as tf
    from keras.src import tree

    original_reduce = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):

            def mean(value):
                rank = strategy.experimental_local_results(value)[0].shape.rank
                return strategy.reduce("MEAN", value, axis=0 if rank else None)

            return tree.map_structure(mean, values)
        return original_reduce(values, strategy, reduction)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, batches in iterator:
                batch = next(batches)
                data_batch = tree.map_structure(
                    lambda value: self.distribute_strategy.experimental_local_results(value)[0]
                    if isinstance(value, tf.distribute.DistributedValues) else value,
                    batch,
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    reduce_per_replica.kerasnn_20585 = True
    trainer.reduce_per_replica = reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
