"""`get_config` entries from a layer's constructor settings."""

import keras


def settings_config(layer, names) -> dict:
    """`{name: layer.<name>}` for each of `names`, Keras objects serialized.

    A layer that stores each constructor argument under its own name (the
    Keras convention) returns `{**super().get_config(), **settings_config(
    self, SETTINGS)}` from `get_config`, and `from_config` rebuilds it.
    """
    config = {}
    for name in names:
        value = getattr(layer, name)
        if isinstance(value, keras.initializers.Initializer):
            value = keras.initializers.serialize(value)
        config[name] = value
    return config
