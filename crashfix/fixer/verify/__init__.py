"""Building and testing what the model wrote, and turning the output into diagnostics it can repair from."""
