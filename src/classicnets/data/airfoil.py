"""The NASA airfoil self-noise data that d2l's optimization chapter fits a linear model to
(`get_data_ch7`): 1,503 measurements of 5 features and the sound pressure level; d2l
standardises every column over all rows and keeps the first 1,500.

A copy ships inside the package (58 KB, CC BY 4.0; see files/AIRFOIL-LICENSE.txt), checked
against its SHA-256 on every load.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import torch

from classicnets.errors import DataError

AIRFOIL_SHA256 = "10ee06e6cfb27dae6b44213d421d217012fb1f9b697592e73a4e4016b52d425f"
AIRFOIL_SOURCE = (
    "NASA airfoil self-noise (Brooks, Pope & Marcolini), UCI Machine Learning Repository, "
    "CC BY 4.0: first 1,500 rows, 5 features, every column standardised as d2l's get_data_ch7"
)


def load_airfoil(rows: int = 1500) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (rows, 5), labels (rows,)) as float32, standardised the book's way."""
    raw = resources.files("classicnets.data").joinpath("files/airfoil_self_noise.dat").read_bytes()
    if hashlib.sha256(raw).hexdigest() != AIRFOIL_SHA256:
        raise DataError(
            "the packaged airfoil_self_noise.dat is damaged (its SHA-256 does not match): reinstall classicnets"
        )
    table = np.loadtxt(raw.decode("ascii").splitlines(), delimiter="\t")
    table = (table - table.mean(axis=0)) / table.std(axis=0)
    data = torch.from_numpy(table[:rows]).float()
    return data[:, :-1], data[:, -1]
