"""Custom Keras layers written from scratch in ``keras.ops``, one family per module."""
