"""The one function that loads what a run asks for (`DataRequest`), whichever kind of data set
it names: a named one (found, downloaded, verified), a folder of pictures or arrays."""

from __future__ import annotations

import warnings

from classicnets.data.named import Data, load_dataset
from classicnets.data.request import DataRequest
from classicnets.errors import ClassicnetsWarning, DataError
from classicnets.inputs import InputSpec, get_dataset, user_kind

_LOADED: dict[DataRequest, Data] = {}  # within a process, a user's data set is read once


def _load_user(request: DataRequest, show_progress: bool) -> Data:
    if request in _LOADED:
        return _LOADED[request]
    if len(_LOADED) >= 4:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[request] = _read_user(request, show_progress)
    return _LOADED[request]


def _read_user(request: DataRequest, show_progress: bool) -> Data:
    kind, _, where = request.dataset.partition(":")
    if kind == "folder":
        from classicnets.data.folder import load_folder

        return load_folder(
            where,
            channels=request.channels,
            image_size=request.image_size,
            test_fraction=request.test_fraction,
            strict=request.strict,
            show_progress=show_progress,
        )
    from classicnets.data.arrays import load_npz

    return load_npz(where)


def load_data(request: DataRequest, *, show_progress: bool = True, download: bool = True) -> Data:
    """The data set `request` names, loaded (and within a process, loaded once)."""
    if user_kind(request.dataset) is not None:
        return _load_user(request, show_progress)
    if not get_dataset(request.dataset).images:
        raise DataError(f"{request.dataset} is built in: it has no files to load")
    return load_dataset(
        request.dataset,
        request.data_dir,
        mirror_url=request.mirror,
        download=download,
        show_progress=show_progress,
    )


def data_for_run(
    spec: InputSpec, *, dataset: str | None = None, data_dir: str | None = None, show_progress: bool = True
) -> Data:
    """The data a run was fed, read as it was then; or, with `dataset`, another data set with
    the same classes, its pictures read to the run's channels and side."""
    if dataset is None:
        request = DataRequest.of_run(spec)
    else:
        folder = user_kind(dataset) == "folder"
        request = DataRequest(
            dataset,
            channels=spec.channels if folder else None,
            image_size=spec.native_size if folder else None,
        )
    if data_dir is not None:
        request = DataRequest(request.dataset, data_dir=data_dir)
    data = load_data(request, show_progress=show_progress)
    info = data.info
    if info.class_names != spec.class_names:
        raise DataError(
            f"{request.dataset}'s classes {list(info.class_names)[:4]}... are not the run's "
            f"{list(spec.class_names)[:4]}...: a network classifies only the classes it was trained on"
        )
    if (info.channels, info.native_size) != (spec.channels, spec.native_size):
        raise DataError(
            f"{request.dataset} has {info.channels}-channel {info.native_size} px images; the run was "
            f"trained on {spec.channels}-channel {spec.native_size} px ones"
        )
    if dataset is None and spec.fingerprint and data.fingerprint != spec.fingerprint:
        warnings.warn(
            f"{spec.dataset} has changed since the run was trained (files added, removed or modified): "
            "its test split is not the one the run's own accuracy was measured on",
            ClassicnetsWarning,
            stacklevel=2,
        )
    return data
