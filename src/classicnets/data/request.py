"""What a run asks for from its data (`DataRequest`): which data set, where a named one is, and
how a folder of pictures is read. No PyTorch here: configurations are checked with it before
anything is loaded."""

from __future__ import annotations

from dataclasses import dataclass

from classicnets.errors import DataError
from classicnets.inputs import InputSpec, check_dataset_name, user_kind


@dataclass(frozen=True)
class DataRequest:
    dataset: str = "fashion-mnist"  # a catalog name, "folder:PATH" or "npz:FILE"
    data_dir: str | None = None  # where a named data set is (else the search order)
    mirror: str | None = None  # where a named data set is downloaded from (else its own mirrors)
    channels: int | None = (
        None  # a folder's pictures as 1 (grey) or 3 (colour) channels; None: from the pictures
    )
    image_size: int | None = (
        None  # a folder's pictures resized to this side; None: their own (one square size)
    )
    test_fraction: float = 0.2  # the share of each class a folder without train/ and test/ holds out
    strict: bool = False  # a folder's unreadable file is an error, not skipped

    def __post_init__(self) -> None:
        check_dataset_name(self.dataset)
        kind = user_kind(self.dataset)
        if kind != "folder" and (self.channels is not None or self.image_size is not None or self.strict):
            raise DataError(
                f"--channels, --image-size and --strict choose how a folder of pictures is read; "
                f"{self.dataset} has fixed images"
            )
        if kind is not None and self.data_dir is not None:
            raise DataError(
                f"--data-dir says where a named data set is; {self.dataset} says where it is itself"
            )
        if self.channels not in (None, 1, 3):
            raise DataError(f"--channels {self.channels}: expected 1 (grey) or 3 (colour)")
        if not 0.0 < self.test_fraction <= 0.9:
            raise DataError(
                f"--test-fraction {self.test_fraction}: expected a share of each class above 0 and at most 0.9"
            )

    @classmethod
    def of_run(cls, spec: InputSpec) -> DataRequest:
        """The request that reads the data a run was fed again, as it was read then."""
        if user_kind(spec.dataset) == "folder":
            return cls(
                spec.dataset,
                channels=spec.channels,
                image_size=spec.native_size,
                test_fraction=spec.test_fraction or 0.2,
            )
        return cls(spec.dataset)
