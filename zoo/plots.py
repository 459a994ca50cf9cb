"""Training curves as PNG (matplotlib is an optional extra: ``pip install 'zoo-models[plot]'``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_history(history: dict[str, list[float]], path: Path, title: str = "") -> Path:
    """Accuracy and loss per epoch, train against validation, as course 2 week 1 plots them.

    Raises ImportError when matplotlib is missing (callers turn that into a one-line note).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    metrics = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(5 * max(1, len(metrics)), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=False):
        epochs = range(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return Path(path)


def plot_bench(rows: list[dict[str, Any]], path: Path) -> Path:
    """Validation accuracy against training wall time, one point per benchmark row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        metrics = row.get("metrics", {})
        split = "validation" if "validation" in metrics else "test"
        value = metrics.get(split, {}).get("accuracy")
        if value is None or row.get("train_seconds") is None:
            continue
        ax.scatter(row["train_seconds"], value)
        name = f"{row['entry']} [{row['label']}]" if row.get("label") else row["entry"]  # a sweep point
        ax.annotate(name, (row["train_seconds"], value), fontsize=8)
    ax.set_xlabel("training wall time (s)")
    ax.set_ylabel("accuracy (validation, else test)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return Path(path)
