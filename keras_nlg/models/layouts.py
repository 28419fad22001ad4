"""How the Transformer's weights split over devices: a `keras.distribution.
LayoutMap` for `ModelParallel` (Keras' distribution API, JAX backend).

Megatron-LM's split (Shoeybi et al. 2019, "Megatron-LM", section 3): each
device holds some of the attention heads (the query, key and value kernels
split on their heads axis, the output projection on its input heads axis)
and some of the MLP's hidden units (`mlp_in` split on its outputs, `mlp_out`
on its inputs), so a block needs one all-reduce after attention and one
after the MLP; embeddings and layer norms stay whole. XLA's SPMD
partitioner inserts the collectives from these layouts.
"""

import keras

from keras_nlg.argument_checks import fail


def transformer_layout_map(device_mesh, model_axis: str = "model"):
    """A `LayoutMap` sharding `TransformerLanguageModel` over `model_axis`.

    Args:
        device_mesh: a `keras.distribution.DeviceMesh` with an axis named
            `model_axis` (e.g. shape `(data, model)`, axis names
            `("batch", "model")`). Its size must divide the model's
            `num_heads` and `intermediate_dim`.
        model_axis: the mesh axis the heads and MLP units are split over.

    Returns:
        A `keras.distribution.LayoutMap` for
        `keras.distribution.ModelParallel(layout_map=...)`.

    Raises:
        ValueError: if `device_mesh` has no axis `model_axis`.
    """
    if model_axis not in device_mesh.axis_names:
        fail(
            "model_axis", model_axis, f"be an axis of the mesh {device_mesh.axis_names}"
        )
    m = model_axis
    layout_map = keras.distribution.LayoutMap(device_mesh)
    layout_map[r".*/attention/(query|key|value)/kernel"] = (None, m, None)
    layout_map[r".*/attention/(query|key|value)/bias"] = (m, None)
    layout_map[r".*/attention/attention_output/kernel"] = (m, None, None)
    layout_map[r".*/mlp_in/kernel"] = (None, m)
    layout_map[r".*/mlp_in/bias"] = (m,)
    layout_map[r".*/mlp_out/kernel"] = (m, None)
    return layout_map
