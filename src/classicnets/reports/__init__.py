"""Pictures and tables made from data, models and runs."""
