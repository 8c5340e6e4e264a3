"""Draws the two diagrams of the docs: how an action's items flow, and which target to pick.

Run ``python docs/images/diagrams.py`` (needs matplotlib) to write ``item-flow.png`` and
``which-target.png`` next to this file.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

HERE = os.path.dirname(os.path.abspath(__file__))


def box(ax, x, y, text, width=2.4, height=0.8, color="#dbe9f6"):
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.05", fc=color, ec="#2b5d8a"
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def arrow(ax, start, end, label=None):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="#444444"))
    if label:
        ax.text((start[0] + end[0]) / 2 + 0.1, (start[1] + end[1]) / 2, label, fontsize=8, color="#444444")


def item_flow(path: str) -> None:
    figure, ax = plt.subplots(figsize=(10, 3.6))
    box(ax, 1.3, 2, "batch.action(*args)\n(one call)")
    box(ax, 4.0, 2, "init(*args)\none entry per item")
    for k, y in enumerate((3.1, 2.0, 0.9)):
        box(ax, 6.8, y, f"worker {k + 1}: a chunk\nof items, one by one", width=2.3, color="#e8f3e1")
        arrow(ax, (5.2, 2), (5.65, y))
        arrow(ax, (7.95, y), (8.45, 2))
    box(ax, 9.6, 2, "post(results, *args)\nfailures in their slots", width=2.3)
    arrow(ax, (2.5, 2), (2.8, 2))
    where = "threads, async, mpc (processes), dask, or for (a plain loop)"
    ax.text(6.8, 0.15, where, ha="center", fontsize=8)
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 3.7)
    ax.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def which_target(path: str) -> None:
    figure, ax = plt.subplots(figsize=(10, 5.2))
    question = "#fdf0d5"
    box(ax, 2.0, 5.0, "async def?", color=question)
    box(ax, 2.0, 3.8, "items of a few\nmicroseconds?", color=question)
    box(ax, 2.0, 2.6, "mostly waiting\n(files, network)?", color=question)
    box(ax, 2.0, 1.4, "releases the GIL?\n(numpy, @mjit)", color=question)
    box(ax, 2.0, 0.2, "pure Python", color=question)
    answers = [
        (5.0, "async"),
        (3.8, "for (the caller)"),
        (2.6, "threads (or async)"),
        (1.4, "threads"),
        (0.2, "mpc (processes);\ndask beyond one machine"),
    ]
    for y, answer in answers:
        box(ax, 6.2, y, answer, width=3.0, color="#e8f3e1")
        arrow(ax, (3.2, y), (4.7, y), "yes" if y > 0.5 else None)
    for y in (5.0, 3.8, 2.6, 1.4):
        arrow(ax, (2.0, y - 0.42), (2.0, y - 0.78), "no")
    auto = 'target="auto" asks\nthese questions by\nmeasuring the first\nitems, and remembers'
    ax.text(8.4, 2.6, auto, fontsize=9)
    ax.set_xlim(0, 10.5)
    ax.set_ylim(-0.4, 5.6)
    ax.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    item_flow(os.path.join(HERE, "item-flow.png"))
    which_target(os.path.join(HERE, "which-target.png"))
