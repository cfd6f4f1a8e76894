"""The mistakes a network makes: the test pictures it gets most confidently wrong (highest loss,
as fastai's `plot_top_losses`), and the pairs of classes it confuses most, with examples."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from classicnets.analysis.evaluation import confusion_matrix
from classicnets.analysis.predict import probabilities
from classicnets.data.split import Split
from classicnets.training.checkpoint import LoadedRun


@dataclass
class Mistake:
    index: int  # in the test split
    true: str
    predicted: str
    probability: float  # of the predicted class
    true_probability: float
    loss: float  # cross-entropy: -ln(probability of the true class)


@dataclass
class ConfusedPair:
    true: str
    predicted: str
    count: int  # test pictures of `true` classified as `predicted`
    examples: list[int]  # some of them: indices in the test split, the most confident first


@dataclass
class Mistakes:
    count: int  # test pictures looked at
    wrong: int
    worst: list[Mistake]
    pairs: list[ConfusedPair]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_mistakes(
    run: LoadedRun, test: Split, *, top: int = 16, pairs: int = 4, per_pair: int = 6
) -> Mistakes:
    """The `top` test pictures with the highest loss, and the `pairs` most confused (true,
    predicted) pairs of classes with up to `per_pair` examples each, classified as the run
    classifies (its precision, its flips)."""
    names = run.class_names
    probs = probabilities(run, test.images)
    true = test.labels.long()
    predicted = probs.argmax(1)
    true_probability = probs.gather(1, true[:, None])[:, 0]
    loss = -true_probability.clamp(min=1e-12).log()
    wrong = torch.nonzero(predicted != true).flatten()
    worst = wrong[loss[wrong].argsort(descending=True)[:top]]
    confusion = confusion_matrix(predicted, true, len(names)).fill_diagonal_(0)
    ranked = confusion.flatten().argsort(descending=True)[:pairs]
    found = []
    for cell in ranked.tolist():
        t, p = divmod(cell, len(names))
        if confusion[t, p] == 0:
            break
        members = torch.nonzero((true == t) & (predicted == p)).flatten()
        members = members[probs[members, p].argsort(descending=True)[:per_pair]]
        found.append(
            ConfusedPair(
                true=names[t], predicted=names[p], count=int(confusion[t, p]), examples=members.tolist()
            )
        )
    return Mistakes(
        count=len(true),
        wrong=len(wrong),
        pairs=found,
        worst=[
            Mistake(
                index=int(i),
                true=names[int(true[i])],
                predicted=names[int(predicted[i])],
                probability=float(probs[i, predicted[i]]),
                true_probability=float(true_probability[i]),
                loss=float(loss[i]),
            )
            for i in worst
        ],
    )
