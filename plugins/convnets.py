"""Course 1 week 4 / course 2: the horses-or-humans ConvNet.

Five Conv2D(3×3) → MaxPool(2) blocks with 16/32/64/64/64 filters, Flatten, Dense(512, relu),
and the task's head (``Dense(1, sigmoid)`` on a binary dataset). Blocks, filters, the dense
width and dropout are params, so smaller inputs (the 100×100 derived copy) or other image sets
are catalogue settings.
"""
from __future__ import annotations

from typing import Any

import zoo
from zoo_plugins.model_parts import accepts_conv_blocks, build_conv_stack, pick_filters

CONVNET_PARAMS: dict[str, Any] = {
    "filters": [16, 32, 64, 64, 64], "conv_blocks": 5, "kernel_size": 3, "pool_size": 2,
    "dense_units": 512, "dropout": 0.0,
}


def build_convnet(input_shape: tuple[int, ...], num_classes: int, task: str = "binary", *,
                  filters: Any = (16, 32, 64, 64, 64), conv_blocks: int = 5, kernel_size: int = 3,
                  pool_size: int = 2, dense_units: int = 512, dropout: float = 0.0) -> Any:
    """``conv_blocks`` × (Conv2D → MaxPool) → Flatten → Dense(``dense_units``) → head.

    ``filters`` is one count for every block or a list (its first ``conv_blocks`` are used).
    """
    return build_conv_stack(
        input_shape, num_classes, task, filters=pick_filters(filters, int(conv_blocks)),
        kernel_size=kernel_size, pool_size=pool_size, dense_units=dense_units, dropout=dropout, name="convnet",
    )


@zoo.hookimpl
def register_architectures(register):
    register(
        "convnet",
        build_convnet,
        description="5 × (Conv2D 16/32/64/64/64, 3×3 → MaxPool 2) → Flatten → Dense(512) → task head "
                    "(course 1 week 4, horses or humans).",
        params=dict(CONVNET_PARAMS),
        tags=("course1", "course2", "cnn"),
        tasks=("binary", "multiclass"),
        accepts=accepts_conv_blocks,
    )
