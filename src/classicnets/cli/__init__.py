"""The `classicnets` command line."""
