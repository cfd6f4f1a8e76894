"""The networks of the zoo by name, in the book's order, without PyTorch: the command line's
`--help` and its usage errors read them before (or without) building anything. Each model
module registers a builder under its name (`models.registry`), and importing `classicnets.models`
checks that the registry and this list agree."""

NAMES: tuple[str, ...] = (
    "mlp",
    "tiny_cnn",
    "lenet",
    "lenet_bn",
    "alexnet",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "nin",
    "googlenet",
    "resnet18",
    "resnet34",
    "densenet",
)
