import pytest
import torch

from classicnets.data import BatchConfig, BatchIterator, Split, split_validation
from classicnets.data.batches import random_crop, random_flip
from classicnets.errors import DataError


@pytest.fixture(scope="module")
def small(fashion):
    return fashion.train.head(1000)


def _epoch(iterator, epoch, start=0):
    return list(iterator.iter_epoch(epoch, start))


def test_same_seed_same_batches_and_epochs_differ(small):
    config = BatchConfig(batch_size=128, shuffle=True, seed=3)
    a, b = BatchIterator(small, config), BatchIterator(small, config)
    first, again = _epoch(a, 0), _epoch(b, 0)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(first, again))
    assert not torch.equal(_epoch(a, 1)[0][1], first[0][1])
    assert torch.equal(torch.sort(torch.cat([y for _, y in first])).values, torch.sort(small.labels).values)


def test_without_shuffle_the_order_is_the_files_order(small):
    batches = _epoch(BatchIterator(small, BatchConfig(batch_size=300)), 0)
    assert [len(y) for _, y in batches] == [300, 300, 300, 100]
    assert torch.equal(torch.cat([y for _, y in batches]), small.labels)


def test_normalisation_and_float_conversion(small):
    x, _ = next(iter(BatchIterator(small, BatchConfig(batch_size=10, mean=0.5, std=0.5))))
    expected = (small.images[:10].float() / 255 - 0.5) / 0.5
    assert x.shape == (10, 1, 28, 28) and x.dtype == torch.float32
    torch.testing.assert_close(x, expected)


def test_resize_is_bilinear_to_any_size(small):
    for size in (96, 224, 17):
        x, _ = next(iter(BatchIterator(small, BatchConfig(batch_size=4, resize=size, mean=0.0, std=1.0))))
        assert x.shape == (4, 1, size, size)
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0 + 1e-6
    # Upsampling by an integer factor keeps the mean brightness of the image.
    x, _ = next(iter(BatchIterator(small, BatchConfig(batch_size=4, resize=56, mean=0.0, std=1.0))))
    torch.testing.assert_close(
        x.mean(dim=(1, 2, 3)), small.images[:4].float().div(255).mean(dim=(1, 2, 3)), atol=2e-3, rtol=0
    )


def test_channels_last_and_dtype(small):
    config = BatchConfig(batch_size=8, resize=32, channels_last=True, dtype=torch.bfloat16)
    x, _ = next(iter(BatchIterator(small, config)))
    assert x.dtype == torch.bfloat16 and x.is_contiguous(memory_format=torch.channels_last)


def test_random_crop_moves_content_and_pads_with_zeros(small):
    images = small.images[:64]
    cropped = random_crop(images, 4, torch.Generator().manual_seed(0))
    assert cropped.shape == images.shape and cropped.dtype == torch.uint8
    assert not torch.equal(cropped, images)
    # Each crop is a window of the padded image: total brightness can only drop (cut off) or stay.
    assert bool((cropped.sum(dim=(1, 2, 3)) <= images.sum(dim=(1, 2, 3))).all())


def test_colour_crops_and_flips_move_every_channel_alike(small):
    grey = small.images[:32]
    colour = torch.cat([grey, 255 - grey, grey // 2], dim=1)
    for augment in (lambda x, g: random_crop(x, 3, g), random_flip):
        one, three = (
            augment(grey, torch.Generator().manual_seed(7)),
            augment(colour, torch.Generator().manual_seed(7)),
        )
        assert torch.equal(three[:, :1], one)
        # Padding is zero in every channel; elsewhere the channels keep their relation.
        assert torch.equal(three[:, 2], one[:, 0] // 2)


def test_per_channel_normalisation(small):
    colour = Split(torch.cat([small.images[:8]] * 3, dim=1), small.labels[:8])
    config = BatchConfig(batch_size=8, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 0.125))
    x, _ = next(iter(BatchIterator(colour, config)))
    pixels = small.images[:8, 0].float() / 255
    for c, (m, s) in enumerate(zip(config.mean, config.std)):
        torch.testing.assert_close(x[:, c], (pixels - m) / s)


def test_augmentation_is_deterministic_per_epoch_and_resume_gives_the_rest(small):
    config = BatchConfig(batch_size=100, shuffle=True, seed=1, crop_padding=2, flip=True)
    full = _epoch(BatchIterator(small, config), 4)
    resumed = _epoch(BatchIterator(small, config), 4, start=6)
    assert len(resumed) == len(full) - 6
    assert all(torch.equal(a[0], b[0]) for a, b in zip(full[6:], resumed))


def test_ranks_take_disjoint_shards_of_the_same_permutation(small):
    config = BatchConfig(batch_size=64, shuffle=True, seed=5)
    orders = [BatchIterator(small, config, rank=r, world_size=3).epoch_order(2) for r in range(3)]
    assert all(len(o) == 334 for o in orders)  # 1000 padded to 1002, like DistributedSampler
    assert set(torch.cat(orders).tolist()) == set(range(1000))
    assert len(BatchIterator(small, config, rank=0, world_size=3)) == 6


def test_drop_last(small):
    assert len(BatchIterator(small, BatchConfig(batch_size=300, drop_last=True))) == 3


def test_bad_configuration_is_a_clear_error(small):
    with pytest.raises(DataError, match="batch size must be at least 1"):
        BatchConfig(batch_size=0)
    with pytest.raises(DataError, match="rank 3 is outside 0..1"):
        BatchIterator(small, BatchConfig(), rank=3, world_size=2)
    with pytest.raises(DataError, match="limit must be a positive"):
        small.head(0)


def test_validation_split_is_deterministic_and_disjoint(fashion):
    train, val = split_validation(fashion.train, 5000, seed=0)
    train2, val2 = split_validation(fashion.train, 5000, seed=0)
    assert len(train) == 55000 and len(val) == 5000
    assert torch.equal(val.labels, val2.labels) and torch.equal(train.images[:5], train2.images[:5])
    _, other = split_validation(fashion.train, 0.1, seed=1)
    assert len(other) == 6000 and not torch.equal(other.labels[:100], val.labels[:100])
    with pytest.raises(DataError, match="must leave both parts non-empty"):
        split_validation(fashion.train, 60000)
