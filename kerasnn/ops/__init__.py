"""Backend-agnostic operations (``keras.ops``) that are not layers."""
