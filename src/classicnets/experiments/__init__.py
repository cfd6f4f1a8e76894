"""The experiments that teach the networks (seeds 003 and 004): each is a function that
returns its numbers and draws its figure, and a command that writes NAME.png and NAME.json."""
